"""Check records and files against a base model's rules from the catalog, before Bedrock does hours later.

Per record (:class:`RecordValidator`): every text is a non-empty string without control characters (other
than newline, tab and carriage return) or lone surrogates; Nova's reserved words are absent; conversation
roles are in order; reasoning content (Nova 2 Lite) passes the same text checks and counts as output; the
estimated tokens (characters / the catalog's ``chars_per_token``, rounded up) are
within the model's limit, which for Titan depends on the batch size. Per file (:func:`check_files`): record
counts and file sizes within the model's limits. Minimums are known only once everything is read; maximums
(:class:`HardLimits`) can only be passed more as records are added, so once one is passed the verdict is
certain and reading can stop.

The checks look at a text's JSON literal first (cheap byte searches) and decode-level checks run only when
the literal could hide a problem, so clean text costs a few ``memchr`` passes.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass

import orjson

from bedrock_customization import catalog
from bedrock_customization.dataset.mapping import ASSISTANT, USER, Conversation, Text
from bedrock_customization.dataset.problems import Problem, RecordRejected

__all__ = [
    "NOVA_RESERVED_WORDS",
    "HardLimits",
    "RecordValidator",
    "TokenRule",
    "check_files",
    "reserved_words_apply",
]

#: Words that make a Nova customization job fail wherever they appear in a record.
NOVA_RESERVED_WORDS = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")
# C0 controls except \t \n \r, DEL, and C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# JSON escapes that can never decode to a forbidden control character. "\\\\" goes first: see _may_hide_control.
_HARMLESS_ESCAPES = (b"\\\\", b"\\n", b"\\t", b"\\r", b'\\"', b"\\/")


def reserved_words_apply(model: catalog.BaseModel) -> bool:
    """Nova models (and only they) reject records containing :data:`NOVA_RESERVED_WORDS`."""
    return model.family.startswith("nova")


@dataclass(frozen=True)
class TokenRule:
    """The token limit per record and how to explain it."""

    model_id: str
    max_tokens: int
    chars_per_token: float
    batch_size: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    hint: str = ""

    def estimate(self, chars: int) -> int:
        """Conservative token estimate: characters / chars_per_token, rounded up (as the catalog does)."""
        return math.ceil(chars / self.chars_per_token)

    @classmethod
    def for_model(cls, model: catalog.BaseModel, batch_size: int | None) -> TokenRule:
        limits = model.limits
        max_tokens = catalog.max_tokens_per_record(model.id, batch_size)
        hint = ""
        if limits.token_steps:
            spec = model.hyperparameters.get("batchSize")
            batch_size = batch_size if batch_size is not None else (int(spec.default) if spec else None)
            first = limits.token_steps[0]
            if max_tokens < first.max_tokens:
                hint = f"; batchSize <= {first.batch_size_max} allows {first.max_tokens:,}"
        else:
            batch_size = None
        return cls(
            model_id=model.id,
            max_tokens=max_tokens,
            chars_per_token=limits.chars_per_token,
            batch_size=batch_size,
            max_input_tokens=limits.max_input_tokens,
            max_output_tokens=limits.max_output_tokens,
            hint=hint,
        )

    def describe(self) -> str:
        at = f" at batchSize {self.batch_size}" if self.batch_size is not None else ""
        return f"the {self.max_tokens:,}-token limit of {self.model_id}{at}{self.hint}"


class RecordValidator:
    """Validates neutral records for one output format and model; returns each record's token estimate."""

    def __init__(self, record_format: str, rule: TokenRule, *, reserved_words: bool) -> None:
        self.format = record_format
        self.rule = rule
        self.reserved_words = reserved_words

    def validate(self, record: Conversation) -> int:
        """The record's estimated tokens; raises :class:`RecordRejected` with the first problem found."""
        check = self._check_text
        if record.text is not None:
            check(record.text)
            chars = len(record.text.value)
            return self._tokens(chars, None, None)
        self._check_roles(record.turns)
        prompt_chars = 0
        if record.system is not None:
            check(record.system)
            prompt_chars = len(record.system.value)
        answer_chars = 0
        for role, text in record.turns:
            check(text)
            if role == USER:
                prompt_chars += len(text.value)
            else:
                answer_chars += len(text.value)
        for thought in record.reasoning.values():  # reasoning is generated text: it counts as output
            check(thought)
            answer_chars += len(thought.value)
        return self._tokens(prompt_chars + answer_chars, prompt_chars, answer_chars)

    def _tokens(self, chars: int, prompt_chars: int | None, answer_chars: int | None) -> int:
        rule = self.rule
        tokens = rule.estimate(chars)
        if tokens > rule.max_tokens:
            raise RecordRejected(
                "too_many_tokens",
                f"about {tokens:,} tokens ({chars:,} characters at {rule.chars_per_token:g} per token, rounded "
                f"up) is over {rule.describe()}; shorten or split the record",
            )
        parts = (
            ("prompt", prompt_chars, "input", rule.max_input_tokens),
            ("completion", answer_chars, "output", rule.max_output_tokens),
        )
        for part, part_chars, direction, limit in parts:
            if part_chars is None or limit is None:
                continue
            part_tokens = rule.estimate(part_chars)
            if part_tokens > limit:
                raise RecordRejected(
                    "too_many_tokens",
                    f"the {part} has about {part_tokens:,} tokens, over the {limit:,}-token {direction} limit "
                    f"of {rule.model_id}; shorten it",
                )
        return tokens

    def _check_roles(self, turns: list[tuple[str, Text]]) -> None:
        if len(turns) == 2 and turns[0][0] == USER and turns[1][0] == ASSISTANT:
            return  # the usual single exchange, valid in every format but distillation's (mapped to one turn)
        roles = [role for role, _ in turns]
        if self.format == "distillation_prompts":
            return  # the mapping already reduced it to one user turn
        expected = [USER if i % 2 == 0 else ASSISTANT for i in range(len(roles))]
        if self.format == "prompt_completion":
            if roles != [USER, ASSISTANT]:
                raise RecordRejected(
                    "role_order",
                    f"prompt_completion records are one user turn then one assistant turn; got roles {roles}",
                )
            return
        if roles != expected or not roles or roles[-1] != ASSISTANT:
            raise RecordRejected(
                "role_order",
                f"roles must start with user, alternate and end with assistant; got {roles}",
            )

    def _check_text(self, text: Text) -> None:
        value = text.value
        if not value or value.isspace():
            raise RecordRejected("empty_field", f"{text.field!r} is empty", text.field)
        literal = text.literal
        if literal is None:
            try:
                literal = text.literal = orjson.dumps(value)
            except orjson.JSONEncodeError:
                match = _SURROGATE.search(value)
                position = match.start() if match else "?"
                code = f"U+{ord(match.group()):04X} " if match else ""
                raise RecordRejected(
                    "lone_surrogate",
                    f"{text.field!r} has an unpaired surrogate {code}at character {position}; fix the text's "
                    "encoding (it is not valid Unicode)",
                    text.field,
                ) from None
        escaped = b"\\" in literal  # one memchr; most texts have no escapes at all
        if _may_hide_control(literal, escaped):
            match = _CONTROL.search(value)
            if match:
                raise RecordRejected(
                    "control_character",
                    f"{text.field!r} has control character U+{ord(match.group()):04X} at character "
                    f"{match.start()}; remove it (only newline, tab and carriage return are allowed)",
                    text.field,
                )
        # Every reserved word has ':', '<' or '['; an escape can spell them too (\u003a).
        if self.reserved_words and (
            b":" in literal or b"<" in literal or b"[" in literal or (escaped and b"\\u" in literal)
        ):
            for word in NOVA_RESERVED_WORDS:
                at = value.find(word)
                if at >= 0:
                    raise RecordRejected(
                        "reserved_word",
                        f"{text.field!r} contains {word!r} at character {at}, a word Nova reserves; "
                        "reword it (e.g. 'User -' or remove the marker)",
                        text.field,
                    )


def _may_hide_control(literal: bytes, escaped: bool) -> bool:
    """Whether a JSON string literal could decode to a forbidden control character.

    Raw C0 controls cannot occur in valid JSON (orjson rejects them and escapes them when writing), so they
    can only hide in escapes; DEL and C1 controls (UTF-8 ``C2 80``-``C2 9F``) can also appear raw. Escapes
    that decode to harmless characters are removed first: ``\\\\`` before the others, scanning left to right,
    so an escaped backslash followed by ``n`` is never mistaken for ``\\n``.
    """
    if b"\x7f" in literal or b"\xc2" in literal:
        return True
    if not escaped:
        return False
    for escape in _HARMLESS_ESCAPES:
        literal = literal.replace(escape, b"")
    return b"\\" in literal


@dataclass(frozen=True, slots=True)
class HardLimits:
    """A model's upper limits on the output files (``sys.maxsize`` where the catalog gives none).

    Counts and sizes only grow as records are written, so once :meth:`exceeded` is true it stays true and
    :func:`check_files` will report it: the run may stop reading there without changing its verdict.
    """

    train_records: int
    validation_records: int
    total_records: int
    train_bytes: int
    validation_bytes: int

    @classmethod
    def for_model(cls, model: catalog.BaseModel) -> HardLimits:
        limits = model.limits

        def cap(value: int | None) -> int:
            return sys.maxsize if value is None else value

        return cls(
            cap(limits.max_training_records),
            cap(limits.max_validation_records),
            cap(limits.max_total_records),
            cap(limits.max_training_file_bytes),
            cap(limits.max_validation_file_bytes),
        )

    def exceeded(
        self, train_records: int, validation_records: int, train_bytes: int, validation_bytes: int
    ) -> bool:
        return (
            train_records > self.train_records
            or validation_records > self.validation_records
            or train_records + validation_records > self.total_records
            or train_bytes > self.train_bytes
            or validation_bytes > self.validation_bytes
        )


def check_files(
    model: catalog.BaseModel,
    *,
    train_records: int,
    validation_records: int,
    train_bytes: int,
    validation_bytes: int,
    validation_fraction: float,
    stopped_at: int | None = None,
    min_training_records: int | None = None,
) -> list[Problem]:
    """File-level problems: record counts and file sizes against the model's limits.

    ``min_training_records`` is the customization type's own minimum (RFT), checked when above the model's.

    ``stopped_at`` is the input line where reading stopped because a :class:`HardLimits` maximum was passed:
    the counts are then lower bounds, the messages say so and name the line, and minimums are not checked.
    """
    limits = model.limits
    minimum = max(limits.min_training_records or 0, min_training_records or 0) or None
    problems: list[Problem] = []
    total = train_records + validation_records
    fewer = " or lower the validation fraction" if validation_records else ""
    at_least = "" if stopped_at is None else "at least "
    where = (
        "" if stopped_at is None else f" (reading stopped at line {stopped_at:,}, where the limit was passed)"
    )
    if stopped_at is not None:
        pass  # minimums: the rest of the input was not read, so too few records cannot be told
    elif total == 0:
        problems.append(Problem("no_records", "no valid records to write"))
    elif minimum is not None and train_records < minimum:
        problems.append(
            Problem(
                "too_few_records",
                f"{train_records:,} training records; {model.id} needs at least "
                f"{minimum:,}: add records{fewer}",
            )
        )
    elif train_records == 0:
        problems.append(Problem("too_few_records", "no training records; lower the validation fraction"))
    if limits.max_training_records is not None and train_records > limits.max_training_records:
        problems.append(
            Problem(
                "too_many_records",
                f"{at_least}{train_records:,} training records{where}; {model.id} allows at most "
                f"{limits.max_training_records:,}: sample the data down",
            )
        )
    if limits.max_validation_records is not None and validation_records > limits.max_validation_records:
        problems.append(
            Problem(
                "too_many_validation_records",
                f"{at_least}{validation_records:,} validation records (fraction {validation_fraction:g})"
                f"{where}; {model.id} allows at most {limits.max_validation_records:,}: lower the validation "
                "fraction",
            )
        )
    if limits.max_total_records is not None and total > limits.max_total_records:
        problems.append(
            Problem(
                "too_many_total_records",
                f"{at_least}{total:,} records in total{where}; {model.id} allows at most "
                f"{limits.max_total_records:,}: sample the data down",
            )
        )
    if limits.max_training_file_bytes is not None and train_bytes > limits.max_training_file_bytes:
        problems.append(
            Problem(
                "training_file_too_large",
                f"the training file would be {at_least}{train_bytes:,} bytes{where}; {model.id} allows at "
                f"most {limits.max_training_file_bytes:,}: drop or shorten records",
            )
        )
    if limits.max_validation_file_bytes is not None and validation_bytes > limits.max_validation_file_bytes:
        problems.append(
            Problem(
                "validation_file_too_large",
                f"the validation file would be {at_least}{validation_bytes:,} bytes{where}; {model.id} "
                f"allows at most {limits.max_validation_file_bytes:,}: lower the validation fraction",
            )
        )
    return problems
