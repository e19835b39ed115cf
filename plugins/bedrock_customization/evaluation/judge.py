"""LLM-as-judge through the Bedrock Converse API: both models' answers side by side, in both orders.

The judge model gets the question, the reference answer in ``<reference>`` tags and two answers labelled
neutrally, ``<response_a>`` and ``<response_b>``, and must call the tool ``record_scores``, whose input schema
holds an object of integer scores 1-10 (correctness, completeness, helpfulness) for each response and a string
rationale; ``toolChoice`` forces that tool, so the scores arrive as structured data rather than prose to parse.
The system prompt and the schema's descriptions are the written rubric (:data:`RUBRIC`).

Each sample is judged twice, the second time with the answers swapped: a model's score on a sample is the mean of
its two scores, which cancels a judge's preference for the first (or the second) position. How often the judge's
verdict (which answer is better, or a tie) changed with the order is the position-bias figure
(:func:`judge_summary`).

Nothing here talks to AWS: :func:`judge_metric` takes a ``converse`` callable with the signature of boto3's
``bedrock-runtime`` ``converse(**request)`` (the operator passes one that retries throttling).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from bedrock_customization.evaluation.errors import EvaluationError, RetriesExhaustedError
from bedrock_customization.evaluation.invoke import error_code
from bedrock_customization.evaluation.metrics import Metric, Score, register_metric

__all__ = [
    "CRITERIA",
    "POSITIONS",
    "RUBRIC",
    "TOOL_NAME",
    "JudgeError",
    "Judgement",
    "Verdict",
    "judge_both_orders",
    "judge_details",
    "judge_metric",
    "judge_request",
    "judge_summary",
    "parse_judgement",
]

TOOL_NAME = "record_scores"
CRITERIA = ("correctness", "completeness", "helpfulness")
#: The tool input's key for each answer, which is also its tag in the prompt, and its label for the judge.
POSITIONS = {"response_a": "Response A", "response_b": "Response B"}
SCORE_MIN, SCORE_MAX = 1, 10
DEFAULT_INFERENCE_CONFIG = {"maxTokens": 1024, "temperature": 0.0}
#: Models that take a forced tool choice in Converse (API reference, ToolChoice: "tool ... Only supported by
#: Anthropic Claude 3 and Amazon Nova models").
JUDGE_MODELS_HINT = "Anthropic Claude 3 or later, or Amazon Nova (e.g. amazon.nova-pro-v1:0)"

Converse = Callable[..., Mapping[str, Any]]

RUBRIC = (
    "You compare two answers an AI assistant gave to the same question. You receive the user's question, a "
    "reference answer that is correct by definition, and two responses labelled Response A and Response B. "
    f"Score each response on each criterion with an integer from {SCORE_MIN} (worst) to {SCORE_MAX} (best) "
    f"and record the scores with the {TOOL_NAME} tool: response_a for Response A, response_b for Response B.\n"
    "- correctness: every fact in the response agrees with the reference; invented or changed facts "
    "score low.\n"
    "- completeness: the response contains everything the reference says that the question asks for.\n"
    "- helpfulness: the response answers the question directly and clearly.\n"
    "Judge content, not length, tone or language; a short response that keeps the reference's facts can "
    "score the maximum. The order of the two responses is arbitrary and says nothing about their quality: "
    "score each as if you had read it first, and give responses of equal quality equal scores. In the "
    "rationale, say which facts of the reference each response keeps, misses or changes, and why one scores "
    "higher than the other."
)

_DESCRIPTIONS = {
    "correctness": "Do the response's facts agree with the reference answer?",
    "completeness": "Does the response cover what the reference answer says?",
    "helpfulness": "Does the response answer the question directly and usefully?",
}

PROBE_QUESTION = "What colour is a clear daytime sky?"
PROBE_REFERENCE = "A clear daytime sky is blue."
PROBE_OTHER = "Please ask a weather service."


class JudgeError(EvaluationError):
    """The judge model's reply could not be read as scores."""


@dataclass(frozen=True)
class Verdict:
    """The judge's scores for one response in one judgement."""

    correctness: int
    completeness: int
    helpfulness: int

    @property
    def overall(self) -> float:
        """Mean of the three criteria (1-10)."""
        return round(fmean(self.scores().values()), 4)

    def scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in CRITERIA}


@dataclass(frozen=True)
class Judgement:
    """One call's verdicts: the scores of Response A and of Response B, and the judge's reasons."""

    response_a: Verdict
    response_b: Verdict
    rationale: str

    def verdict(self, position: str) -> Verdict:
        return self.response_a if position == "response_a" else self.response_b


def tool_config() -> dict[str, Any]:
    """Converse ``toolConfig``: the ``record_scores`` tool, forced through ``toolChoice``."""
    criteria: dict[str, Any] = {
        name: {
            "type": "integer",
            "minimum": SCORE_MIN,
            "maximum": SCORE_MAX,
            "description": _DESCRIPTIONS[name],
        }
        for name in CRITERIA
    }
    properties: dict[str, Any] = {
        key: {
            "type": "object",
            "description": f"The scores of {label}.",
            "properties": criteria,
            "required": list(CRITERIA),
        }
        for key, label in POSITIONS.items()
    }
    properties["rationale"] = {
        "type": "string",
        "description": "Two to four sentences: which facts of the reference each response keeps, misses or "
        "changes, and why one scores higher than the other.",
    }
    return {
        "tools": [
            {
                "toolSpec": {
                    "name": TOOL_NAME,
                    "description": "Record the scores given to Response A and Response B, and why.",
                    "inputSchema": {
                        "json": {
                            "type": "object",
                            "properties": properties,
                            "required": [*POSITIONS, "rationale"],
                        }
                    },
                }
            }
        ],
        "toolChoice": {"tool": {"name": TOOL_NAME}},
    }


def judge_prompt(question: str, reference: str, response_a: str, response_b: str) -> str:
    """The user turn sent to the judge."""
    return (
        f"<question>\n{question}\n</question>\n\n"
        f"<reference>\n{reference}\n</reference>\n\n"
        f"<response_a>\n{response_a}\n</response_a>\n\n"
        f"<response_b>\n{response_b}\n</response_b>\n\n"
        f"Score Response A and Response B and record the scores with the {TOOL_NAME} tool."
    )


def judge_request(
    model_id: str,
    question: str,
    reference: str,
    response_a: str,
    response_b: str,
    inference_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``converse`` asking ``model_id`` to grade two responses side by side."""
    prompt = judge_prompt(question, reference, response_a, response_b)
    return {
        "modelId": model_id,
        "system": [{"text": RUBRIC}],
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "inferenceConfig": dict(inference_config or DEFAULT_INFERENCE_CONFIG),
        "toolConfig": tool_config(),
    }


def parse_judgement(reply: Mapping[str, Any]) -> Judgement:
    """The :class:`Judgement` in a Converse reply's ``record_scores`` toolUse block; :class:`JudgeError`
    otherwise."""
    content = ((reply.get("output") or {}).get("message") or {}).get("content") or []
    for block in content:
        tool_use = block.get("toolUse") if isinstance(block, Mapping) else None
        if isinstance(tool_use, Mapping) and tool_use.get("name") == TOOL_NAME:
            return _judgement(tool_use.get("input"))
    said = " ".join(str(block.get("text", "")) for block in content if isinstance(block, Mapping)).strip()
    raise JudgeError(
        f"The judge did not call the {TOOL_NAME} tool (stopReason {reply.get('stopReason')!r}); "
        f"it replied: {said[:200]!r}. Use a judge model that supports forced tool use in Converse "
        f"(toolChoice 'tool'): {JUDGE_MODELS_HINT}."
    )


def _judgement(raw: Any) -> Judgement:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise JudgeError(f"The {TOOL_NAME} input is not JSON: {raw[:200]!r}") from err
    if not isinstance(raw, Mapping):
        raise JudgeError(f"The {TOOL_NAME} input is not an object: {raw!r}")
    problems: list[str] = []
    verdicts: dict[str, Verdict] = {}
    for key in POSITIONS:
        scores = raw.get(key)
        if not isinstance(scores, Mapping):
            problems.append(f"{key}={scores!r} is not an object of scores")
            continue
        values = {name: _integer(scores.get(name)) for name in CRITERIA}
        bad = [
            f"{key}.{name}={scores.get(name)!r} is not an integer from {SCORE_MIN} to {SCORE_MAX}"
            for name, value in values.items()
            if value is None or not SCORE_MIN <= value <= SCORE_MAX
        ]
        problems += bad
        if not bad:
            verdicts[key] = Verdict(**values)  # type: ignore[arg-type]
    if problems:
        raise JudgeError(f"The judge's {TOOL_NAME} input is invalid: {'; '.join(problems)}")
    rationale = raw.get("rationale")
    return Judgement(
        verdicts["response_a"],
        verdicts["response_b"],
        rationale.strip() if isinstance(rationale, str) else "",
    )


def _integer(value: Any) -> int | None:
    """An integral int, float or numeric string as int; None otherwise (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _outcome(own: Verdict, other: Verdict) -> str:
    if own.overall > other.overall:
        return "better"
    return "worse" if own.overall < other.overall else "tie"


def combine(first: Judgement, second: Judgement) -> tuple[Score, Score]:
    """Two answers' scores from the judgement with the first answer as Response A and the one with it as
    Response B: each criterion's mean over both orders, and per order the scores, verdict and reasons."""
    placed = (  # (judgement, the first answer's position, the second answer's position)
        (first, "response_a", "response_b"),
        (second, "response_b", "response_a"),
    )
    results = []
    for answer in (0, 1):
        orders = []
        for judgement, *positions in placed:
            own, other = judgement.verdict(positions[answer]), judgement.verdict(positions[1 - answer])
            orders.append(
                {
                    "position": POSITIONS[positions[answer]],
                    **own.scores(),
                    "overall": own.overall,
                    "outcome": _outcome(own, other),
                    "rationale": judgement.rationale,
                }
            )
        means = {name: round(fmean(order[name] for order in orders), 4) for name in CRITERIA}
        overall = round(fmean(order["overall"] for order in orders), 4)
        details = {
            **means,
            "overall": overall,
            "orders": orders,
            "order_flipped": orders[0]["outcome"] != orders[1]["outcome"],
        }
        results.append(Score(overall, details))
    return results[0], results[1]


def judge_both_orders(
    converse: Converse,
    model_id: str,
    question: str,
    reference: str,
    first: str,
    second: str,
    inference_config: Mapping[str, Any] | None = None,
) -> tuple[Score, Score]:
    """Ask the judge twice, ``first`` as Response A then as Response B; both answers' combined scores."""
    judgements = [
        parse_judgement(converse(**judge_request(model_id, question, reference, a, b, inference_config)))
        for a, b in ((first, second), (second, first))
    ]
    return combine(*judgements)


def _probe(converse: Converse, model_id: str, inference_config: Mapping[str, Any] | None) -> None:
    """One small judgement, so that a refused, unknown or unsuitable judge fails before any model is asked."""
    fix = f"or set judge_model_id to a model that supports forced tool use in Converse: {JUDGE_MODELS_HINT}"
    request = judge_request(
        model_id, PROBE_QUESTION, PROBE_REFERENCE, PROBE_REFERENCE, PROBE_OTHER, inference_config
    )
    try:
        parse_judgement(converse(**request))
    except JudgeError as err:
        raise JudgeError(f"The judge model {model_id} failed its preflight judgement: {err}") from err
    except RetriesExhaustedError:
        raise
    except Exception as exc:
        code = error_code(exc) or (error_code(exc.__cause__) if exc.__cause__ is not None else None)
        if code == "AccessDeniedException":
            raise EvaluationError(
                f"The LLM judge cannot use {model_id}: access denied ({exc}). Allow bedrock:InvokeModel on "
                f"{model_id} for the worker's role and make sure the model is available to the account in "
                f"this region, {fix}."
            ) from exc
        if code in ("ValidationException", "ResourceNotFoundException"):
            raise EvaluationError(
                f"The LLM judge cannot use {model_id} ({exc}). Check the model id and that the region serves "
                f"it on demand (some models need an inference profile id such as us.<model id>), {fix}."
            ) from exc
        raise


def judge_metric(
    *,
    converse: Converse | None = None,
    model_id: str | None = None,
    inference_config: Mapping[str, Any] | None = None,
    max_workers: int = 1,
    preflight: bool = True,
) -> Metric:
    """The ``llm_judge`` metric (paired): each model's mean of the judge's three scores (1-10) over both answer
    orders; details hold the per-criterion means and, per order, the position, scores, verdict and reasons.

    :param converse: bedrock-runtime ``converse``, or a callable with its signature.
    :param model_id: The judge model.
    :param inference_config: Converse ``inferenceConfig`` of the judge. (default ``maxTokens`` 1024,
        ``temperature`` 0)
    :param max_workers: Judge calls in flight at once. (default 1)
    :param preflight: Send one small judgement now, so that a refused or unsuitable judge fails before any
        other model is asked. (default True)
    """
    if converse is None or not model_id:
        raise EvaluationError(
            "The 'llm_judge' metric needs a judge model: set judge_model_id (and a converse callable)"
        )
    if preflight:
        _probe(converse, model_id, inference_config)

    def paired(
        first: Sequence[str], second: Sequence[str], references: Sequence[str], prompts: Sequence[str]
    ) -> tuple[list[Score], list[Score]]:
        def one(i: int) -> tuple[Score, Score]:
            return judge_both_orders(
                converse, model_id, prompts[i], references[i], first[i], second[i], inference_config
            )

        if max_workers <= 1:
            pairs = [one(i) for i in range(len(first))]
        else:
            with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="llm-judge") as pool:
                pairs = list(pool.map(one, range(len(first))))
        return [pair[0] for pair in pairs], [pair[1] for pair in pairs]

    return Metric(
        "llm_judge",
        "LLM judge",
        float(SCORE_MAX),
        None,
        f"LLM-as-judge with {model_id}, both answer orders",
        paired=paired,
    )


def judge_details(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Each model's ``llm_judge`` score details, sample by sample, from scored rows (``compare.score_rows``)."""
    details: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        for role, scores in (row.get("details") or {}).items():
            if "llm_judge" in scores:
                details.setdefault(role, []).append(scores["llm_judge"])
    return details


def judge_summary(details: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """The judge's figures over all samples, from each model's ``llm_judge`` score details (keyed by role):
    each model's mean per criterion and overall, the samples whose verdict changed when the answers swapped
    places (``order_flips``, ``order_flip_rate``: the position-bias figure) and the rubric."""
    roles = list(details)
    samples = len(details[roles[0]]) if roles else 0
    flips = sum(1 for item in details[roles[0]] if item.get("order_flipped")) if roles else 0
    means = {
        role: {
            name: round(fmean(item[name] for item in items), 4) if items else None
            for name in (*CRITERIA, "overall")
        }
        for role, items in details.items()
    }
    return {
        "criteria": means,
        "samples": samples,
        "order_flips": flips,
        "order_flip_rate": round(flips / samples, 4) if samples else None,
        "orders": "each sample judged twice, the answers swapped the second time; a model's score is the "
        "mean over both orders",
        "rubric": RUBRIC,
    }


register_metric("llm_judge", judge_metric)
