"""The S3 side of an evaluation, given a boto3 S3 client: the samples in, the report, chart and summary out.

Both evaluation operators use it (Converse scoring and the comparison of native evaluation jobs); URIs are
parsed and objects written with SSE-KMS by :mod:`bedrock_customization.artifacts`. No AWS import: the client is
passed in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bedrock_customization import artifacts
from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.report import CHART_NAME, render_chart, render_markdown
from bedrock_customization.evaluation.samples import Sample, read_samples, select_samples

__all__ = [
    "REPORT_NAME",
    "RESPONSES_NAME",
    "SUMMARY_NAME",
    "describe_selection",
    "load_samples",
    "output_uris",
    "publish",
    "read_texts",
    "s3_location",
]

RESPONSES_NAME = "responses.jsonl"
SUMMARY_NAME = "summary.json"
REPORT_NAME = "report.md"


def s3_location(uri: str, what: str) -> tuple[str, str]:
    """(bucket, key) of ``uri``; an :class:`EvaluationError` naming ``what`` when it is no S3 URI."""
    return artifacts.parse_s3_uri(uri, what=what, error=EvaluationError)


def load_samples(s3: Any, uri: str, sample_size: int | None, seed: int) -> tuple[list[Sample], int]:
    """The samples chosen (``sample_size`` of them by ``seed``, None for all) from the JSON Lines file ``uri``,
    and how many records the file has."""
    bucket, key = s3_location(uri, "validation_data_uri")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise EvaluationError(f"Validation data {uri} does not exist") from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise EvaluationError(f"{uri} is not UTF-8 text: {err}") from None
    everything = read_samples(text, uri)
    return select_samples(everything, sample_size, seed), len(everything)


def describe_selection(chosen: int, total: int, seed: int, uri: str) -> str:
    """``"a sample of 16 (seed 7) of 48 records of <uri>"`` (``"all 48 ..."`` when every record was chosen), for
    the task log."""
    how = f"a sample of {chosen} (seed {seed})" if chosen < total else f"all {chosen}"
    return f"{how} of {total} records of {uri}"


def output_uris(prefix: str, *, responses: bool = True) -> dict[str, str]:
    """Where :func:`publish` writes under the folder ``prefix``: responses (optional), summary, report, chart."""
    s3_location(prefix, "output_uri")
    names = {"summary": SUMMARY_NAME, "report": REPORT_NAME, "chart": CHART_NAME}
    if responses:
        names = {"responses": RESPONSES_NAME, **names}
    return {role: artifacts.join(prefix, name) for role, name in names.items()}


def publish(
    s3: Any,
    summary: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    uris: Mapping[str, str],
    kms_key_id: str | None = None,
) -> None:
    """Write the per-sample rows (when ``uris`` has ``responses``), the chart, the report and, last, the summary
    to ``uris`` with SSE-KMS."""
    if "responses" in uris:
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        artifacts.put_object(s3, uris["responses"], lines.encode("utf-8"), "application/x-ndjson", kms_key_id)
    artifacts.put_object(s3, uris["chart"], render_chart(summary), "image/png", kms_key_id)
    report = render_markdown(summary, rows).encode("utf-8")
    artifacts.put_object(s3, uris["report"], report, "text/markdown; charset=utf-8", kms_key_id)
    body = json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8")
    artifacts.put_object(s3, uris["summary"], body, "application/json", kms_key_id)


def read_texts(s3: Any, folder_uri: str, suffix: str) -> list[str]:
    """The UTF-8 texts of every object under the folder ``folder_uri`` whose key ends in ``suffix``."""
    bucket, prefix = artifacts.parse_s3_folder(folder_uri, what="output folder", error=EvaluationError)
    texts = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(suffix):
                texts.append(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8"))
    return texts
