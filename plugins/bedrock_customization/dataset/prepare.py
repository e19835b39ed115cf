"""Prepare a dataset for one base model: read, map, validate, de-duplicate, split, write, report.

:func:`prepare` streams the input once. Each record is mapped to a neutral conversation, validated against
the model's rules from the catalog, encoded in the model's record format and appended to a temporary file in
the output directory (``.train.jsonl.<random>.partial``: hidden, and never the name of a result), while only
small state is kept: counters, the first rejection examples, a token histogram bounded by the token limit
and, for duplicate detection, a 128-bit key per distinct record. Maximum record counts and file sizes are
checked after every record: as soon as one is passed (which no later record can undo) reading stops and the
run fails, naming the limit, the model and the line. Minimums are checked at the end; only when everything
passed are the files renamed into place with ``os.replace`` (training, validation, then ``report.json``
last, so a present report means complete files). On any failure the temporaries are removed and nothing is
left in the output directory, not even partially. A ``progress`` callback, when given, hears how far reading
has got every :data:`PROGRESS_EVERY` records.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from bedrock_customization import catalog
from bedrock_customization.dataset.files import PartialFile
from bedrock_customization.dataset.formats import ENCODERS
from bedrock_customization.dataset.mapping import FieldMapping, Mapper
from bedrock_customization.dataset.problems import FatalInputError, RecordRejected
from bedrock_customization.dataset.readers import (
    RawRecord,
    Source,
    detect_format,
    open_source,
    read_records,
)
from bedrock_customization.dataset.report import (
    MAX_EXAMPLES,
    PrepareReport,
    RejectionLog,
    TokenHistogram,
)
from bedrock_customization.dataset.split import VALIDATION, assign_split
from bedrock_customization.dataset.validation import (
    HardLimits,
    RecordValidator,
    TokenRule,
    check_files,
    reserved_words_apply,
)
from bedrock_customization.exceptions import DatasetConfigError, InvalidDatasetError

__all__ = [
    "ON_INVALID",
    "PROGRESS_EVERY",
    "REPORT_FILE",
    "TRAIN_FILE",
    "VALIDATION_FILE",
    "Progress",
    "Target",
    "prepare",
    "resolve_target",
]

TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
REPORT_FILE = "report.json"
ON_INVALID = ("fail", "skip")
#: Records read between two calls of the ``progress`` callback.
PROGRESS_EVERY = 256


class Progress(NamedTuple):
    """How far :func:`prepare` has read: records, bytes of the input (None when unknown) and its size."""

    records_read: int
    bytes_read: int | None
    total_bytes: int | None


@dataclass(frozen=True)
class Target:
    """What the data is prepared for: the model, customization type, record format and token rule."""

    model: catalog.BaseModel
    customization_type: str
    record_format: str
    rule: TokenRule
    warnings: tuple[str, ...] = ()
    #: Whether the customization job takes the validation file (Nova 2 Lite SFT does not: it is held out for
    #: this project's evaluation only).
    validation_set: bool = True
    #: Whether assistant turns may carry reasoning content (Nova 2 Lite SFT).
    reasoning: bool = False


def resolve_target(
    base_model_id: str,
    customization_type: str = "FINE_TUNING",
    record_format: str | None = None,
    *,
    batch_size: int | str | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    today: date | None = None,
) -> Target:
    """Look the model up and settle the format and token limit; raises catalog errors for bad requests.

    The format is the catalog's for the customization type unless ``record_format`` forces another. The token
    limit depends on the batch size for Titan: ``batch_size`` or ``hyperparameters["batchSize"]`` (checked
    against the catalog with the rest of ``hyperparameters``), else the model's default batch size.
    """
    model = catalog.get_model(base_model_id)
    expected = catalog.record_format(model.id, customization_type)
    ctype = customization_type.strip().upper().replace("-", "_")
    warnings = []
    lifecycle = catalog.lifecycle_warning(model.id, today)
    if lifecycle:
        warnings.append(lifecycle)
    options = model.options(ctype)
    if record_format is None:
        record_format = expected
    if record_format not in ENCODERS and record_format in catalog.RECORD_FORMATS:
        raise DatasetConfigError(
            f"{model.id} expects {record_format} records for {ctype}; this project cannot prepare that format "
            "yet: give the job a dataset prepared elsewhere."
        )
    if record_format not in catalog.RECORD_FORMATS:
        raise DatasetConfigError(
            f"Unknown record format {record_format!r}; use one of {', '.join(catalog.RECORD_FORMATS)}."
        )
    if record_format != expected:
        warnings.append(
            f"record format {record_format} was forced; {model.id} expects {expected} for {ctype}"
        )
    if hyperparameters:
        validated = catalog.validate_hyperparameters(model.id, hyperparameters, ctype)
        given = validated.get("batchSize")
        if given is not None and batch_size is not None and int(given) != int(batch_size):
            raise DatasetConfigError(
                f"batch_size {batch_size} differs from hyperparameters batchSize {given}; give one."
            )
        batch_size = given if batch_size is None else batch_size
    if batch_size is not None:
        catalog.max_tokens_per_record(model.id, batch_size)  # raises HyperparameterError when out of range
        batch_size = int(batch_size)
    rule = TokenRule.for_model(model, batch_size)
    if not options.validation_set:
        warnings.append(
            f"{model.id} takes no validation set for {ctype} ({', '.join(options.sources) or 'catalog'}): "
            f"{VALIDATION_FILE} is held out for evaluation only and the customization job is not given it"
        )
    return Target(
        model,
        ctype,
        record_format,
        rule,
        tuple(warnings),
        validation_set=options.validation_set,
        reasoning=options.reasoning_content,
    )


def prepare(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    base_model_id: str,
    customization_type: str = "FINE_TUNING",
    record_format: str | None = None,
    mapping: FieldMapping | None = None,
    validation_fraction: float = 0.2,
    seed: int = 0,
    batch_size: int | str | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    on_invalid: str = "fail",
    dedupe: bool = False,
    input_format: str = "auto",
    s3_client: Any = None,
    today: date | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> PrepareReport:
    """Convert, validate and split ``source`` into ``out_dir``/train.jsonl, validation.jsonl and report.json.

    :param source: local path or ``s3://bucket/key`` of a JSON array, JSON Lines or CSV file (UTF-8).
    :param out_dir: output directory, created when missing.
    :param base_model_id: the base model the data is for (any spelling the catalog accepts).
    :param customization_type: FINE_TUNING (default), CONTINUED_PRE_TRAINING or DISTILLATION.
    :param record_format: force an output format instead of the catalog's.
    :param mapping: which input fields hold the prompt, completion, system text, conversation or text.
    :param validation_fraction: share of prompts held out for validation, in [0, 1) (default 0.2).
    :param seed: split seed; the same input, seed and fraction always give byte-identical files.
    :param batch_size: training batch size (Titan's token limit depends on it).
    :param hyperparameters: the job's hyperparameters; checked, and their batchSize used.
    :param on_invalid: ``fail`` (default): any bad record fails the run; ``skip``: drop and report them.
    :param dedupe: drop exact duplicates of earlier records (they are reported either way).
    :param input_format: ``auto`` (default), ``json`` (array), ``jsonl`` or ``csv``.
    :param s3_client: boto3 S3 client for ``s3://`` sources (default: a new client, standard credentials).
    :param today: date for the lifecycle check (default today).
    :param progress: called with a :class:`Progress` every :data:`PROGRESS_EVERY` records and once at the end.
    :return: the report, also written to ``report.json``.
    :raises InvalidDatasetError: the data is invalid; ``.report`` says why, and nothing was written.
    :raises BedrockCustomizationError: a bad request (unknown model, option, missing input).
    """
    target = resolve_target(
        base_model_id,
        customization_type,
        record_format,
        batch_size=batch_size,
        hyperparameters=hyperparameters,
        today=today,
    )
    if on_invalid not in ON_INVALID:
        raise DatasetConfigError(f"on_invalid must be 'fail' or 'skip', not {on_invalid!r}.")
    if not isinstance(validation_fraction, int | float) or not 0 <= validation_fraction < 1:
        raise DatasetConfigError(f"validation_fraction must be in [0, 1), not {validation_fraction!r}.")
    mapper = Mapper(mapping or FieldMapping(), target.record_format, reasoning=target.reasoning)
    validator = RecordValidator(
        target.record_format, target.rule, reserved_words=reserved_words_apply(target.model)
    )
    out = Path(out_dir)
    with (
        open_source(source, s3_client=s3_client) as src,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare-write") as writer,
    ):
        fmt = detect_format(src, input_format)
        report = PrepareReport(
            source=src.name,
            input_format=fmt,
            base_model_id=target.model.id,
            model_name=f"{target.model.provider} {target.model.name}",
            customization_type=target.customization_type,
            record_format=target.record_format,
            validation_fraction=validation_fraction,
            seed=seed,
            on_invalid=on_invalid,
            dedupe=dedupe,
            max_tokens_per_record=target.rule.max_tokens,
            chars_per_token=target.rule.chars_per_token,
            batch_size=target.rule.batch_size,
            input_bytes=src.size,
            warnings=list(target.warnings),
        )
        created = _make_dir(out)
        partials: list[PartialFile] = []
        published: list[Path] = []
        try:
            train = PartialFile(out, TRAIN_FILE, writer)
            partials.append(train)
            validation = PartialFile(out, VALIDATION_FILE, writer)
            partials.append(validation)
            sink = _Sink(
                train,
                validation,
                seed=seed,
                fraction=validation_fraction,
                dedupe=dedupe,
                limits=HardLimits.for_model(target.model),
            )
            _process(
                read_records(src, fmt), report, target.model, mapper, validator, sink,
                skip=on_invalid == "skip", progress=_reporter(src, progress),
            )  # fmt: skip
            if not report.ok:
                raise InvalidDatasetError(report.headline() + "\n" + report.render(), report)
            _publish(out, report, train, validation, published)
        except BaseException:
            for partial in partials:
                partial.discard()
            for path in published:  # a failure part-way through publishing: take back what this run wrote
                _remove(path)
            if created:
                try:
                    out.rmdir()
                except OSError:
                    pass
            raise
    return report


def _process(
    records: Iterator[RawRecord],
    report: PrepareReport,
    model: catalog.BaseModel,
    mapper: Mapper,
    validator: RecordValidator,
    sink: _Sink,
    *,
    skip: bool,
    progress: Callable[[int], None] | None = None,
) -> None:
    """The streaming loop; fills ``report`` and sets ``report.ok`` when the data may be published.

    Stops reading at the first record after which a maximum of the model is passed (``sink.consume`` says
    so); ``progress``, when given, is called with the records read every :data:`PROGRESS_EVERY` records.
    """
    encode = ENCODERS[report.record_format]
    validate = validator.validate
    to_conversation = mapper.map
    consume = sink.consume
    rejections = RejectionLog()
    read = 0
    fatal = False
    stopped_at: int | None = None
    try:
        for record in records:
            read += 1
            if progress is not None and not read % PROGRESS_EVERY:
                progress(read)
            if record.problem is not None:
                problem = record.problem
            else:
                try:
                    conversation = to_conversation(record)
                    estimate = validate(conversation)
                except RecordRejected as exc:
                    problem = exc.problem(record.line)
                else:
                    if consume(encode(conversation), record.line, conversation.split_key(), estimate):
                        stopped_at = record.line  # a maximum is passed for good: the rest cannot help
                        break
                    continue
            rejections.add(problem, read)
            if not skip and sink.train.writing:  # the run will fail: stop writing, keep validating
                sink.stop_writing()
    except FatalInputError as exc:
        rejections.add(exc.problem, read + 1)
        fatal = True
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()  # a generator left part-way: let it release what it holds now
    if progress is not None:
        progress(read)

    train, validation = sink.train, sink.validation
    report.records_read = read
    report.records_rejected = len(rejections)
    report.rejection_counts = dict(rejections.counts)
    report.rejections = rejections.examples
    report.rejection_groups = list(rejections.groups.values())
    report.ungrouped_rejections = rejections.ungrouped
    report.stopped_at_line = stopped_at
    report.duplicates = sink.duplicates
    report.duplicates_dropped = sink.dropped
    report.duplicate_examples = sink.examples
    report.records_written = train.records + validation.records
    report.tokens = sink.tokens.stats(validator.rule.max_tokens)
    report.train_tokens = sink.train_tokens
    report.file_problems = check_files(
        model,
        train_records=train.records,
        validation_records=validation.records,
        train_bytes=train.bytes,
        validation_bytes=validation.bytes,
        validation_fraction=sink.fraction,
        stopped_at=stopped_at,
        min_training_records=model.options(report.customization_type).min_training_records,
    )
    if skip and rejections and not fatal:
        report.warnings.append(f"{len(rejections):,} invalid records were skipped (on_invalid='skip')")
    if not validation.records and train.records:
        report.warnings.append(
            "no validation records (validation fraction 0 or too few prompts): none written"
        )
    report.ok = not fatal and stopped_at is None and not report.file_problems and (skip or not rejections)


def _reporter(src: Source, progress: Callable[[Progress], None] | None) -> Callable[[int], None] | None:
    """``progress`` as a function of the records read, adding the position in ``src``."""
    if progress is None:
        return None

    def report(records_read: int) -> None:
        progress(Progress(records_read, src.position(), src.size))

    return report


_MASK64 = (1 << 64) - 1


class _Sink:
    """Where valid records go: duplicate detection, the train/validation split, token statistics, files."""

    def __init__(
        self,
        train: PartialFile,
        validation: PartialFile,
        *,
        seed: int,
        fraction: float,
        dedupe: bool,
        limits: HardLimits | None = None,
    ) -> None:
        self.limits = limits
        self.train = train
        self.validation = validation
        self.seed = seed
        self.fraction = fraction
        self.dedupe = dedupe
        # Duplicate detection keeps one 128-bit key and the first line per distinct record (about 150 bytes,
        # a few MB for the 10,000-20,000 records models accept), never the records. The key is the record's
        # length and Python's 64-bit keyed SipHash of its bytes: a few times cheaper than SHA-256 on long
        # records; keyed with a per-process random secret, so a false duplicate has odds of about n^2 / 2^65
        # (1e-11 for 20,000 records) whatever the data.
        self.seen: dict[int, int] = {}
        self.duplicates = 0
        self.dropped = 0
        self.examples: list[dict[str, int]] = []
        self.tokens = TokenHistogram()
        #: Estimated tokens of the training records (what a job trains on once per epoch: cost estimates).
        self.train_tokens = 0

    def consume(self, line: bytes, number: int, split_key: str, estimate: int) -> bool:
        """Take one valid record; True when, with it, the files pass one of the model's maximums."""
        first = self.seen.setdefault(len(line) << 64 | hash(line) & _MASK64, number)
        if first != number:
            self.duplicates += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append({"line": number, "duplicate_of": first})
            if self.dedupe:
                self.dropped += 1
                return False
        self.tokens.add(estimate)
        side = assign_split(split_key, seed=self.seed, validation_fraction=self.fraction)
        (self.validation if side == VALIDATION else self.train).write(line)
        if side != VALIDATION:
            self.train_tokens += estimate
        train, validation = self.train, self.validation
        return self.limits is not None and self.limits.exceeded(
            train.records, validation.records, train.bytes, validation.bytes
        )

    def stop_writing(self) -> None:
        self.train.discard()
        self.validation.discard()


def _publish(
    out: Path, report: PrepareReport, train: PartialFile, validation: PartialFile, published: list[Path]
) -> None:
    """Rename the files into place, report last; a stale report goes first so it never describes new files.

    Each path is appended to ``published`` as soon as it holds this run's data, for the caller to remove
    should a later step fail.
    """
    _remove(out / REPORT_FILE)
    published.append(out / TRAIN_FILE)
    report.train = train.publish(out / TRAIN_FILE)
    if validation.records:
        published.append(out / VALIDATION_FILE)
        report.validation = validation.publish(out / VALIDATION_FILE)
    else:
        validation.discard()
        _remove(out / VALIDATION_FILE)
    partial = PartialFile(out, REPORT_FILE)
    try:
        partial.write(report.to_json())
        published.append(out / REPORT_FILE)
        partial.publish(out / REPORT_FILE)
    except BaseException:
        partial.discard()
        raise


def _make_dir(out: Path) -> bool:
    """Create the output directory; True when this call created it."""
    if out.is_dir():
        return False
    try:
        out.mkdir(parents=True)
    except FileExistsError as exc:
        raise DatasetConfigError(f"Output {out} exists and is not a directory.") from exc
    except OSError as exc:
        raise DatasetConfigError(f"Cannot create output directory {out}: {exc.strerror}.") from exc
    return True


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
