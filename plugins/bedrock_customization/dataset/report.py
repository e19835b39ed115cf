"""The preparation report: counts, rejection reasons with line numbers, token statistics, output files.

Everything here is small whatever the input size: rejection examples stop at :data:`MAX_EXAMPLES` (the
counts per reason go on), and token percentiles come from :class:`TokenHistogram`, an exact count per token
value of accepted records, so it holds at most ``max_tokens_per_record + 1`` entries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from bedrock_customization.dataset.problems import Problem

__all__ = ["MAX_EXAMPLES", "OutputFile", "PrepareReport", "RejectionLog", "TokenHistogram", "TokenStats"]

#: Rejected records and duplicates listed individually; the rest are only counted.
MAX_EXAMPLES = 20


@dataclass
class OutputFile:
    """A written JSON Lines file: name in the output directory, records, size, SHA-256, and where it is."""

    name: str
    records: int
    bytes: int
    sha256: str
    uri: str | None = None


@dataclass
class TokenStats:
    """Estimated tokens per accepted record (nearest-rank percentiles)."""

    records: int = 0
    p50: int | None = None
    p95: int | None = None
    max: int | None = None
    limit: int | None = None


class TokenHistogram:
    """Counts accepted records per estimated token count.

    Bounded: only accepted records are added and their counts are at most the model's token limit, so the
    histogram has at most ``limit + 1`` keys however many records pass; percentiles are exact.
    """

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.records = 0

    def add(self, tokens: int) -> None:
        self.counts[tokens] += 1
        self.records += 1

    def stats(self, limit: int | None) -> TokenStats:
        if not self.records:
            return TokenStats(limit=limit)
        values = sorted(self.counts)
        marks = {50: -(-self.records * 50 // 100), 95: -(-self.records * 95 // 100)}
        found: dict[int, int] = {}
        seen = 0
        for value in values:
            seen += self.counts[value]
            for pct, rank in marks.items():
                if pct not in found and seen >= rank:
                    found[pct] = value
        return TokenStats(self.records, found[50], found[95], values[-1], limit)


class RejectionLog:
    """Rejected records: a count per reason and the first :data:`MAX_EXAMPLES` problems."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: list[Problem] = []

    def add(self, problem: Problem) -> None:
        self.counts[problem.reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(problem)

    def __len__(self) -> int:
        return sum(self.counts.values())


@dataclass
class PrepareReport:
    """What a preparation run read, rejected and wrote; ``ok`` is False when nothing was published."""

    source: str
    input_format: str
    base_model_id: str
    model_name: str
    customization_type: str
    record_format: str
    validation_fraction: float
    seed: int
    on_invalid: str
    dedupe: bool
    max_tokens_per_record: int
    chars_per_token: float
    batch_size: int | None = None
    ok: bool = False
    records_read: int = 0
    records_written: int = 0
    records_rejected: int = 0
    duplicates: int = 0
    duplicates_dropped: int = 0
    input_bytes: int | None = None
    train: OutputFile | None = None
    validation: OutputFile | None = None
    tokens: TokenStats = field(default_factory=TokenStats)
    rejection_counts: dict[str, int] = field(default_factory=dict)
    rejections: list[Problem] = field(default_factory=list)
    file_problems: list[Problem] = field(default_factory=list)
    duplicate_examples: list[dict[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rejections"] = [p.to_dict() for p in self.rejections]
        data["file_problems"] = [p.to_dict() for p in self.file_problems]
        return data

    def to_json(self) -> bytes:
        """The report as indented JSON (UTF-8), as written to ``report.json``."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"

    def summary(self) -> dict[str, Any]:
        """A few figures for logs and XCom."""
        return {
            "ok": self.ok,
            "base_model_id": self.base_model_id,
            "record_format": self.record_format,
            "records_read": self.records_read,
            "records_written": self.records_written,
            "records_rejected": self.records_rejected,
            "duplicates": self.duplicates,
            "duplicates_dropped": self.duplicates_dropped,
            "train_records": self.train.records if self.train else 0,
            "validation_records": self.validation.records if self.validation else 0,
            "train_sha256": self.train.sha256 if self.train else None,
            "validation_sha256": self.validation.sha256 if self.validation else None,
            "tokens_p50": self.tokens.p50,
            "tokens_p95": self.tokens.p95,
            "tokens_max": self.tokens.max,
            "rejection_counts": dict(self.rejection_counts),
            "warnings": list(self.warnings),
        }

    def problems(self) -> list[Problem]:
        return [*self.rejections, *self.file_problems]

    def render(self) -> str:
        """Human-readable report: what was read and written, then every listed problem with its line."""
        lines = [
            f"{self.source} ({self.input_format}) -> {self.record_format} for {self.base_model_id} "
            f"({self.model_name}, {self.customization_type})",
            f"records: {self.records_read:,} read, {self.records_written:,} written, "
            f"{self.records_rejected:,} rejected, {self.duplicates:,} duplicates"
            + (f" ({self.duplicates_dropped:,} dropped)" if self.dedupe else ""),
        ]
        for output in (self.train, self.validation):
            if output is not None:
                where = output.uri or output.name
                lines.append(
                    f"  {where}: {output.records:,} records, {output.bytes:,} bytes, sha256 {output.sha256}"
                )
        if self.tokens.records:
            lines.append(
                f"tokens per record (estimated): p50 {self.tokens.p50:,}, p95 {self.tokens.p95:,}, "
                f"max {self.tokens.max:,} (limit {self.tokens.limit:,})"
            )
        if self.rejections:
            shown = len(self.rejections)
            more = f", first {shown} shown" if shown < self.records_rejected else ""
            lines.append(f"rejected records ({self.records_rejected:,}{more}):")
            lines += [f"  {problem.render()}" for problem in self.rejections]
            counts = ", ".join(
                f"{reason} {count:,}" for reason, count in sorted(self.rejection_counts.items())
            )
            lines.append(f"rejections by reason: {counts}")
        if self.file_problems:
            lines.append("file problems:")
            lines += [f"  {problem.render()}" for problem in self.file_problems]
        if self.duplicate_examples:
            listed = ", ".join(
                f"line {d['line']} = line {d['duplicate_of']}" for d in self.duplicate_examples
            )
            lines.append(
                f"duplicates: {listed}" + (" ..." if self.duplicates > len(self.duplicate_examples) else "")
            )
        for warning in self.warnings:
            lines.append(f"warning: {warning}")
        return "\n".join(lines)
