"""Reference-based metrics and the registry that names them.

Built in: ``rouge_l`` (ROUGE-L F-measure, 0-1, rouge-score with a CJK-aware tokenizer), ``chrf`` (sentence chrF,
0-100, sacrebleu; character n-grams, so language-agnostic), ``exact_match`` (0 or 1 after
:func:`~bedrock_customization.evaluation.text.normalize_answer`) and ``bertscore`` (BERTScore F1, 0-1; needs the
optional package ``bert-score`` and its model available locally). The judge module registers ``llm_judge``, the
semantic module ``semantic`` (cosine of Bedrock embeddings, 0-1).

A metric scores a batch: ``metric.score(responses, references, prompts)`` returns one :class:`Score` per sample.
A paired metric (the LLM judge, which sees both models' answers side by side) scores two models at once:
``metric.score_pair(first, second, references, prompts)``, which every metric answers (the others score each
model alone).
Extras plug in with :func:`register_metric`, which takes a factory so that a metric can have options
(``create_metric("bertscore", model_type="/models/xlm-roberta-large", num_layers=17)``).
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from statistics import fmean
from typing import Any

from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.text import MixedScriptTokenizer, normalize_answer

__all__ = [
    "DEFAULT_METRICS",
    "Metric",
    "MetricFactory",
    "Score",
    "chrf",
    "create_metric",
    "create_metrics",
    "exact_match",
    "mean_chrf",
    "metric_names",
    "parse_metric_names",
    "register_metric",
    "rouge_l",
]

DEFAULT_METRICS = ("rouge_l", "chrf", "exact_match")
#: Keys of a model's entry in the summary; no metric may take these names.
RESERVED_NAMES = frozenset({"model_id", "label", "retries"})


@dataclass(frozen=True)
class Score:
    """One sample's score; ``details`` holds extras such as an LLM judge's per-criterion scores and rationale."""

    value: float
    details: Mapping[str, Any] = field(default_factory=dict)


ScoreFunction = Callable[[Sequence[str], Sequence[str], Sequence[str]], Sequence["float | Score"]]
#: ``(first responses, second responses, references, prompts)`` -> both models' scores, sample by sample.
PairedScoreFunction = Callable[
    [Sequence[str], Sequence[str], Sequence[str], Sequence[str]],
    tuple[Sequence["float | Score"], Sequence["float | Score"]],
]


@dataclass(frozen=True)
class Metric:
    """A named metric over (responses, references, prompts) batches; higher is better.

    :param name: Registry name, used in summaries (``chrf``).
    :param label: Human name for reports and charts (``chrF``).
    :param scale: Best possible value (1, 10 or 100); charts divide by it to put metrics on one 0-1 axis.
    :param function: Scores a batch; returns one float or :class:`Score` per sample. None for a metric that
        only compares two models side by side (``paired``).
    :param paired: Scores two models' responses to the same samples together (the LLM judge).
    """

    name: str
    label: str
    scale: float
    function: ScoreFunction | None = field(repr=False, compare=False)
    description: str = ""
    paired: PairedScoreFunction | None = field(default=None, repr=False, compare=False)

    def score(
        self, responses: Sequence[str], references: Sequence[str], prompts: Sequence[str] | None = None
    ) -> list[Score]:
        """One :class:`Score` per sample; the three sequences are parallel."""
        if self.function is None:
            raise EvaluationError(
                f"Metric {self.name} compares two models' responses side by side: use score_pair"
            )
        prompts = self._prompts(responses, references, prompts)
        if not responses:
            return []
        return self._scores(self.function(list(responses), list(references), prompts), len(responses))

    def score_pair(
        self,
        first: Sequence[str],
        second: Sequence[str],
        references: Sequence[str],
        prompts: Sequence[str] | None = None,
    ) -> tuple[list[Score], list[Score]]:
        """Both models' :class:`Score` per sample: together for a paired metric, else each model alone."""
        if self.paired is None:
            return self.score(first, references, prompts), self.score(second, references, prompts)
        prompts = self._prompts(first, references, prompts)
        self._prompts(second, references, prompts)
        if not first:
            return [], []
        one, two = self.paired(list(first), list(second), list(references), prompts)
        return self._scores(one, len(first)), self._scores(two, len(second))

    def _prompts(
        self, responses: Sequence[str], references: Sequence[str], prompts: Sequence[str] | None
    ) -> list[str]:
        prompts = list(prompts) if prompts is not None else [""] * len(responses)
        if not len(responses) == len(references) == len(prompts):
            raise ValueError(
                f"{self.name}: {len(responses)} responses, {len(references)} references and "
                f"{len(prompts)} prompts; they must be parallel"
            )
        return prompts

    def _scores(self, raw: Sequence[float | Score], expected: int) -> list[Score]:
        scores = [item if isinstance(item, Score) else Score(float(item)) for item in raw]
        if len(scores) != expected:
            raise EvaluationError(f"Metric {self.name} returned {len(scores)} scores for {expected} samples")
        return scores


MetricFactory = Callable[..., Metric]
_REGISTRY: dict[str, MetricFactory] = {}


def register_metric(name: str, factory: MetricFactory, *, replace: bool = False) -> None:
    """Make ``create_metric(name, **options)`` call ``factory(**options)``."""
    if name in RESERVED_NAMES:
        raise ValueError(f"{name!r} is reserved in evaluation summaries; choose another metric name")
    if name in _REGISTRY and not replace:
        raise ValueError(f"A metric named {name!r} is already registered; pass replace=True to override it")
    _REGISTRY[name] = factory


def parse_metric_names(metrics: Sequence[str] | str) -> list[str]:
    """Metric names from a list, or from a comma-separated string (a rendered template)."""
    if isinstance(metrics, str):
        return [name.strip() for name in metrics.split(",") if name.strip()]
    return [str(name) for name in metrics]


def metric_names() -> tuple[str, ...]:
    """Registered metric names, sorted."""
    return tuple(sorted(_REGISTRY))


def create_metric(name: str, **options: Any) -> Metric:
    """The metric registered as ``name``, built with ``options``; unknown names raise :class:`EvaluationError`."""
    factory = _REGISTRY.get(name)
    if factory is None:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise EvaluationError(f"Unknown metric {name!r}.{hint} Available: {', '.join(metric_names())}")
    try:
        return factory(**options)
    except TypeError as err:
        raise EvaluationError(f"Bad options for metric {name!r}: {err}") from err


def create_metrics(
    names: Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Metric]:
    """Metrics for ``names`` in order (duplicates dropped); ``options[name]`` are passed to that metric's factory."""
    options = options or {}
    unused = set(options) - set(names)
    if unused:
        raise EvaluationError(
            f"Options were given for metrics that are not requested: {', '.join(sorted(unused))}"
        )
    return [create_metric(name, **dict(options.get(name) or {})) for name in dict.fromkeys(names)]


# ------------------------------------------------------------------------------------------ built-ins


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=MixedScriptTokenizer())


@cache
def _chrf_scorer() -> Any:
    from sacrebleu.metrics import CHRF

    return CHRF()


def rouge_l(response: str, reference: str) -> float:
    """ROUGE-L F-measure (0-1) over words, and over single characters in CJK text."""
    return float(_rouge_scorer().score(reference, response)["rougeL"].fmeasure)


def chrf(response: str, reference: str) -> float:
    """Sentence-level chrF (0-100) from sacrebleu; character n-grams, so it works for Japanese too."""
    return float(_chrf_scorer().sentence_score(response, [reference]).score)


def exact_match(response: str, reference: str) -> float:
    """1.0 when both texts are equal after :func:`normalize_answer`, else 0.0."""
    return 1.0 if normalize_answer(response) == normalize_answer(reference) else 0.0


def mean_chrf(pairs: Iterable[tuple[str, str]]) -> float:
    """Mean sentence chrF over (response, reference) pairs; 0.0 for no pairs."""
    scores = [chrf(response, reference) for response, reference in pairs]
    return round(fmean(scores), 4) if scores else 0.0


def _pairwise(function: Callable[[str, str], float]) -> ScoreFunction:
    def score(responses: Sequence[str], references: Sequence[str], prompts: Sequence[str]) -> list[float]:
        return [
            function(response, reference) for response, reference in zip(responses, references, strict=True)
        ]

    return score


def _rouge_l_metric() -> Metric:
    return Metric("rouge_l", "ROUGE-L", 1.0, _pairwise(rouge_l), "ROUGE-L F-measure (CJK as characters)")


def _chrf_metric() -> Metric:
    return Metric("chrf", "chrF", 100.0, _pairwise(chrf), "sentence chrF, character 6-grams")


def _exact_match_metric() -> Metric:
    return Metric("exact_match", "Exact match", 1.0, _pairwise(exact_match), "normalised exact match")


BERTSCORE_MODEL = "bert-base-multilingual-cased"


def bertscore_metric(
    *,
    model_type: str = BERTSCORE_MODEL,
    num_layers: int | None = None,
    lang: str | None = None,
    batch_size: int = 16,
    device: str | None = None,
) -> Metric:
    """BERTScore F1 (0-1) with the optional ``bert-score`` package.

    The model must be available locally (Hugging Face cache, or a directory passed as ``model_type``, which then
    needs ``num_layers``). Raises :class:`EvaluationError` naming the package when it is not installed.
    """
    if importlib.util.find_spec("bert_score") is None:
        raise EvaluationError(
            "The 'bertscore' metric needs the optional package bert-score, which is not installed: "
            "`pip install bert-score` (it brings torch and transformers), and have the model "
            f"{model_type!r} in the local Hugging Face cache; or remove 'bertscore' from metrics."
        )

    def score(responses: Sequence[str], references: Sequence[str], prompts: Sequence[str]) -> list[float]:
        import bert_score

        try:
            _, _, f1 = bert_score.score(
                list(responses),
                list(references),
                model_type=model_type,
                num_layers=num_layers,
                lang=lang,
                batch_size=batch_size,
                device=device,
                verbose=False,
            )
        except OSError as err:
            raise EvaluationError(
                f"BERTScore could not load the model {model_type!r}: {err}. Download it to the Hugging Face "
                "cache first, or pass metric_options={'bertscore': {'model_type': '<local dir>', "
                "'num_layers': N}}."
            ) from err
        return [float(value) for value in f1.tolist()]

    return Metric("bertscore", "BERTScore F1", 1.0, score, f"BERTScore F1 with {model_type}")


register_metric("rouge_l", _rouge_l_metric)
register_metric("chrf", _chrf_metric)
register_metric("exact_match", _exact_match_metric)
register_metric("bertscore", bertscore_metric)
