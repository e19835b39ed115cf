"""LLM-as-judge through the Bedrock Converse API with a forced tool call.

The judge model gets the question, the reference answer in ``<reference>`` tags and the model's answer in
``<response>`` tags, and must call the tool ``record_scores`` whose input schema holds integer scores 1-10 for
correctness, completeness and helpfulness and a string rationale; ``toolChoice`` forces that tool, so the scores
arrive as structured data rather than prose to parse.

Nothing here talks to AWS: :func:`judge` takes a ``converse`` callable with the signature of boto3's
``bedrock-runtime`` ``converse(**request)`` (the operator passes one that retries throttling).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.metrics import Metric, Score, register_metric

__all__ = [
    "CRITERIA",
    "TOOL_NAME",
    "JudgeError",
    "Verdict",
    "judge",
    "judge_metric",
    "judge_request",
    "parse_verdict",
]

TOOL_NAME = "record_scores"
CRITERIA = ("correctness", "completeness", "helpfulness")
SCORE_MIN, SCORE_MAX = 1, 10
DEFAULT_INFERENCE_CONFIG = {"maxTokens": 512, "temperature": 0.0}

Converse = Callable[..., Mapping[str, Any]]

_SYSTEM = (
    "You grade answers given by an AI assistant. You receive a user's question, a reference answer that is "
    "correct by definition, and the assistant's response. Score the response on each criterion with an integer "
    f"from {SCORE_MIN} (worst) to {SCORE_MAX} (best) and record the scores with the {TOOL_NAME} tool.\n"
    "- correctness: every fact in the response agrees with the reference; invented or changed facts "
    "score low.\n"
    "- completeness: the response contains everything the reference says that the question asks for.\n"
    "- helpfulness: the response answers the question directly and clearly.\n"
    "Judge content, not length, tone or language; a short response that keeps the reference's facts can "
    "score the maximum."
)

_DESCRIPTIONS = {
    "correctness": "Do the response's facts agree with the reference answer?",
    "completeness": "Does the response cover what the reference answer says?",
    "helpfulness": "Does the response answer the question directly and usefully?",
}


class JudgeError(EvaluationError):
    """The judge model's reply could not be read as scores."""


@dataclass(frozen=True)
class Verdict:
    """The judge's scores for one response."""

    correctness: int
    completeness: int
    helpfulness: int
    rationale: str

    @property
    def overall(self) -> float:
        """Mean of the three criteria (1-10)."""
        return round((self.correctness + self.completeness + self.helpfulness) / 3, 4)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "overall": self.overall}


def tool_config() -> dict[str, Any]:
    """Converse ``toolConfig``: the ``record_scores`` tool, forced through ``toolChoice``."""
    properties: dict[str, Any] = {
        name: {
            "type": "integer",
            "minimum": SCORE_MIN,
            "maximum": SCORE_MAX,
            "description": _DESCRIPTIONS[name],
        }
        for name in CRITERIA
    }
    properties["rationale"] = {"type": "string", "description": "One or two sentences explaining the scores."}
    return {
        "tools": [
            {
                "toolSpec": {
                    "name": TOOL_NAME,
                    "description": "Record the scores given to the assistant's response.",
                    "inputSchema": {
                        "json": {
                            "type": "object",
                            "properties": properties,
                            "required": [*CRITERIA, "rationale"],
                        }
                    },
                }
            }
        ],
        "toolChoice": {"tool": {"name": TOOL_NAME}},
    }


def judge_prompt(question: str, reference: str, response: str) -> str:
    """The user turn sent to the judge."""
    return (
        f"<question>\n{question}\n</question>\n\n"
        f"<reference>\n{reference}\n</reference>\n\n"
        f"<response>\n{response}\n</response>\n\n"
        f"Score the response and record the scores with the {TOOL_NAME} tool."
    )


def judge_request(
    model_id: str,
    question: str,
    reference: str,
    response: str,
    inference_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``converse`` asking ``model_id`` to grade ``response``."""
    return {
        "modelId": model_id,
        "system": [{"text": _SYSTEM}],
        "messages": [{"role": "user", "content": [{"text": judge_prompt(question, reference, response)}]}],
        "inferenceConfig": dict(inference_config or DEFAULT_INFERENCE_CONFIG),
        "toolConfig": tool_config(),
    }


def parse_verdict(reply: Mapping[str, Any]) -> Verdict:
    """The :class:`Verdict` in a Converse reply's ``record_scores`` toolUse block; :class:`JudgeError` otherwise."""
    content = ((reply.get("output") or {}).get("message") or {}).get("content") or []
    for block in content:
        tool_use = block.get("toolUse") if isinstance(block, Mapping) else None
        if isinstance(tool_use, Mapping) and tool_use.get("name") == TOOL_NAME:
            return _verdict(tool_use.get("input"))
    said = " ".join(str(block.get("text", "")) for block in content if isinstance(block, Mapping)).strip()
    raise JudgeError(
        f"The judge did not call the {TOOL_NAME} tool (stopReason {reply.get('stopReason')!r}); "
        f"it replied: {said[:200]!r}. Use a judge model that supports forced tool use in Converse "
        "(toolChoice 'tool'), such as Anthropic Claude 3 or later or Amazon Nova."
    )


def _verdict(raw: Any) -> Verdict:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise JudgeError(f"The {TOOL_NAME} input is not JSON: {raw[:200]!r}") from err
    if not isinstance(raw, Mapping):
        raise JudgeError(f"The {TOOL_NAME} input is not an object: {raw!r}")
    problems, scores = [], {}
    for name in CRITERIA:
        value = _integer(raw.get(name))
        if value is None or not SCORE_MIN <= value <= SCORE_MAX:
            problems.append(f"{name}={raw.get(name)!r} is not an integer from {SCORE_MIN} to {SCORE_MAX}")
        else:
            scores[name] = value
    if problems:
        raise JudgeError(f"The judge's {TOOL_NAME} input is invalid: {'; '.join(problems)}")
    rationale = raw.get("rationale")
    return Verdict(**scores, rationale=rationale.strip() if isinstance(rationale, str) else "")


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


def judge(
    converse: Converse,
    model_id: str,
    question: str,
    reference: str,
    response: str,
    inference_config: Mapping[str, Any] | None = None,
) -> Verdict:
    """Ask the judge model to grade ``response`` against ``reference``."""
    return parse_verdict(converse(**judge_request(model_id, question, reference, response, inference_config)))


def judge_metric(
    *,
    converse: Converse | None = None,
    model_id: str | None = None,
    inference_config: Mapping[str, Any] | None = None,
    max_workers: int = 1,
) -> Metric:
    """The ``llm_judge`` metric: mean of the judge's three scores (1-10); details hold each score and the rationale."""
    if converse is None or not model_id:
        raise EvaluationError(
            "The 'llm_judge' metric needs a judge model: set judge_model_id (and a converse callable)"
        )

    def score(responses: Sequence[str], references: Sequence[str], prompts: Sequence[str]) -> list[Score]:
        def one(index: int) -> Score:
            verdict = judge(
                converse, model_id, prompts[index], references[index], responses[index], inference_config
            )
            return Score(verdict.overall, verdict.as_dict())

        indices = range(len(responses))
        if max_workers <= 1:
            return [one(i) for i in indices]
        with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="llm-judge") as pool:
            return list(pool.map(one, indices))

    return Metric("llm_judge", "LLM judge", float(SCORE_MAX), score, f"LLM-as-judge with {model_id}")


register_metric("llm_judge", judge_metric)
