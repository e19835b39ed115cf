"""Evaluation of a candidate model against a baseline: metrics, the LLM judge, aggregation and the decision.

Pure modules, no Airflow or AWS imports: ``text`` (normalisation, CJK-aware tokens), ``metrics`` (ROUGE-L, chrF,
exact match, BERTScore and the metric registry), ``judge`` (LLM-as-judge of both answers side by side, in both orders, over a converse callable), ``semantic``
(cosine of Bedrock embeddings over an invoke_model callable), ``samples``
(validation records in any Bedrock training format, seeded sampling), ``invoke`` (Converse requests, retries),
``compare`` (per-sample scores, summary), ``aggregate`` (means), ``significance`` (the paired bootstrap interval
and the promote/reject/inconclusive decision, :func:`paired_decision`), ``report`` (Markdown, chart) and
``bedrock_job`` (native Bedrock evaluation jobs), ``generate`` (held-out question/answer sets a model writes
from documents); ``storage`` reads the samples and writes the outputs through a
given S3 client. The operators are ``bedrock_customization.operators.evaluation.BedrockEvaluateModelsOperator``
(Converse scoring) and those of ``bedrock_customization.operators.evaluation_job`` (native evaluation jobs).
"""

from __future__ import annotations

from bedrock_customization.evaluation.aggregate import mean_scores
from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.judge import (
    JudgeError,
    Judgement,
    Verdict,
    judge_both_orders,
    judge_metric,
)
from bedrock_customization.evaluation.metrics import (
    DEFAULT_METRICS,
    Metric,
    Score,
    chrf,
    create_metric,
    create_metrics,
    exact_match,
    mean_chrf,
    metric_names,
    register_metric,
    rouge_l,
)
from bedrock_customization.evaluation.semantic import semantic_metric
from bedrock_customization.evaluation.significance import paired_decision

__all__ = [
    "DEFAULT_METRICS",
    "EvaluationError",
    "JudgeError",
    "Judgement",
    "Metric",
    "Score",
    "Verdict",
    "chrf",
    "create_metric",
    "create_metrics",
    "exact_match",
    "judge_both_orders",
    "judge_metric",
    "mean_chrf",
    "mean_scores",
    "metric_names",
    "paired_decision",
    "register_metric",
    "rouge_l",
    "semantic_metric",
]
