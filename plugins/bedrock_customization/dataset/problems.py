"""What can be wrong with a dataset: reason codes, one problem with its line number, and the two signals.

A :class:`Problem` names the reason (a stable code from :data:`REASONS`), the physical line of the record,
the field and a sentence the user can act on. Readers, mapping and validation raise :class:`RecordRejected`
for one bad record (the run may skip it) and :class:`FatalInputError` when the rest of the input cannot be
read (the run always fails).
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a record or file is not acceptable."""

    reason: str
    message: str
    line: int | None = None
    field: str | None = None

    def render(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.reason}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "field": self.field, "message": self.message}


class RecordRejected(Exception):
    """One record is unacceptable; the input can still be read past it."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field

    def problem(self, line: int | None) -> Problem:
        return Problem(self.reason, self.message, line, self.field)


class FatalInputError(Exception):
    """The input cannot be read past ``problem.line``: the run fails whatever ``on_invalid`` says."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem
