"""The preparation report: counts, rejection reasons with line numbers, token statistics, output files.

Rejections are grouped for reading: records rejected for the same reason, field, message (up to its numbers)
and fix make one :class:`RejectionGroup`, rendered as one line (``lines 3-174: missing_field: missing field
'prompt' (172 times); the records have 'question', 'answer': use prompt_key='question'``). The grouping is
here, in the report, so every front end that renders a report (the command line, the operator's failure
message) shows it; only the spelling of mapping options differs (see ``problems.OptionSpeller``).

Everything here is small whatever the input size: rejection examples stop at :data:`MAX_EXAMPLES` and groups
at :data:`MAX_GROUPS` with :data:`MAX_RUNS` line ranges each (the counts per reason go on), and token
percentiles come from :class:`TokenHistogram`, an exact count per token value of accepted records, so it
holds at most ``max_tokens_per_record + 1`` entries.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from bedrock_customization.dataset.problems import OptionSpeller, Problem, python_option

__all__ = [
    "MAX_EXAMPLES",
    "MAX_GROUPS",
    "MAX_RUNS",
    "OutputFile",
    "PrepareReport",
    "RejectionGroup",
    "RejectionLog",
    "TokenHistogram",
    "TokenStats",
]

#: Rejected records and duplicates listed individually; the rest are only counted.
MAX_EXAMPLES = 20
#: Groups of rejections listed; rejections of further kinds are only counted by reason.
MAX_GROUPS = 20
#: Runs of consecutive records listed per group (``lines 3-40, 52, 60-174``); later runs are elided.
MAX_RUNS = 4
_NUMBER = re.compile(r"\d[\d,]*")


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


@dataclass(slots=True)
class RejectionGroup:
    """Rejected records with the same reason, field, message (up to its numbers) and fix.

    ``first`` is the first member, whose message and fix are shown; ``varied`` says a later member's message
    or field differed from it in some number. ``runs`` are ``[first line, last line, last record number]`` of
    runs of consecutive records, at most :data:`MAX_RUNS`; ``more_runs`` says later runs were not kept.
    """

    first: Problem
    count: int = 0
    varied: bool = False
    last_line: int | None = None
    runs: list[list[Any]] = field(default_factory=list)
    more_runs: bool = False

    def add(self, problem: Problem, number: int | None) -> None:
        """Count ``problem``, the rejection of the ``number``-th record read (None: not a record's)."""
        self.count += 1
        if problem.message != self.first.message or problem.field != self.first.field:
            self.varied = True
        self.last_line = problem.line
        last = self.runs[-1] if self.runs else None
        if last is not None and not self.more_runs and number is not None and last[2] == number - 1:
            last[1], last[2] = problem.line, number
        elif len(self.runs) < MAX_RUNS:
            self.runs.append([problem.line, problem.line, number])
        else:
            self.more_runs = True

    def where(self) -> str:
        """``line 3``, ``lines 3-174`` or ``lines 3-40, 52, 60-70, 80, ..., 900``; empty without lines."""
        spans = [f"{a}-{b}" if a != b else f"{a}" for a, b, _ in self.runs if a is not None]
        if not spans:
            return ""
        if self.more_runs:
            spans += ["...", f"{self.last_line}"]
        return ("lines " if self.count > 1 else "line ") + ", ".join(spans)

    def render(self, spell: OptionSpeller = python_option) -> str:
        first = self.first
        times = ""
        if self.count > 1:
            shown = f"; line {first.line} shown" if self.varied and first.line is not None else ""
            times = f" ({self.count:,} times{shown})"
        where = self.where()
        return f"{where}{': ' if where else ''}{first.reason}: {first.message}{times}" + first.hint(
            spell, records=self.count
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.first.to_dict(),
            "count": self.count,
            "varied": self.varied,
            "runs": [[a, b] for a, b, _ in self.runs],
            "more_runs": self.more_runs,
            "last_line": self.last_line,
        }


class RejectionLog:
    """Rejected records: a count per reason, the first :data:`MAX_EXAMPLES` problems and their groups."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: list[Problem] = []
        self.groups: dict[tuple[Any, ...], RejectionGroup] = {}
        self.ungrouped = 0

    def add(self, problem: Problem, number: int | None = None) -> None:
        """Record ``problem``, the rejection of the ``number``-th record read (consecutive ones make runs)."""
        self.counts[problem.reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(problem)
        key = (
            problem.reason,
            _NUMBER.sub("#", problem.field or ""),
            _NUMBER.sub("#", problem.message),
            problem.record_keys,
            problem.fixes,
        )
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= MAX_GROUPS:
                self.ungrouped += 1
                return
            group = self.groups[key] = RejectionGroup(problem)
        group.add(problem, number)

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
    #: Estimated tokens of all training records (one epoch's worth; cost estimates multiply by epochs).
    train_tokens: int = 0
    rejection_counts: dict[str, int] = field(default_factory=dict)
    rejections: list[Problem] = field(default_factory=list)
    rejection_groups: list[RejectionGroup] = field(default_factory=list)
    ungrouped_rejections: int = 0
    file_problems: list[Problem] = field(default_factory=list)
    stopped_at_line: int | None = None
    duplicate_examples: list[dict[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rejection_groups"] = [group.to_dict() for group in self.rejection_groups]
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
            "train_tokens": self.train_tokens,
            "rejection_counts": dict(self.rejection_counts),
            "stopped_at_line": self.stopped_at_line,
            "warnings": list(self.warnings),
        }

    def problems(self) -> list[Problem]:
        return [*self.rejections, *self.file_problems]

    def headline(self) -> str:
        """One sentence for a failed run: the input, the model, the number of problems, nothing written."""
        count = self.records_rejected + len(self.file_problems)
        stopped = (
            f"; reading stopped at line {self.stopped_at_line:,}" if self.stopped_at_line is not None else ""
        )
        return (
            f"{self.source} is not valid training data for {self.base_model_id} ({self.record_format}): "
            f"{count:,} problem{'s' if count != 1 else ''}{stopped}; nothing was written."
        )

    def render(self, spell: OptionSpeller = python_option) -> str:
        """Human-readable report: what was read and written, then the problems, grouped, with their lines.

        :param spell: how fixes name mapping options: ``prompt_key='question'`` (default) or, with
            ``problems.cli_option``, ``--prompt-key question``.
        """
        stopped = " (reading stopped early)" if self.stopped_at_line is not None else ""
        lines = [
            f"{self.source} ({self.input_format}) -> {self.record_format} for {self.base_model_id} "
            f"({self.model_name}, {self.customization_type})",
            f"records: {self.records_read:,} read{stopped}, {self.records_written:,} written, "
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
        if self.rejection_groups:
            lines.append(f"rejected records ({self.records_rejected:,}):")
            lines += [f"  {group.render(spell)}" for group in self.rejection_groups]
            if self.ungrouped_rejections:
                lines.append(f"  and {self.ungrouped_rejections:,} of other kinds (counted below)")
        elif self.rejections:
            shown = len(self.rejections)
            more = f", first {shown} shown" if shown < self.records_rejected else ""
            lines.append(f"rejected records ({self.records_rejected:,}{more}):")
            lines += [f"  {problem.render(spell)}" for problem in self.rejections]
        if self.rejections:
            counts = ", ".join(
                f"{reason} {count:,}" for reason, count in sorted(self.rejection_counts.items())
            )
            lines.append(f"rejections by reason: {counts}")
        if self.file_problems:
            lines.append("file problems:")
            lines += [f"  {problem.render(spell)}" for problem in self.file_problems]
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
