"""What can be wrong with a dataset: reason codes, one problem with its line number, and the two signals.

A :class:`Problem` names the reason (a stable code from :data:`REASONS`), the physical line of the record,
the field and a sentence the user can act on. Readers, mapping and validation raise :class:`RecordRejected`
for one bad record (the run may skip it) and :class:`FatalInputError` when the rest of the input cannot be
read (the run always fails).

A problem may carry a fix for the field mapping: the keys the record has and, per mapping option, the key to
use instead (``fixes``). How an option is spelled depends on who reads the message: ``prompt_key='question'``
for the operator and Python callers (:func:`python_option`, the default), ``--prompt-key question`` on the
command line (:func:`cli_option`).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Reason codes and what each means; reports count rejections per code.
REASONS: dict[str, str] = {
    # reading
    "malformed_json": "not valid JSON",
    "malformed_csv": "not valid CSV",
    "invalid_utf8": "not valid UTF-8",
    "record_too_large": "a record larger than any model accepts",
    "not_an_object": "a record that is not a JSON object",
    "csv_field_count": "a CSV row whose field count differs from the header's",
    # mapping and per-record checks
    "missing_field": "a required field is absent",
    "not_a_string": "a field that must be a string is not",
    "empty_field": "a required string is empty or only whitespace",
    "bad_conversation": "a conversation that is not a list of {role, content} messages",
    "unsupported_content": "message content other than text",
    "reasoning_not_supported": "reasoning content where the model or turn does not take it",
    "role_order": "roles out of order (first user, alternating, last assistant)",
    "system_not_supported": "a system prompt in a format that has none",
    "too_many_tokens": "more tokens than the model allows per record",
    "reserved_word": "a word Nova reserves (User:, Bot:, Assistant:, System:, <image>, <video>, [EOS])",
    "control_character": "a control character other than newline, tab or carriage return",
    "lone_surrogate": "an unpaired UTF-16 surrogate, which is not valid Unicode text",
    # whole files
    "no_records": "no valid records",
    "too_few_records": "fewer training records than the model requires",
    "too_many_records": "more training records than the model allows",
    "too_many_validation_records": "more validation records than the model allows",
    "too_many_total_records": "more records in total than the model allows",
    "training_file_too_large": "a training file larger than the model allows",
    "validation_file_too_large": "a validation file larger than the model allows",
}


#: Spells a mapping option with a value, or with a placeholder when the value is None.
OptionSpeller = Callable[[str, str | None], str]


def python_option(option: str, value: str | None) -> str:
    """``prompt_key='question'``: a keyword argument of the operator or :func:`prepare`."""
    return f"{option}={value!r}" if value is not None else f"{option}=..."


def cli_option(option: str, value: str | None) -> str:
    """``--prompt-key question``: an option of ``bedrock-customize prepare``."""
    flag = "--" + option.replace("_", "-")
    return f"{flag} {shlex.quote(value)}" if value is not None else f"{flag} KEY"


@dataclass(frozen=True, slots=True)
class Fix:
    """A mapping option to change: ``option`` (e.g. ``prompt_key``) reads ``missing``, absent from the record;
    ``use`` is a key the record has that fits, or None when none clearly does."""

    option: str
    missing: str
    use: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a record or file is not acceptable.

    ``record_keys`` (the first keys of the record) and ``fixes`` are set for a missing field.
    """

    reason: str
    message: str
    line: int | None = None
    field: str | None = None
    record_keys: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = ()

    def render(self, spell: OptionSpeller = python_option) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.reason}: {self.message}{self.hint(spell)}"

    def hint(self, spell: OptionSpeller = python_option, *, records: int = 1) -> str:
        """``"; the record has 'q', 'a': use --prompt-key q"`` or ``""``; ``records`` > 1: "records have"."""
        parts = []
        if self.record_keys:
            subject = "the records have" if records > 1 else "the record has"
            parts.append(f"{subject} {', '.join(map(repr, self.record_keys))}")
        known = [spell(fix.option, fix.use) for fix in self.fixes if fix.use is not None]
        advice = []
        if known:
            advice.append("use " + (" " if spell is cli_option else ", ").join(known))
        advice += [
            f"add {fix.missing!r} or choose the key with {spell(fix.option, None)}"
            for fix in self.fixes
            if fix.use is None
        ]
        if advice:
            parts.append("; ".join(advice))
        return "; " + ": ".join(parts) if parts else ""

    def to_dict(self) -> dict[str, Any]:
        data = {"line": self.line, "reason": self.reason, "field": self.field, "message": self.message}
        if self.fixes:
            data["record_keys"] = list(self.record_keys)
            data["suggested_mapping"] = {fix.option: fix.use for fix in self.fixes}
        return data


class RecordRejected(Exception):
    """One record is unacceptable; the input can still be read past it."""

    def __init__(
        self,
        reason: str,
        message: str,
        field: str | None = None,
        *,
        record_keys: tuple[str, ...] = (),
        fixes: tuple[Fix, ...] = (),
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field
        self.record_keys = record_keys
        self.fixes = fixes

    def problem(self, line: int | None) -> Problem:
        return Problem(self.reason, self.message, line, self.field, self.record_keys, self.fixes)


class FatalInputError(Exception):
    """The input cannot be read past ``problem.line``: the run fails whatever ``on_invalid`` says."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem
