"""The customizable Amazon Bedrock base models and the rules each one imposes.

The facts live in the package data file ``data/models.json``, one entry per base model: its
``baseModelIdentifier`` and on-demand id, regions, lifecycle, the customization types it offers with the
JSON Lines record format each expects, dataset limits (records, tokens per record, file sizes, images)
and hyperparameter ranges with defaults, the per-customization-type options (whether a validation set is taken,
whether records may carry reasoning content, type-specific hyperparameters), the inference profile its baseline
is invoked through, on-demand deployment eligibility, and the AWS pages each entry was checked against with the
date of that review. ``null`` there means "not documented": checks are skipped, never guessed. Models AWS no
longer offers for customization are kept in a small ``withdrawn`` section so that asking for one explains why
and names a replacement. The file's ``_notes`` explain units and conventions; to add or correct a model, edit
the JSON.

This module loads the file once into frozen dataclasses and answers questions about it. It imports only
the standard library, so DAG files, operators, validators and the CLI can all use it at parse time.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

from bedrock_customization.exceptions import (
    BedrockCustomizationError,
    HyperparameterError,
    UnknownModelError,
    UnsupportedCustomizationError,
    WithdrawnModelError,
)

__all__ = [
    "CUSTOMIZATION_TYPES",
    "LIFECYCLE_STATUSES",
    "RECORD_FORMATS",
    "BaseModel",
    "CustomizationOptions",
    "DistillationTeacher",
    "HyperparameterSpec",
    "Lifecycle",
    "Limits",
    "OnDemandDeployment",
    "TokenStep",
    "ValidatedHyperparameters",
    "WithdrawnModel",
    "check_customization",
    "check_teacher",
    "default_hyperparameters",
    "distillation_teachers",
    "get_model",
    "lifecycle_warning",
    "list_families",
    "list_models",
    "list_withdrawn",
    "max_tokens_per_record",
    "offered_customization_types",
    "on_demand_deployment_problem",
    "on_demand_deployment_supported",
    "parse_models",
    "parse_withdrawn",
    "reasoning_content_supported",
    "record_format",
    "resolve_inference_id",
    "reviewed",
    "supports",
    "validate_hyperparameters",
    "validation_set_supported",
    "withdrawn_ids",
    "withdrawn_model",
]

#: Values of ``customizationType`` accepted by CreateModelCustomizationJob.
CUSTOMIZATION_TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING")
#: Types whose data preparation pages document model invocation logs as training data
#: (trainingDataConfig.invocationLogsConfig; "Option 2" of distillation-data-prep and rft pages).
INVOCATION_LOG_TYPES = ("DISTILLATION", "REINFORCEMENT_FINE_TUNING")
#: Record formats of training datasets (one JSON object per line).
RECORD_FORMATS = (
    "prompt_completion",
    "claude_messages",
    "bedrock_conversation_2024",
    "continued_pretraining",
    "distillation_prompts",
    "rft_prompts",
)
LIFECYCLE_STATUSES = ("ACTIVE", "LEGACY", "EOL")

_DATA_FILE = "models.json"
#: A teacher's foundation-model or inference-profile ARN; ``model_id`` is what follows the resource type.
_TEACHER_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:(?:foundation-model|inference-profile)/(?P<model_id>.+)$"
)
_FOUNDATION_MODEL_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:foundation-model/(?P<model_id>.+)$"
)


# --------------------------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class HyperparameterSpec:
    """One hyperparameter's type, inclusive range, default and optional allowed values.

    ``type`` is ``int``, ``float`` or ``str``; a ``str`` hyperparameter (RFT's reasoningEffort) is a choice among
    ``choices`` and has no range. ``min``/``max`` of ``None`` mean the bound is not documented (not checked);
    a ``default`` of ``None`` means AWS documents none: nothing is sent and Bedrock chooses.
    """

    name: str
    type: Literal["int", "float", "str"]
    min: int | float | None
    max: int | float | None
    default: int | float | str | None
    description: str = ""
    choices: tuple[int | float | str, ...] | None = None

    @property
    def fixed(self) -> bool:
        """True when the range admits a single value (e.g. Llama's batchSize 1)."""
        return self.min is not None and self.min == self.max

    def allowed(self) -> str:
        """The allowed values in words: ``5e-06..0.1``, ``fixed at 8``, ``one of 1, 2`` or ``>= 1``."""
        if self.choices:
            return "one of " + ", ".join(_show(choice) for choice in self.choices)
        if self.fixed:
            return f"fixed at {_show(self.min)}"
        if self.min is not None and self.max is not None:
            return f"{_show(self.min)}..{_show(self.max)}"
        if self.min is not None:
            return f">= {_show(self.min)}"
        if self.max is not None:
            return f"<= {_show(self.max)}"
        return "any integer" if self.type == "int" else "any number"

    def compact(self) -> str:
        """Short form for tables: ``epochCount 1..10 (5)`` or ``batchSize =1``."""
        if self.fixed and not self.choices:
            return f"{self.name} ={_show(self.min)}"
        allowed = "|".join(_show(c) for c in self.choices) if self.choices else self.allowed()
        default = f" ({_show(self.default)})" if self.default is not None else ""
        return f"{self.name} {allowed}{default}"

    def default_string(self) -> str | None:
        """The default as the string Bedrock expects in ``hyperParameters`` (None: no documented default)."""
        return None if self.default is None else _wire(self.default, self.type)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "min": self.min,
            "max": self.max,
            "default": self.default,
            "description": self.description,
        }
        if self.choices is not None:
            data["choices"] = list(self.choices)
        return data


@dataclass(frozen=True)
class TokenStep:
    """Titan's batch-size-dependent limit: up to ``batch_size_max``, a record may have ``max_tokens``."""

    batch_size_max: int
    max_tokens: int


@dataclass(frozen=True)
class Limits:
    """Dataset limits of one base model; ``None`` means the limit is not documented."""

    max_tokens_per_record: int
    token_steps: tuple[TokenStep, ...] = ()
    min_training_records: int | None = None
    max_training_records: int | None = None
    max_validation_records: int | None = None
    max_total_records: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    chars_per_token: float = 4
    max_training_file_bytes: int | None = None
    max_validation_file_bytes: int | None = None
    max_images_per_sample: int | None = None
    max_image_bytes: int | None = None

    def tokens_for_batch(self, batch_size: int | None) -> int:
        """Token limit per record at ``batch_size``; models without steps ignore the batch size.

        Beyond the last documented step the last step's limit is assumed (see the data file's notes).
        """
        if not self.token_steps or batch_size is None:
            return self.max_tokens_per_record
        for step in self.token_steps:
            if batch_size <= step.batch_size_max:
                return step.max_tokens
        return self.token_steps[-1].max_tokens

    def estimate_tokens(self, chars: int) -> int:
        """Conservative token estimate for a text of ``chars`` characters."""
        return math.ceil(chars / self.chars_per_token)

    def to_dict(self) -> dict[str, Any]:
        tokens: int | list[dict[str, int]] = self.max_tokens_per_record
        if self.token_steps:
            tokens = [
                {"batch_size_max": s.batch_size_max, "max_tokens": s.max_tokens} for s in self.token_steps
            ]
        return {
            "min_training_records": self.min_training_records,
            "max_training_records": self.max_training_records,
            "max_validation_records": self.max_validation_records,
            "max_total_records": self.max_total_records,
            "max_tokens_per_record": tokens,
            "max_input_tokens": self.max_input_tokens,
            "max_output_tokens": self.max_output_tokens,
            "chars_per_token": self.chars_per_token,
            "max_training_file_bytes": self.max_training_file_bytes,
            "max_validation_file_bytes": self.max_validation_file_bytes,
            "max_images_per_sample": self.max_images_per_sample,
            "max_image_bytes": self.max_image_bytes,
        }


class _JsonFields:
    """``to_dict``: a catalog entry's fields as ``data/models.json`` holds them (tuples as lists, dates in ISO
    8601), for the entries whose fields are those of the file."""

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, tuple):
                return list(value)
            return value.isoformat() if isinstance(value, date) else value

        return {item.name: plain(getattr(self, item.name)) for item in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Lifecycle(_JsonFields):
    """Lifecycle state as recorded in the data file, plus the end-of-life date when known."""

    status: str
    end_of_life: date | None = None
    replacements: tuple[str, ...] = ()

    def status_on(self, today: date) -> str:
        """The state on ``today``: a known end-of-life date overrides the recorded status."""
        if self.end_of_life is not None:
            if today >= self.end_of_life:
                return "EOL"
            if self.status == "EOL":
                return "LEGACY"
        return self.status


@dataclass(frozen=True)
class CustomizationOptions:
    """What one customization type of one model accepts beyond its record format.

    :ivar validation_set: whether the job takes a validation set (``validationDataConfig``); Nova 2 Lite's
        supervised fine-tuning does not. Prepared data still holds out a split for this project's evaluation.
    :ivar reasoning_content: whether assistant turns may carry ``reasoningContent`` blocks (Nova 2 Lite SFT).
    :ivar hyperparameters: this type's own hyperparameters (RFT), or None for the model's ``hyperparameters``.
    :ivar min_training_records: this type's own minimum of training records when higher than the model's
        (RFT: 100), or None.
    :ivar sources: the pages documenting these options.
    """

    validation_set: bool = True
    reasoning_content: bool = False
    hyperparameters: Mapping[str, HyperparameterSpec] | None = field(default=None, hash=False)
    sources: tuple[str, ...] = ()
    min_training_records: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "validation_set": self.validation_set,
            "reasoning_content": self.reasoning_content,
        }
        if self.hyperparameters is not None:
            data["hyperparameters"] = {name: spec.to_dict() for name, spec in self.hyperparameters.items()}
        if self.min_training_records is not None:
            data["min_training_records"] = self.min_training_records
        data["sources"] = list(self.sources)
        return data


_DEFAULT_OPTIONS = CustomizationOptions()


@dataclass(frozen=True)
class OnDemandDeployment(_JsonFields):
    """Where and for which custom models CreateCustomModelDeployment (on-demand inference) is documented."""

    regions: tuple[str, ...]
    customized_on_or_after: date | None = None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class WithdrawnModel(_JsonFields):
    """A base model AWS no longer offers for customization, kept so that asking for it explains why."""

    id: str
    on_demand_id: str
    name: str
    provider: str
    reason: str
    sources: tuple[str, ...]
    replacements: tuple[str, ...]
    reviewed: date | None = None

    def message(self) -> str:
        """The sentence :class:`WithdrawnModelError` carries."""
        instead = " or ".join(self.replacements)
        return (
            f"{self.id} ({self.provider} {self.name}) is no longer offered for customization: {self.reason} "
            f"(see {', '.join(self.sources)}). Choose {instead} instead."
        )


@dataclass(frozen=True)
class DistillationTeacher:
    """A teacher model of DISTILLATION jobs and the students (base model ids) it may teach."""

    id: str
    name: str
    provider: str
    regions: tuple[str, ...]
    lifecycle: Lifecycle
    students: tuple[str, ...]
    sources: tuple[str, ...]
    inference_profile_id: str | None = None
    reviewed: date | None = None

    def spellings(self) -> tuple[str, ...]:
        """The ids ``teacherModelIdentifier`` may name it by (its ARN is recognised too)."""
        return tuple(s for s in (self.id, self.inference_profile_id) if s)


@dataclass(frozen=True)
class BaseModel:
    """A customizable Bedrock base model and its customization rules."""

    id: str
    on_demand_id: str
    name: str
    provider: str
    family: str
    regions: tuple[str, ...]
    lifecycle: Lifecycle
    customization_types: tuple[str, ...]
    record_formats: Mapping[str, str] = field(hash=False)
    limits: Limits
    hyperparameters: Mapping[str, HyperparameterSpec] = field(hash=False)
    multimodal: bool = False
    notes: tuple[str, ...] = ()
    #: The inference profile the base model is invoked through on demand (Llama 3.2, Nova 2 Lite), else None.
    inference_profile_id: str | None = None
    #: Where custom models of this base model can be deployed on demand; None: not documented.
    on_demand_deployment: OnDemandDeployment | None = None
    customization_options: Mapping[str, CustomizationOptions] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    #: The AWS pages this entry was checked against, and when.
    sources: tuple[str, ...] = ()
    reviewed: date | None = None

    @property
    def inference_id(self) -> str:
        """The id to invoke the base model with on demand: its inference profile when it needs one."""
        return self.inference_profile_id or self.on_demand_id

    @property
    def supports_on_demand_deployment(self) -> bool:
        """Whether custom models of this base model can be deployed on demand somewhere (see
        :func:`on_demand_deployment_supported` for a region and customization date)."""
        return self.on_demand_deployment is not None

    def supports(self, customization_type: str) -> bool:
        return _customization_type(customization_type) in self.customization_types

    def options(self, customization_type: str) -> CustomizationOptions:
        """The options of ``customization_type`` (defaults when the file records none)."""
        return self.customization_options.get(_customization_type(customization_type), _DEFAULT_OPTIONS)

    def hyperparameters_for(self, customization_type: str) -> Mapping[str, HyperparameterSpec]:
        """The hyperparameters of ``customization_type``: its own (RFT) or the model's."""
        own = self.options(customization_type).hyperparameters
        return self.hyperparameters if own is None else own

    def foundation_model_arn(self, region: str, partition: str = "aws") -> str:
        """ARN of the base model in ``region``, as IAM policies and some APIs expect it."""
        return f"arn:{partition}:bedrock:{region}::foundation-model/{self.id}"

    def to_dict(self) -> dict[str, Any]:
        """The entry in the shape of ``data/models.json`` (``parse_models`` reads it back)."""
        return {
            "id": self.id,
            "on_demand_id": self.on_demand_id,
            "inference_profile_id": self.inference_profile_id,
            "name": self.name,
            "provider": self.provider,
            "family": self.family,
            "regions": list(self.regions),
            "lifecycle": self.lifecycle.to_dict(),
            "customization_types": list(self.customization_types),
            "record_format": dict(self.record_formats),
            "customization_options": {
                ctype: options.to_dict() for ctype, options in self.customization_options.items()
            },
            "limits": self.limits.to_dict(),
            "hyperparameters": {name: spec.to_dict() for name, spec in self.hyperparameters.items()},
            "on_demand_deployment": self.on_demand_deployment.to_dict()
            if self.on_demand_deployment
            else None,
            "multimodal": self.multimodal,
            "sources": list(self.sources),
            "reviewed": self.reviewed.isoformat() if self.reviewed else None,
            "_notes": list(self.notes),
        }


class ValidatedHyperparameters(dict[str, str]):
    """``hyperParameters`` ready for CreateModelCustomizationJob (a plain ``dict[str, str]``), plus context.

    :ivar model_id: the base model the values were checked against.
    :ivar customization_type: the customization type they were checked for.
    :ivar max_tokens_per_record: the token limit per record these values imply (Titan: set by batchSize).
    :ivar notes: explanations worth showing to the user, e.g. how batchSize lowers the token limit.
    """

    def __init__(
        self,
        values: Mapping[str, str],
        *,
        model_id: str,
        customization_type: str,
        max_tokens_per_record: int,
        notes: Iterable[str] = (),
    ) -> None:
        super().__init__(values)
        self.model_id = model_id
        self.customization_type = customization_type
        self.max_tokens_per_record = max_tokens_per_record
        self.notes = tuple(notes)


# ------------------------------------------------------------------------------------------------ loading


def parse_models(document: Mapping[str, Any]) -> tuple[BaseModel, ...]:
    """Build and cross-check the models of a ``models.json`` document; raises on inconsistent data."""
    models = tuple(_parse_model(entry) for entry in document["models"])
    ids = [m.id for m in models]
    on_demand = [m.on_demand_id for m in models]
    for label, values in (("id", ids), ("on_demand_id", on_demand)):
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise BedrockCustomizationError(f"{_DATA_FILE}: duplicate {label}: {', '.join(duplicates)}")
    for model in models:
        for replacement in model.lifecycle.replacements:
            if replacement not in ids or replacement == model.id:
                raise BedrockCustomizationError(
                    f"{_DATA_FILE}: {model.id}: replacement {replacement!r} is not another model in the file"
                )
    return models


def parse_withdrawn(document: Mapping[str, Any], models: Iterable[BaseModel]) -> tuple[WithdrawnModel, ...]:
    """The ``withdrawn`` section: each entry needs a reason, a source and a replacement among ``models``."""
    active = {m.id: m for m in models}
    active_ids = {spelling.lower() for m in active.values() for spelling in (m.id, m.on_demand_id)}
    withdrawn = []
    for entry in document.get("withdrawn", ()):
        model_id = entry.get("id", "<entry without id>")
        try:
            item = WithdrawnModel(
                **_names(entry),
                reason=entry["reason"],
                sources=tuple(entry["sources"]),
                replacements=tuple(entry["replacements"]),
                reviewed=_date(entry.get("reviewed")),
            )
            if not item.sources or not item.replacements:
                raise ValueError("a withdrawn model needs at least one source and one replacement")
            for replacement in item.replacements:
                if replacement not in active:
                    raise ValueError(f"replacement {replacement!r} is not a customizable model in the file")
            if {item.id.lower(), item.on_demand_id.lower()} & active_ids:
                raise ValueError("a withdrawn model cannot also be customizable")
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise BedrockCustomizationError(f"{_DATA_FILE}: withdrawn {model_id}: {detail}") from exc
        withdrawn.append(item)
    return tuple(withdrawn)


def parse_teachers(
    document: Mapping[str, Any], models: Iterable[BaseModel]
) -> tuple[DistillationTeacher, ...]:
    """The ``distillation_teachers`` section: each student must be a catalogued model offering DISTILLATION."""
    students = {m.id: m for m in models if "DISTILLATION" in m.customization_types}
    teachers = []
    for entry in document.get("distillation_teachers", ()):
        teacher_id = entry.get("id", "<entry without id>")
        try:
            lifecycle = entry["lifecycle"]
            if lifecycle["status"] not in LIFECYCLE_STATUSES:
                raise ValueError(f"unknown lifecycle status {lifecycle['status']!r}")
            teacher = DistillationTeacher(
                id=entry["id"],
                name=entry["name"],
                provider=entry["provider"],
                regions=tuple(entry["regions"]),
                lifecycle=Lifecycle(
                    status=lifecycle["status"],
                    end_of_life=_date(lifecycle.get("end_of_life")),
                    replacements=tuple(lifecycle.get("replacements", ())),
                ),
                students=tuple(entry["students"]),
                sources=tuple(entry["sources"]),
                inference_profile_id=entry.get("inference_profile_id") or None,
                reviewed=_date(entry.get("reviewed")),
            )
            if not teacher.students or not teacher.sources:
                raise ValueError("a teacher needs at least one student and one source")
            unknown = [student for student in teacher.students if student not in students]
            if unknown:
                raise ValueError(f"students that are no catalogued DISTILLATION model: {', '.join(unknown)}")
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise BedrockCustomizationError(
                f"{_DATA_FILE}: distillation teacher {teacher_id}: {detail}"
            ) from exc
        teachers.append(teacher)
    return tuple(teachers)


def _parse_model(entry: Mapping[str, Any]) -> BaseModel:
    model_id = entry.get("id", "<entry without id>")
    try:
        types = tuple(entry["customization_types"])
        formats = dict(entry["record_format"])
        for ctype in types:
            if ctype not in CUSTOMIZATION_TYPES:
                raise ValueError(f"unknown customization type {ctype!r}")
        if set(formats) != set(types):
            raise ValueError("record_format must have exactly one entry per customization type")
        for fmt in formats.values():
            if fmt not in RECORD_FORMATS:
                raise ValueError(f"unknown record format {fmt!r}")
        options = {
            ctype: _parse_options(ctype, data)
            for ctype, data in entry.get("customization_options", {}).items()
        }
        unknown = sorted(set(options) - set(types))
        if unknown:
            raise ValueError(f"customization_options for types the model lacks: {', '.join(unknown)}")
        lifecycle = entry["lifecycle"]
        if lifecycle["status"] not in LIFECYCLE_STATUSES:
            raise ValueError(f"unknown lifecycle status {lifecycle['status']!r}")
        deployment = entry.get("on_demand_deployment")
        return BaseModel(
            **_names(entry),
            family=entry["family"],
            regions=tuple(entry["regions"]),
            lifecycle=Lifecycle(
                status=lifecycle["status"],
                end_of_life=_date(lifecycle.get("end_of_life")),
                replacements=tuple(lifecycle.get("replacements", ())),
            ),
            customization_types=types,
            record_formats=MappingProxyType(formats),
            limits=_parse_limits(entry["limits"]),
            hyperparameters=MappingProxyType(
                {name: _parse_spec(name, spec) for name, spec in entry["hyperparameters"].items()}
            ),
            multimodal=bool(entry.get("multimodal", False)),
            notes=tuple(entry.get("_notes", ())),
            inference_profile_id=entry.get("inference_profile_id") or None,
            on_demand_deployment=_parse_deployment(deployment) if deployment else None,
            customization_options=MappingProxyType(options),
            sources=tuple(entry.get("sources", ())),
            reviewed=_date(entry.get("reviewed")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise BedrockCustomizationError(f"{_DATA_FILE}: {model_id}: {detail}") from exc


def _parse_options(ctype: str, data: Mapping[str, Any]) -> CustomizationOptions:
    specs = data.get("hyperparameters")
    return CustomizationOptions(
        validation_set=bool(data.get("validation_set", True)),
        reasoning_content=bool(data.get("reasoning_content", False)),
        hyperparameters=(
            MappingProxyType({name: _parse_spec(name, spec) for name, spec in specs.items()})
            if specs is not None
            else None
        ),
        sources=tuple(data.get("sources", ())),
        min_training_records=data.get("min_training_records"),
    )


def _names(entry: Mapping[str, Any]) -> dict[str, str]:
    """What names a base model, customizable or withdrawn: ``id``, ``on_demand_id``, ``name``, ``provider``."""
    return {key: entry[key] for key in ("id", "on_demand_id", "name", "provider")}


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _parse_deployment(data: Mapping[str, Any]) -> OnDemandDeployment:
    regions = tuple(data["regions"])
    if not regions:
        raise ValueError("on_demand_deployment needs at least one region (or null when undocumented)")
    return OnDemandDeployment(
        regions=regions,
        customized_on_or_after=_date(data.get("customized_on_or_after")),
        sources=tuple(data.get("sources", ())),
    )


def _parse_limits(data: Mapping[str, Any]) -> Limits:
    tokens = data["max_tokens_per_record"]
    steps: tuple[TokenStep, ...] = ()
    if isinstance(tokens, list):
        steps = tuple(TokenStep(int(s["batch_size_max"]), int(s["max_tokens"])) for s in tokens)
        if not steps or [s.batch_size_max for s in steps] != sorted({s.batch_size_max for s in steps}):
            raise ValueError("max_tokens_per_record steps must be non-empty and ordered by batch_size_max")
        tokens = max(s.max_tokens for s in steps)
    if not isinstance(tokens, int) or tokens <= 0:
        raise ValueError("max_tokens_per_record must be a positive integer or a list of steps")
    optional = {
        name: data.get(name)
        for name in (
            "min_training_records",
            "max_training_records",
            "max_validation_records",
            "max_total_records",
            "max_input_tokens",
            "max_output_tokens",
            "max_training_file_bytes",
            "max_validation_file_bytes",
            "max_images_per_sample",
            "max_image_bytes",
        )
    }
    chars_per_token = data.get("chars_per_token", 4)
    if not isinstance(chars_per_token, int | float) or chars_per_token <= 0:
        raise ValueError("chars_per_token must be a positive number")
    return Limits(
        max_tokens_per_record=tokens, token_steps=steps, chars_per_token=chars_per_token, **optional
    )


def _parse_spec(name: str, data: Mapping[str, Any]) -> HyperparameterSpec:
    kind = data["type"]
    if kind not in ("int", "float", "str"):
        raise ValueError(f"hyperparameter {name}: type must be 'int', 'float' or 'str', not {kind!r}")
    raw_default = data.get("default")
    if kind == "str":
        if data.get("min") is not None or data.get("max") is not None or not data.get("choices"):
            raise ValueError(f"hyperparameter {name}: a 'str' hyperparameter has choices and no range")
        choices = tuple(str(c) for c in data["choices"])
        default = None if raw_default is None else str(raw_default)
        if default is not None and default not in choices:
            raise ValueError(f"hyperparameter {name}: default {default} is not one of its choices")
        return HyperparameterSpec(name, kind, None, None, default, data.get("description", ""), choices)
    convert = _to_int if kind == "int" else float
    low, high, default = (
        None if data.get(key) is None else convert(data[key]) for key in ("min", "max", "default")
    )
    choices = tuple(convert(c) for c in data["choices"]) if data.get("choices") is not None else None
    if low is not None and high is not None and low > high:
        raise ValueError(f"hyperparameter {name}: min {low} is above max {high}")
    if default is not None and (
        (low is not None and default < low)
        or (high is not None and default > high)
        or (choices is not None and default not in choices)
    ):
        raise ValueError(f"hyperparameter {name}: default {default} is not allowed by its own range/choices")
    return HyperparameterSpec(name, kind, low, high, default, data.get("description", ""), choices)


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


@functools.cache
def _document() -> Mapping[str, Any]:
    text = resources.files("bedrock_customization").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def _catalog() -> tuple[tuple[BaseModel, ...], Mapping[str, BaseModel]]:
    """The models in file order and every accepted spelling of an id (lower case) mapped to its model."""
    models = parse_models(_document())
    return models, _aliases(models)


@functools.cache
def _withdrawn() -> tuple[tuple[WithdrawnModel, ...], Mapping[str, WithdrawnModel]]:
    """The withdrawn models in file order and every spelling of their ids (lower case)."""
    items = parse_withdrawn(_document(), _catalog()[0])
    return items, _aliases(items)


@functools.cache
def _teachers() -> tuple[DistillationTeacher, ...]:
    return parse_teachers(_document(), _catalog()[0])


def _aliases(models: Iterable[BaseModel | WithdrawnModel]) -> Mapping[str, Any]:
    models = tuple(models)
    aliases: dict[str, Any] = {}
    # Unambiguous ":"-prefixes of an id also name it, e.g. amazon.nova-lite-v1:0.
    prefix_owners: dict[str, set[str]] = {}
    for model in models:
        parts = model.id.split(":")
        for end in range(1, len(parts)):
            prefix_owners.setdefault(":".join(parts[:end]).lower(), set()).add(model.id)
    by_id = {model.id: model for model in models}
    for prefix, owners in prefix_owners.items():
        if len(owners) == 1:
            aliases[prefix] = by_id[next(iter(owners))]
    for model in models:
        aliases[model.on_demand_id.lower()] = model
        aliases[model.id.lower()] = model
        profile = getattr(model, "inference_profile_id", None)
        if profile:
            aliases[profile.lower()] = model
    return MappingProxyType(aliases)


def reviewed() -> date:
    """When the data file was last reviewed against the AWS documentation (its top-level ``reviewed``)."""
    return date.fromisoformat(_document()["reviewed"])


# ---------------------------------------------------------------------------------------------- queries


def list_models(
    *, family: str | None = None, region: str | None = None, customization_type: str | None = None
) -> tuple[BaseModel, ...]:
    """All catalogued base models in file order, optionally filtered; an unknown family raises."""
    models, _ = _catalog()
    if family is not None:
        families = list_families()
        if family not in families:
            close = difflib.get_close_matches(family, families, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise BedrockCustomizationError(
                f"Unknown model family {family!r}.{hint} Families: {', '.join(families)}"
            )
        models = tuple(m for m in models if m.family == family)
    if region is not None:
        models = tuple(m for m in models if region in m.regions)
    if customization_type is not None:
        ctype = _customization_type(customization_type)
        models = tuple(m for m in models if ctype in m.customization_types)
    return models


def list_families() -> tuple[str, ...]:
    """Family keys in file order."""
    return tuple(dict.fromkeys(m.family for m in _catalog()[0]))


def get_model(model_id: str) -> BaseModel:
    """Look up a base model by its full id, its on-demand id or its foundation-model ARN."""
    key = model_id.strip().lower()
    match = _FOUNDATION_MODEL_ARN.match(key)
    if match:
        key = match["model_id"]
    models, aliases = _catalog()
    if key in aliases:
        return aliases[key]
    gone = _withdrawn()[1].get(key)
    if gone is not None:
        raise WithdrawnModelError(model_id, gone.message(), gone.replacements, gone.sources)
    close = difflib.get_close_matches(key, list(aliases), n=1, cutoff=0.6)
    raise UnknownModelError(
        model_id, known=[m.id for m in models], suggestion=aliases[close[0]].id if close else None
    )


def list_withdrawn() -> tuple[WithdrawnModel, ...]:
    """Models AWS no longer offers for customization, in file order."""
    return _withdrawn()[0]


def withdrawn_ids() -> frozenset[str]:
    """Every id (customization and on-demand) of the withdrawn models, as ListFoundationModels spells them."""
    return frozenset(spelling for item in list_withdrawn() for spelling in (item.id, item.on_demand_id))


def withdrawn_model(model_id: str) -> WithdrawnModel | None:
    """The withdrawn entry ``model_id`` names (any spelling :func:`get_model` accepts), or None."""
    key = model_id.strip().lower()
    match = _FOUNDATION_MODEL_ARN.match(key)
    return _withdrawn()[1].get(match["model_id"] if match else key)


def supports(model_id: str, customization_type: str) -> bool:
    """Whether the model offers ``customization_type`` (which must be a Bedrock customizationType)."""
    return get_model(model_id).supports(customization_type)


def distillation_teachers(
    student_id: str, today: date | None = None, *, include_eol: bool = False
) -> tuple[DistillationTeacher, ...]:
    """The teachers documented for the student ``student_id`` (any spelling :func:`get_model` accepts), in file
    order; those past end of life on ``today`` only with ``include_eol``."""
    student = get_model(student_id)
    today = today or date.today()
    return tuple(
        teacher
        for teacher in _teachers()
        if student.id in teacher.students and (include_eol or teacher.lifecycle.status_on(today) != "EOL")
    )


def offered_customization_types(model_id: str, today: date | None = None) -> tuple[str, ...]:
    """The customization types a job for ``model_id`` can use on ``today``: the model's types, without
    DISTILLATION when none of its teachers is before end of life (and none at all for a model past it)."""
    model = get_model(model_id)
    today = today or date.today()
    if model.lifecycle.status_on(today) == "EOL":
        return ()
    return tuple(
        ctype
        for ctype in model.customization_types
        if ctype != "DISTILLATION" or distillation_teachers(model.id, today)
    )


def check_customization(model_id: str, customization_type: str, today: date | None = None) -> str:
    """The normalised ``customization_type`` when ``model_id`` offers it on ``today``; else
    :class:`UnsupportedCustomizationError` naming the model, what it offers and which models offer the type."""
    model = get_model(model_id)
    ctype = _customization_type(customization_type)
    today = today or date.today()
    offered = offered_customization_types(model.id, today)
    if ctype in offered:
        return ctype
    others = [
        m.id for m in list_models() if m.id != model.id and ctype in offered_customization_types(m.id, today)
    ]
    if ctype == "DISTILLATION" and ctype in model.customization_types:
        gone = ", ".join(
            f"{t.id} (end of life {t.lifecycle.end_of_life.isoformat() if t.lifecycle.end_of_life else 'passed'})"
            for t in distillation_teachers(model.id, today, include_eol=True)
        )
        reason = f"every teacher documented for it is past end of life: {gone}"
    elif model.lifecycle.status_on(today) == "EOL":
        reason = "it is past end of life"
    else:
        reason = "AWS does not document it for this model"
    elsewhere = (
        f" Base models that offer {ctype}: {', '.join(others)}."
        if others
        else f" No catalogued base model offers {ctype} now."
    )
    raise UnsupportedCustomizationError(
        f"{model.id} ({model.name}) cannot be customized with {ctype}: {reason}. It offers "
        f"{', '.join(offered) or 'no customization type now'}.{elsewhere}",
        model_id=model.id,
        customization_type=ctype,
        supported=offered,
    )


def check_teacher(student_id: str, teacher_id: str | None, today: date | None = None) -> DistillationTeacher:
    """The catalogued teacher ``teacher_id`` names (on-demand id, inference profile or ARN) when it may teach
    ``student_id`` on ``today``; else :class:`BedrockCustomizationError` listing the valid teachers."""
    student = get_model(student_id)
    today = today or date.today()
    valid = distillation_teachers(student.id, today)
    listing = ", ".join(t.id for t in valid) or "none (no documented teacher is before end of life)"
    if not teacher_id or not str(teacher_id).strip():
        raise BedrockCustomizationError(
            f"teacher_model_id is empty: DISTILLATION of {student.id} needs a teacher model. Valid teachers: "
            f"{listing}."
        )
    key = str(teacher_id).strip().lower()
    match = _TEACHER_ARN.match(key)
    if match:
        key = match["model_id"]
    for teacher in _teachers():
        if key in (spelling.lower() for spelling in teacher.spellings()):
            if teacher in valid:
                return teacher
            if student.id not in teacher.students:
                why = f"AWS does not document {teacher.id} as a teacher of {student.id}"
            else:
                eol = teacher.lifecycle.end_of_life
                why = f"{teacher.id} is past end of life{f' since {eol.isoformat()}' if eol else ''}"
            raise BedrockCustomizationError(
                f"teacher_model_id {teacher_id!r} cannot teach {student.id}: {why}. Valid teachers: {listing}."
            )
    raise BedrockCustomizationError(
        f"teacher_model_id {teacher_id!r} is not a documented distillation teacher of {student.id}. "
        f"Valid teachers: {listing} (see {', '.join(sorted({s for t in _teachers() for s in t.sources}))})."
    )


def record_format(model_id: str, customization_type: str = "FINE_TUNING") -> str:
    """The record format the model's training data must use for ``customization_type``."""
    model = get_model(model_id)
    return model.record_formats[_require_supported(model, customization_type)]


def default_hyperparameters(model_id: str, customization_type: str = "FINE_TUNING") -> dict[str, str]:
    """Every documented default of ``customization_type``'s hyperparameters, as strings."""
    model = get_model(model_id)
    specs = model.hyperparameters_for(_require_supported(model, customization_type))
    defaults = {name: spec.default_string() for name, spec in specs.items()}
    return {name: value for name, value in defaults.items() if value is not None}


def validation_set_supported(model_id: str, customization_type: str = "FINE_TUNING") -> bool:
    """Whether a ``customization_type`` job of the model takes a validation set (``validationDataConfig``).

    False for Nova 2 Lite's supervised fine-tuning (user guide page nova-2-sft-data-prep): the job must not be
    given the validation file; prepared data still holds it out for this project's own evaluation.
    """
    model = get_model(model_id)
    return model.options(_require_supported(model, customization_type)).validation_set


def reasoning_content_supported(model_id: str, customization_type: str = "FINE_TUNING") -> bool:
    """Whether assistant turns of the model's ``customization_type`` records may carry reasoning content."""
    model = get_model(model_id)
    return model.options(_require_supported(model, customization_type)).reasoning_content


def on_demand_deployment_problem(
    model: BaseModel | str, region: str, customized_on: date | None = None
) -> str | None:
    """Why a custom model of ``model`` cannot be deployed on demand in ``region``, or None when it can.

    Checks the catalog's ``on_demand_deployment``: documented for the base model, in ``region``, and (when
    ``customized_on`` is given; a datetime counts by its date) customized on or after the documented date.
    """
    base = model if isinstance(model, BaseModel) else get_model(model)
    deployment = base.on_demand_deployment
    if deployment is None:
        offered = [m.id for m in list_models() if m.on_demand_deployment is not None]
        return (
            f"on-demand deployment is not documented for custom models of {base.id}; it is for "
            f"{', '.join(offered) or 'no catalogued model'} (use provisioned throughput instead)"
        )
    if region not in deployment.regions:
        return (
            f"on-demand deployment of custom {base.id} models is documented in {', '.join(deployment.regions)}, "
            f"not {region}"
        )
    since = deployment.customized_on_or_after
    if customized_on is not None and since is not None:
        day = customized_on.date() if hasattr(customized_on, "date") else customized_on
        if day < since:
            return (
                f"the custom model was customized on {day.isoformat()}; on-demand deployment needs a model "
                f"customized on or after {since.isoformat()} (customize it again, or use provisioned throughput)"
            )
    return None


def on_demand_deployment_supported(
    model: BaseModel | str, region: str, customized_on: date | None = None
) -> bool:
    """Whether a custom model of ``model`` customized on ``customized_on`` can be deployed on demand in
    ``region`` (see :func:`on_demand_deployment_problem` for the reason when not)."""
    return on_demand_deployment_problem(model, region, customized_on) is None


def resolve_inference_id(base_model_id: str, given: str | None = None) -> str:
    """The id to invoke ``base_model_id`` with on demand for a baseline evaluation.

    ``given`` (what a caller computed, often the model's bare on-demand id) is kept unless it is the bare id of
    a model that must be invoked through an inference profile, in which case the profile id is returned.
    Models the catalog does not know keep ``given`` (or ``base_model_id``).
    """
    try:
        model = get_model(base_model_id)
    except UnknownModelError:
        return given or base_model_id
    if not given or given.strip().lower() in (model.on_demand_id.lower(), model.id.lower()):
        return model.inference_id
    return given


def max_tokens_per_record(model_id: str, batch_size: int | str | None = None) -> int:
    """Token limit (prompt + completion) of one record.

    For Titan it depends on ``batch_size`` (default: the model's default batchSize); a batch size outside the
    model's batchSize range raises :class:`HyperparameterError`. Models without a batchSize ignore it.
    """
    model = get_model(model_id)
    spec = model.hyperparameters.get("batchSize")
    if spec is None:
        return model.limits.max_tokens_per_record
    if batch_size is None:
        return model.limits.tokens_for_batch(int(spec.default))
    return validate_hyperparameters(model.id, {"batchSize": batch_size}).max_tokens_per_record


def lifecycle_warning(model_id: str, today: date | None = None) -> str | None:
    """A sentence warning that the model is legacy or past end of life on ``today``; None when active."""
    model = get_model(model_id)
    today = today or date.today()
    status = model.lifecycle.status_on(today)
    if status == "ACTIVE":
        return None
    eol = model.lifecycle.end_of_life
    label = f"{model.id} ({model.provider} {model.name})"
    if status == "EOL":
        when = f" since {eol.isoformat()}" if eol else ""
        state = f"is past end of life{when}: Bedrock rejects new jobs and requests for it"
    elif eol:
        state = f"is legacy and reaches end of life on {eol.isoformat()}"
    else:
        state = "is legacy (no end-of-life date recorded)"
    if model.lifecycle.replacements:
        choose = "choose an active model such as " + " or ".join(model.lifecycle.replacements)
    else:
        choose = "choose an active model (see `bedrock-customize catalog`)"
    return f"{label} {state}; {choose}."


# ------------------------------------------------------------------------------------- hyperparameters


def validate_hyperparameters(
    model_id: str,
    hyperparameters: Mapping[str, Any] | None,
    customization_type: str = "FINE_TUNING",
    *,
    fill_defaults: bool = False,
    longest_record_tokens: int | None = None,
) -> ValidatedHyperparameters:
    """Check hyperparameters against the model's rules and return them normalised to strings.

    Values may be strings or numbers. Every problem (unknown name, wrong type, out of range, not allowed) is
    collected and raised together as one :class:`HyperparameterError`. Defaults are added only with
    ``fill_defaults``. When ``longest_record_tokens`` is given, a batch size whose token limit (Titan) is
    below it is reported as a problem too. The result carries the implied token limit and explanatory notes.
    """
    model = get_model(model_id)
    ctype = _require_supported(model, customization_type)
    specs = model.hyperparameters_for(ctype)
    values: dict[str, str] = {}
    problems: list[str] = []
    for raw_name, raw_value in (hyperparameters or {}).items():
        name = str(raw_name)
        spec = specs.get(name)
        if spec is None:
            problems.append(_unknown_name_problem(name, model, specs))
            continue
        value, problem = _check_value(spec, raw_value, model.id)
        if problem:
            problems.append(problem)
        else:
            values[name] = value
    if fill_defaults:
        for name, spec in specs.items():
            default = spec.default_string()
            if default is not None:
                values.setdefault(name, default)

    notes: list[str] = []
    max_tokens = model.limits.max_tokens_per_record
    batch_spec = specs.get("batchSize")
    batch_failed = (
        batch_spec is not None and "batchSize" in (hyperparameters or {}) and "batchSize" not in values
    )
    if (
        model.limits.token_steps
        and batch_spec is not None
        and batch_spec.default is not None
        and not batch_failed
    ):
        batch = int(values.get("batchSize", batch_spec.default_string()))
        max_tokens, note, problem = _batch_token_rule(model, batch, longest_record_tokens)
        notes.append(note)
        if problem:
            problems.append(problem)

    if problems:
        raise HyperparameterError(model.id, problems)
    return ValidatedHyperparameters(
        values, model_id=model.id, customization_type=ctype, max_tokens_per_record=max_tokens, notes=notes
    )


def _check_value(spec: HyperparameterSpec, raw: Any, model_id: str) -> tuple[str, str | None]:
    """The normalised string, or a problem sentence naming the model, field, value and allowed range."""
    given = _given(raw)
    default = f" (default {_show(spec.default)})" if spec.default is not None else ""
    if spec.type == "str":
        text = raw.strip().lower() if isinstance(raw, str) else None
        by_lower = {str(choice).lower(): str(choice) for choice in spec.choices or ()}
        if text not in by_lower:
            return "", f"{spec.name}={given} is not {spec.allowed()} for {model_id}{default}"
        return by_lower[text], None
    try:
        value = _coerce(spec.type, raw)
    except ValueError:
        kind = "an integer" if spec.type == "int" else "a number"
        return "", f"{spec.name}={given} is not {kind}; allowed {spec.allowed()} for {model_id}{default}"
    if spec.choices is not None:
        if value not in spec.choices:
            return "", f"{spec.name}={given} is not {spec.allowed()} for {model_id}{default}"
    elif spec.fixed and value != spec.min:
        return "", f"{spec.name}={given} is not allowed for {model_id}: {spec.name} is {spec.allowed()}"
    elif (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        return "", f"{spec.name}={given} is outside {spec.allowed()} for {model_id}{default}"
    return _wire(value, spec.type), None


def _coerce(kind: str, raw: Any) -> int | float:
    """Parse a string or number as ``int`` (integral values only) or finite ``float``; ValueError otherwise."""
    if isinstance(raw, bool):
        raise ValueError("booleans are not numbers here")
    if isinstance(raw, str):
        text = raw.strip()
        if "_" in text:
            raise ValueError("digit separators are not accepted by Bedrock")
        if kind == "int":
            try:
                return int(text)
            except ValueError:
                pass
        number: int | float = float(text)
    elif isinstance(raw, numbers.Real):
        number = raw if isinstance(raw, int) else float(raw)
    else:
        raise ValueError(f"unsupported type {type(raw).__name__}")
    if isinstance(number, int):
        return number if kind == "int" else float(number)
    if not math.isfinite(number):
        raise ValueError("not finite")
    if kind == "int":
        if not number.is_integer():
            raise ValueError("not integral")
        return int(number)
    return number


def _batch_token_rule(
    model: BaseModel, batch: int, longest_record_tokens: int | None
) -> tuple[int, str, str | None]:
    """Titan: the batch size sets the token limit per record. Returns (limit, note, problem or None)."""
    steps = model.limits.token_steps
    tokens = model.limits.tokens_for_batch(batch)
    note = f"batchSize={batch} allows at most {tokens} tokens (prompt + completion) per record for {model.id}"
    if tokens < steps[0].max_tokens:
        first = steps[0].batch_size_max
        note += f"; batchSize {'1' if first == 1 else f'<= {first}'} allows {steps[0].max_tokens}"
    if batch > steps[-1].batch_size_max:
        note += f"; the limit above batchSize {steps[-1].batch_size_max} is undocumented, {tokens} is assumed"
    problem = None
    if longest_record_tokens is not None and longest_record_tokens > tokens:
        fitting = [s.batch_size_max for s in steps if s.max_tokens >= longest_record_tokens]
        fix = (
            f"use batchSize <= {max(fitting)}"
            if fitting
            else f"no batch size fits: shorten records to {steps[0].max_tokens} tokens"
        )
        problem = (
            f"batchSize={batch} limits records to {tokens} tokens for {model.id}, but the longest record has "
            f"about {longest_record_tokens} tokens; {fix}"
        )
    return tokens, note, problem


def _unknown_name_problem(name: str, model: BaseModel, specs: Mapping[str, HyperparameterSpec]) -> str:
    names = list(specs)
    if not names:
        return f"{name}: this customization type of {model.id} takes no hyperparameters; remove it"
    by_lower = {n.lower(): n for n in names}
    close = (
        [by_lower[name.lower()]] if name.lower() in by_lower else difflib.get_close_matches(name, names, n=1)
    )
    hint = f" Did you mean {close[0]}?" if close else ""
    return f"{name} is not a hyperparameter of {model.id}.{hint} Allowed: {', '.join(names)}"


# ------------------------------------------------------------------------------------------------ helpers


def _customization_type(customization_type: str) -> str:
    """Normalise ``fine-tuning`` / ``fine_tuning`` to ``FINE_TUNING``; reject names Bedrock does not have."""
    ctype = str(customization_type).strip().upper().replace("-", "_")
    if ctype not in CUSTOMIZATION_TYPES:
        raise UnsupportedCustomizationError(
            f"{customization_type!r} is not a Bedrock customizationType; "
            f"use one of {', '.join(CUSTOMIZATION_TYPES)}",
            model_id=None,
            customization_type=str(customization_type),
            supported=CUSTOMIZATION_TYPES,
        )
    return ctype


def _require_supported(model: BaseModel, customization_type: str) -> str:
    ctype = _customization_type(customization_type)
    if ctype not in model.customization_types:
        others = [m.id for m in _catalog()[0] if ctype in m.customization_types]
        elsewhere = f" Base models that support {ctype}: {', '.join(others)}." if others else ""
        raise UnsupportedCustomizationError(
            f"{model.id} ({model.name}) does not support {ctype}; it supports "
            f"{', '.join(model.customization_types)}.{elsewhere}",
            model_id=model.id,
            customization_type=ctype,
            supported=model.customization_types,
        )
    return ctype


def _show(number: int | float | str | None) -> str:
    """Compact form for messages: ``5e-06``, ``0.0001``, ``1`` (whole floats lose their ``.0``)."""
    if isinstance(number, str):
        return number
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return repr(number) if isinstance(number, float) else str(number)


def _wire(number: int | float | str, kind: str) -> str:
    """The string sent to Bedrock: integers plainly, floats in positional notation (``0.00001``)."""
    if kind == "str":
        return str(number)
    if kind == "int":
        return str(int(number))
    return format(Decimal(repr(float(number))), "f")


def _given(raw: Any) -> str:
    """A user's value as typed: bare when it reads unambiguously, quoted otherwise."""
    if isinstance(raw, str):
        return raw if raw and raw == raw.strip() else repr(raw)
    if isinstance(raw, numbers.Real) and not isinstance(raw, bool):
        return str(raw)
    return repr(raw)
