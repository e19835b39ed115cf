"""The emulator's own table of Amazon Bedrock foundation models and the rules AWS documents for them.

This module is the local emulator's oracle: ``bedrock.LocalBedrockBackend`` enforces what it says
(which models exist where, what can be customized how, hyperparameter names/types/ranges, record
formats, throughput commitments, on-demand deployment eligibility, import architectures) and answers
ListFoundationModels/GetFoundationModel from it. It deliberately imports nothing from the product
(``plugins/bedrock_customization``): the emulator must stay an independent oracle.

Every rule names the AWS page it comes from (``source``; page ids are relative to ``USER_GUIDE``).
Facts this table could not confirm on a current page are marked UNVERIFIED in a comment.

Each foundation model appears twice, as on the real service: the on-demand id (``amazon.nova-micro-v1:0``,
inference type ON_DEMAND, no customizations) and the ``:N:ctx`` id used for customization and
Provisioned Throughput (``amazon.nova-micro-v1:0:128k``, inference type PROVISIONED).

Lifecycle: an entry has a documented status (ACTIVE or LEGACY) and, when known, an end-of-life date;
``lifecycle()`` answers EOL once that date has passed. botocore's ``FoundationModelLifecycleStatus``
only knows ACTIVE and LEGACY, so EOL models are left out of ListFoundationModels, GetFoundationModel
answers ResourceNotFoundException for them, and every other operation refuses them (ValidationException
naming the end-of-life date).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

USER_GUIDE = "https://docs.aws.amazon.com/bedrock/latest/userguide/"

# Pages (ids relative to USER_GUIDE unless absolute)
FINE_TUNING_PAGE = "custom-model-fine-tuning"  # supported models and Regions for fine-tuning
OLD_FINE_TUNING_PAGE = "custom-model-supported"  # older table (still lists Titan Text): superseded
HP_NOVA = "cm-hp-nova-mm"
HP_NOVA_CANVAS = "cm-hp-nova-canvas"
HP_TITAN_IMAGE = "cm-hp-titan-image"
HP_TITAN_MM = "cm-hp-titan-mm"
HP_CLAUDE3 = "cm-hp-anth-claude-3"
HP_LLAMA31 = "cm-hp-meta-llama31"
HP_LLAMA32 = "cm-hp-meta-llama32"
NOVA2_SFT = "nova-2-sft-data-prep"
RFT_NOVA = "rft-nova-models"
RFT_DATA = "rft-prepare-data"  # RFT records (OpenAI chat completion format) and their minimum count
RFT_HP_API = "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_RFTHyperParameters.html"
RFT_ACCESS = "rft-access-security"  # the service role needs lambda:InvokeFunction on the grader
DATA_PREP = "model-customization-prepare"
NOVA_DATA_PREP = "https://docs.aws.amazon.com/nova/latest/userguide/customize-fine-tune-prepare.html"
DISTILLATION = "prequisites-model-distillation"
NOVA_CUSTOMIZATION = "https://docs.aws.amazon.com/nova/latest/userguide/customization.html"
NOVA_DISTILL = "https://docs.aws.amazon.com/nova/latest/userguide/customize-distill.html"
NOVA_PREMIER_CARD = "model-card-amazon-nova-premier"
PT_PAGE = "prov-throughput"
PT_SUPPORTED = "pt-supported"
PT_PURCHASE = "prov-thru-purchase"
DEPLOY_ON_DEMAND = "deploy-custom-model-on-demand"
IMPORT_PAGE = "model-customization-import-model"
LIFECYCLE = "model-lifecycle"
CLAUDE3_HAIKU_CARD = "model-card-anthropic-claude-3-haiku"


def page_url(page: str) -> str:
    """Absolute URL of a page id (or the URL itself)."""
    return page if page.startswith("https://") else f"{USER_GUIDE}{page}.html"


# ---------------------------------------------------------------------------------------------
# Rule records


@dataclass(frozen=True)
class HyperParameter:
    """One documented hyperparameter: API name, type ("integer" or "float"), inclusive range, default."""

    name: str
    kind: str
    minimum: float
    maximum: float
    default: float | None
    source: str
    allow_auto: bool = False  # Titan Multimodal Embeddings: epochCount also accepts "Auto"
    choices: tuple[str, ...] = ()  # kind "string": the allowed values (RFT's reasoningEffort enum)

    def problem(self, raw: Any) -> str | None:
        """Why ``raw`` (a hyperParameters map value, always a string on the wire) is invalid, or None."""
        if not isinstance(raw, str):
            return f"must be a string holding {'an' if self.kind == 'integer' else 'a'} {self.kind}"
        if self.choices:
            return None if raw in self.choices else f"'{raw}' is not one of {', '.join(self.choices)}"
        text = raw.strip()
        if self.allow_auto and text == "Auto":
            return None
        try:
            value = float(text)
        except ValueError:
            return f"'{raw}' is not {'an' if self.kind == 'integer' else 'a'} {self.kind}"
        if not math.isfinite(value):
            return f"'{raw}' is not a finite number"
        if self.kind == "integer" and not re.fullmatch(r"[+-]?\d+", text):
            return f"'{raw}' is not an integer"
        if not self.minimum <= value <= self.maximum:
            return f"'{raw}' is out of range: allowed {self.range_text()}"
        return None

    def range_text(self) -> str:
        """``between 1 and 5`` / ``1`` (for a one-value range) / ``one of low, medium, high``."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        low, high = _num(self.minimum), _num(self.maximum)
        return low if low == high else f"between {low} and {high}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else f"{value:g}"


@dataclass(frozen=True)
class Customization:
    """One customization type offered for one base model."""

    kind: str  # FINE_TUNING | CONTINUED_PRE_TRAINING | DISTILLATION | REINFORCEMENT_FINE_TUNING
    regions: tuple[str, ...]
    hyper_parameters: tuple[HyperParameter, ...]
    record_format: str  # key of RECORD_FORMATS
    source: str
    validation: bool = True  # whether validationDataConfig is accepted
    min_records: int | None = None
    max_records: int | None = None
    max_validation_records: int | None = None
    records_source: str | None = None
    reserved_words: tuple[str, ...] = ()  # words that make a job fail anywhere in a prompt
    hyper_parameters_in: str = "hyperParameters"  # or "customizationConfig.rftConfig.hyperParameters"
    reasoning_content: bool = False  # assistant turns may carry reasoningContent (Nova 2, NOVA2_SFT)

    def hyper_parameter(self, name: str) -> HyperParameter | None:
        """The documented hyperparameter named ``name``, or None."""
        return next((hp for hp in self.hyper_parameters if hp.name == name), None)


@dataclass(frozen=True)
class FoundationModel:
    """One foundation model id as ListFoundationModels would show it."""

    model_id: str
    name: str
    provider: str
    regions: tuple[str, ...]
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    inference_types: tuple[str, ...]
    source: str
    streaming: bool = True
    customizations: tuple[Customization, ...] = ()
    status: str = "ACTIVE"  # documented status: ACTIVE | LEGACY (EOL is derived from eol_date)
    eol_date: date | None = None
    lifecycle_source: str | None = None
    base_no_commitment: bool = False  # Provisioned Throughput without commitment for the base model
    pt_source: str = PT_SUPPORTED
    on_demand_deployment: bool = False  # custom models of this base can get a CustomModelDeployment
    family: str = ""  # emulator family (loss profile / runtime), informational

    def customization(self, kind: str) -> Customization | None:
        """The customization of type ``kind``, or None."""
        return next((c for c in self.customizations if c.kind == kind), None)


# ---------------------------------------------------------------------------------------------
# Hyperparameters (custom-models-hp and its per-model sub-pages)


def _hp(
    name: str, kind: str, low: float, high: float, default: float | None, source: str, **kw: Any
) -> HyperParameter:
    return HyperParameter(name, kind, low, high, default, source, **kw)


NOVA_HP = (
    _hp("epochCount", "integer", 1, 5, 2, HP_NOVA),
    _hp("learningRate", "float", 1e-6, 1e-4, 1e-5, HP_NOVA),
    _hp("learningRateWarmupSteps", "integer", 0, 100, 10, HP_NOVA),
)
# Nova 2 Lite SFT: same three names as Nova 1 (UNVERIFIED: no Bedrock hyperparameter page for Nova 2 found).
NOVA2_HP = tuple(
    HyperParameter(hp.name, hp.kind, hp.minimum, hp.maximum, hp.default, NOVA2_SFT) for hp in NOVA_HP
)
NOVA_CANVAS_HP = (
    _hp("batchSize", "integer", 8, 192, 8, HP_NOVA_CANVAS),
    _hp("stepCount", "integer", 10, 20000, 500, HP_NOVA_CANVAS),
    _hp("learningRate", "float", 1e-7, 1e-4, 1e-5, HP_NOVA_CANVAS),
)
# Titan Image Generator G1 v2: same names as Nova Canvas; ranges UNVERIFIED (page cm-hp-titan-image not read).
TITAN_IMAGE_HP = (
    _hp("batchSize", "integer", 8, 192, 8, HP_TITAN_IMAGE),
    _hp("stepCount", "integer", 10, 40000, 500, HP_TITAN_IMAGE),
    _hp("learningRate", "float", 1e-7, 1e-3, 1e-5, HP_TITAN_IMAGE),
)
TITAN_MM_HP = (
    _hp("epochCount", "integer", 1, 100, None, HP_TITAN_MM, allow_auto=True),
    _hp("batchSize", "integer", 256, 9216, 576, HP_TITAN_MM),
    _hp("learningRate", "float", 5e-8, 1, 5e-5, HP_TITAN_MM),
)
CLAUDE3_HP = (
    _hp("epochCount", "integer", 1, 10, 2, HP_CLAUDE3),
    _hp("batchSize", "integer", 4, 256, 32, HP_CLAUDE3),
    _hp("learningRateMultiplier", "float", 0.1, 2, 1, HP_CLAUDE3),
    _hp("earlyStoppingThreshold", "float", 0, 0.1, 0.001, HP_CLAUDE3),
    _hp("earlyStoppingPatience", "integer", 1, 10, 2, HP_CLAUDE3),
)
LLAMA31_HP = (
    _hp("epochCount", "integer", 1, 10, 5, HP_LLAMA31),
    _hp("batchSize", "integer", 1, 1, 1, HP_LLAMA31),
    _hp("learningRate", "float", 5e-6, 0.1, 1e-4, HP_LLAMA31),
)
LLAMA32_HP = tuple(
    HyperParameter(hp.name, hp.kind, hp.minimum, hp.maximum, hp.default, HP_LLAMA32) for hp in LLAMA31_HP
)
# Reinforcement fine-tuning: botocore RFTHyperParameters (customizationConfig.rftConfig.hyperParameters),
# every member with its ranges from the API reference page API_RFTHyperParameters (botocore 1.43 agrees); the
# maxPromptLength and inferenceMaxTokens shapes carry no bounds.
RFT_HP = (
    _hp("epochCount", "integer", 1, 50, None, RFT_HP_API),
    _hp("batchSize", "integer", 16, 512, None, RFT_HP_API),
    _hp("learningRate", "float", 1e-7, 1e-3, None, RFT_HP_API),
    _hp("maxPromptLength", "integer", -math.inf, math.inf, None, RFT_HP_API),
    _hp("trainingSamplePerPrompt", "integer", 2, 16, None, RFT_HP_API),
    _hp("inferenceMaxTokens", "integer", -math.inf, math.inf, None, RFT_HP_API),
    _hp("reasoningEffort", "string", 0, 0, None, RFT_HP_API, choices=("low", "medium", "high")),
    _hp("evalInterval", "integer", 1, 100, None, RFT_HP_API),
)

NOVA_RESERVED = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")  # NOVA_DATA_PREP

# ---------------------------------------------------------------------------------------------
# The table

US_EAST_1 = ("us-east-1",)
US_WEST_2 = ("us-west-2",)
BOTH = ("us-east-1", "us-west-2")
TEXT = ("TEXT",)
TEXT_IMAGE = ("TEXT", "IMAGE")


def _nova_ft(record_min: int = 8, record_max: int = 20000) -> Customization:
    return Customization(
        "FINE_TUNING",
        US_EAST_1,
        NOVA_HP,
        "bedrock-conversation-2024",
        FINE_TUNING_PAGE,
        min_records=record_min,
        max_records=record_max,
        records_source=NOVA_DATA_PREP,
        reserved_words=NOVA_RESERVED,
    )


def _nova_distillation() -> Customization:
    # Nova Micro/Lite/Pro can be distillation students (NOVA_CUSTOMIZATION); a distillation job takes no
    # hyperParameters, only the teacher's maxResponseLengthForInference (submit-model-distillation-job).
    # Records: bedrock-conversation-2024 prompts, the assistant turn optional (NOVA_DISTILL).
    return Customization("DISTILLATION", US_EAST_1, (), "distillation-prompts", DISTILLATION)


def _llama_ft(hp: tuple[HyperParameter, ...], record_format: str, source: str) -> Customization:
    return Customization(
        "FINE_TUNING",
        US_WEST_2,
        hp,
        record_format,
        FINE_TUNING_PAGE,
        min_records=100,
        max_records=10000,
        records_source=source,
    )


def _pair(
    on_demand_id: str,
    ctx_id: str | None,
    name: str,
    provider: str,
    *,
    inputs: tuple[str, ...] = TEXT,
    outputs: tuple[str, ...] = TEXT,
    on_demand_regions: tuple[str, ...] = BOTH,
    pt_regions: tuple[str, ...] = (),
    customizations: tuple[Customization, ...] = (),
    on_demand_types: tuple[str, ...] = ("ON_DEMAND",),
    **kw: Any,
) -> list[FoundationModel]:
    """The on-demand entry and, if any, the ``:N:ctx`` (customization / Provisioned Throughput) entry."""
    streaming = kw.pop("streaming", "TEXT" in outputs)

    def entry(model_id: str, regions: tuple[str, ...], types: tuple[str, ...], source="models-supported", **more):
        return FoundationModel(
            model_id, name, provider, regions, inputs, outputs, types, source, streaming=streaming, **more
        )

    if ctx_id is None:  # one id serves inference, customization and Provisioned Throughput
        regions = tuple(sorted(set(on_demand_regions) | {r for c in customizations for r in c.regions}))
        return [entry(on_demand_id, regions, on_demand_types, customizations=customizations, **kw)]
    on_demand_kw = {k: v for k, v in kw.items() if k != "base_no_commitment"}
    regions = tuple(sorted(set(pt_regions) | {r for c in customizations for r in c.regions}))
    return [
        entry(on_demand_id, on_demand_regions, on_demand_types, **on_demand_kw),
        entry(ctx_id, regions, ("PROVISIONED",), PT_SUPPORTED, customizations=customizations, **kw),
    ]


_ENTRIES: list[FoundationModel] = [
    # Amazon Nova (understanding): fine-tuning + distillation (students), us-east-1; PT without commitment
    # for the base model ("Yes" in pt-supported); on-demand deployment of custom models (DEPLOY_ON_DEMAND).
    *(
        entry
        for model_id, custom_id, name, inputs in (
            ("amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0:128k", "Nova Micro", ("TEXT",)),
            ("amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0:300k", "Nova Lite", ("TEXT", "IMAGE", "VIDEO")),
            ("amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0:300k", "Nova Pro", ("TEXT", "IMAGE", "VIDEO")),
        )
        for entry in _pair(
            model_id,
            custom_id,
            name,
            "Amazon",
            inputs=inputs,
            customizations=(_nova_ft(), _nova_distillation()),
            pt_regions=US_EAST_1,
            base_no_commitment=True,
            on_demand_deployment=True,
            family="nova",
        )
    ),
    # Nova Premier: distillation teacher only (not customizable).
    *_pair(
        "amazon.nova-premier-v1:0",
        None,
        "Nova Premier",
        "Amazon",
        inputs=("TEXT", "IMAGE", "VIDEO"),
        family="nova",
    ),
    # Nova 2 Lite: SFT takes no validation set (NOVA2_SFT); RFT documented for Nova (RFT_NOVA; model list UNVERIFIED).
    *_pair(
        "amazon.nova-2-lite-v1:0",
        "amazon.nova-2-lite-v1:0:256k",
        "Nova 2 Lite",
        "Amazon",
        inputs=("TEXT", "IMAGE", "VIDEO"),
        customizations=(
            Customization(
                "FINE_TUNING",
                US_EAST_1,
                NOVA2_HP,
                "bedrock-conversation-2024",
                FINE_TUNING_PAGE,
                validation=False,
                min_records=8,
                max_records=20000,
                records_source=NOVA2_SFT,
                reserved_words=NOVA_RESERVED,
                reasoning_content=True,
            ),
            Customization(
                "REINFORCEMENT_FINE_TUNING",
                US_EAST_1,
                RFT_HP,
                "rft-prompts",
                RFT_NOVA,
                validation=False,
                min_records=100,  # "A minimum of 100 records in training dataset" (RFT_DATA)
                max_records=20000,  # at most 20,000 prompts (RFT_DATA)
                records_source=RFT_DATA,
                hyper_parameters_in="customizationConfig.rftConfig.hyperParameters",
            ),
        ),
        pt_regions=US_EAST_1,
        base_no_commitment=True,
        family="nova",
    ),
    *_pair(
        "amazon.nova-canvas-v1:0",
        None,
        "Nova Canvas",
        "Amazon",
        inputs=TEXT_IMAGE,
        outputs=("IMAGE",),
        on_demand_types=("ON_DEMAND", "PROVISIONED"),
        on_demand_regions=US_EAST_1,
        customizations=(
            Customization("FINE_TUNING", US_EAST_1, NOVA_CANVAS_HP, "image-caption", FINE_TUNING_PAGE),
        ),
        base_no_commitment=True,
    ),
    # Titan Text: foundation models for inference; no current page offers their customization
    # (FINE_TUNING_PAGE lists none; OLD_FINE_TUNING_PAGE is superseded), so customizationsSupported is empty.
    *_pair(
        "amazon.titan-text-express-v1",
        "amazon.titan-text-express-v1:0:8k",
        "Titan Text G1 - Express",
        "Amazon",
        pt_regions=BOTH,
        family="titan",
    ),
    *_pair(
        "amazon.titan-text-lite-v1",
        "amazon.titan-text-lite-v1:0:4k",
        "Titan Text G1 - Lite",
        "Amazon",
        pt_regions=BOTH,
        family="titan",
    ),
    *_pair(
        "amazon.titan-text-premier-v1:0",
        None,
        "Titan Text G1 - Premier",
        "Amazon",
        on_demand_regions=US_EAST_1,
        family="titan",
    ),
    # Embeddings
    *_pair(
        "amazon.titan-embed-text-v2:0",
        None,
        "Titan Text Embeddings V2",
        "Amazon",
        outputs=("EMBEDDING",),
        streaming=False,
    ),
    *_pair(
        "amazon.titan-embed-text-v1",
        "amazon.titan-embed-text-v1:2:8k",
        "Titan Embeddings G1 - Text",
        "Amazon",
        outputs=("EMBEDDING",),
        streaming=False,
        pt_regions=BOTH,
        base_no_commitment=True,
    ),
    *_pair(
        "amazon.titan-embed-image-v1",
        "amazon.titan-embed-image-v1:0",
        "Titan Multimodal Embeddings G1",
        "Amazon",
        inputs=TEXT_IMAGE,
        outputs=("EMBEDDING",),
        streaming=False,
        customizations=(Customization("FINE_TUNING", BOTH, TITAN_MM_HP, "image-caption", FINE_TUNING_PAGE),),
        pt_regions=BOTH,
    ),
    *_pair(
        "amazon.titan-image-generator-v2:0",
        None,
        "Titan Image Generator G1 v2",
        "Amazon",
        inputs=TEXT_IMAGE,
        outputs=("IMAGE",),
        on_demand_types=("ON_DEMAND", "PROVISIONED"),
        customizations=(
            Customization("FINE_TUNING", BOTH, TITAN_IMAGE_HP, "image-caption", FINE_TUNING_PAGE),
        ),
    ),
    # Anthropic Claude 3 Haiku: fine-tuning in us-west-2; end of life 2026-09-10 (model card) -> refused after.
    *_pair(
        "anthropic.claude-3-haiku-20240307-v1:0",
        "anthropic.claude-3-haiku-20240307-v1:0:200k",
        "Claude 3 Haiku",
        "Anthropic",
        inputs=TEXT_IMAGE,
        customizations=(
            Customization(
                "FINE_TUNING",
                US_WEST_2,
                CLAUDE3_HP,
                "claude-messages",
                FINE_TUNING_PAGE,
                min_records=32,
                max_records=10000,
                max_validation_records=1000,
                records_source=DATA_PREP,
            ),
        ),
        pt_regions=BOTH,
        status="LEGACY",
        eol_date=date(2026, 9, 10),
        lifecycle_source=CLAUDE3_HAIKU_CARD,
        family="anthropic",
    ),
    # Meta Llama 3.1 (prompt/completion) and 3.2 (bedrock-conversation-2024), fine-tuning in us-west-2.
    # Llama 3.2 base models are invoked through an inference profile: no ON_DEMAND inference type
    # (botocore's InferenceType enum has no INFERENCE_PROFILE value, so the list is left empty).
    *[
        entry
        for size in ("8b", "70b")
        for entry in _pair(
            f"meta.llama3-1-{size}-instruct-v1:0",
            f"meta.llama3-1-{size}-instruct-v1:0:128k",
            f"Llama 3.1 {size.upper()} Instruct",
            "Meta",
            customizations=(_llama_ft(LLAMA31_HP, "prompt-completion", DATA_PREP),),
            family="meta",
        )
    ],
    *[
        entry
        for size, name, vision in (
            ("1b", "1B", False),
            ("3b", "3B", False),
            ("11b", "11B", True),
            ("90b", "90B", True),
        )
        for entry in _pair(
            f"meta.llama3-2-{size}-instruct-v1:0",
            f"meta.llama3-2-{size}-instruct-v1:0:128k",
            f"Llama 3.2 {name} Instruct",
            "Meta",
            inputs=TEXT_IMAGE if vision else TEXT,
            on_demand_types=(),
            customizations=(_llama_ft(LLAMA32_HP, "bedrock-conversation-2024", DATA_PREP),),
            family="meta",
        )
    ],
    # Cohere Command: in no current customization table; kept for inference (lifecycle UNVERIFIED).
    *_pair("cohere.command-text-v14", None, "Command", "Cohere", family="cohere"),
    *_pair("cohere.command-light-text-v14", None, "Command Light", "Cohere", family="cohere"),
]

MODELS: dict[str, FoundationModel] = {entry.model_id: entry for entry in _ENTRIES}

#: Customization types botocore's ``ModelCustomization`` enum knows (ListFoundationModels answers only these).
LISTED_CUSTOMIZATIONS = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION")

# ---------------------------------------------------------------------------------------------
# Distillation teachers (DISTILLATION: "The student model must be one of the student models paired with your
# teacher model"). The Nova pairs come from NOVA_CUSTOMIZATION (Micro/Lite: student; Pro: teacher and
# student; Premier: teacher) and NOVA_DISTILL (Nova Pro teaches Nova Lite and Micro). The Anthropic and Meta
# pairs of DISTILLATION are not emulated: none of their students is customizable in this table.


@dataclass(frozen=True)
class Teacher:
    """A distillation teacher: its on-demand id, the inference profiles it may be named by, its students."""

    model_id: str
    profiles: tuple[str, ...]
    students: tuple[str, ...]  # :N:ctx ids of the student base models
    source: str
    eol_date: date | None = None  # past it the teacher takes no new job
    lifecycle_source: str | None = None


TEACHERS = (
    Teacher(
        "amazon.nova-pro-v1:0",
        ("us.amazon.nova-pro-v1:0",),
        ("amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k"),
        NOVA_DISTILL,
    ),
    Teacher(
        "amazon.nova-premier-v1:0",
        ("us.amazon.nova-premier-v1:0",),
        ("amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k", "amazon.nova-pro-v1:0:300k"),
        NOVA_CUSTOMIZATION,
        # The model card gives "Model EOL date: September 14, 2026".
        eol_date=date(2026, 9, 14),
        lifecycle_source=NOVA_PREMIER_CARD,
    ),
)
_TEACHER_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:(?:foundation-model|inference-profile)/(.+)$"
)


def teacher_problem(student_id: str, identifier: str, on: date | None = None) -> str | None:
    """Why ``identifier`` (teacherModelIdentifier: id, inference profile or ARN) cannot teach ``student_id``."""
    match = _TEACHER_ARN.match(identifier)
    key = match.group(1) if match else identifier
    on = on or today()
    valid = [
        t.model_id for t in TEACHERS if student_id in t.students and (t.eol_date is None or on < t.eol_date)
    ]
    listing = ", ".join(valid) or "none"
    teacher = next((t for t in TEACHERS if key in (t.model_id, *t.profiles)), None)
    if teacher is None or student_id not in teacher.students:
        return (
            f"The teacher model {identifier} is not supported for the student model {student_id}. Supported teacher "
            f"models for this student: {listing} (see {page_url(DISTILLATION)}, {NOVA_CUSTOMIZATION})."
        )
    if teacher.eol_date is not None and on >= teacher.eol_date:
        return (
            f"The teacher model {identifier} reached end of life on {teacher.eol_date.isoformat()} and can no longer "
            f"be used (see {page_url(teacher.lifecycle_source or LIFECYCLE)}). Supported teacher models for "
            f"{student_id}: {listing}."
        )
    return None


# ---------------------------------------------------------------------------------------------
# Provisioned Throughput (PT_PAGE, PT_SUPPORTED, PT_PURCHASE)

COMMITMENT_DAYS = {"OneMonth": 30, "SixMonths": 182}
#: A throughput with a commitment term cannot be deleted before the term ends (PT_PAGE).
DELETE_BEFORE_TERM_SOURCE = PT_PAGE
#: Only a throughput serving a custom model can change its model (PT_PURCHASE; botocore doc of desiredModelId).
SWITCH_SOURCE = PT_PURCHASE

# ---------------------------------------------------------------------------------------------
# On-demand custom model deployment (DEPLOY_ON_DEMAND)

DEPLOYMENT_REGIONS = ("us-east-1", "us-west-2")
DEPLOYMENT_CUSTOMIZED_SINCE = datetime(2025, 7, 16, tzinfo=UTC)

# ---------------------------------------------------------------------------------------------
# Custom Model Import architectures (IMPORT_PAGE): Hugging Face model_type -> architecture classes.

IMPORT_ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "llama": ("LlamaForCausalLM",),
    "mistral": ("MistralForCausalLM",),
    "mixtral": ("MixtralForCausalLM",),
    "t5": ("T5ForConditionalGeneration",),  # Flan-T5
    "gpt_bigcode": ("GPTBigCodeForCausalLM",),
    "qwen2": ("Qwen2ForCausalLM",),  # Qwen2 and Qwen2.5
    "qwen2_vl": ("Qwen2VLForConditionalGeneration",),
    "qwen2_5_vl": ("Qwen2_5_VLForConditionalGeneration",),
    "qwen3": ("Qwen3ForCausalLM",),
    "gpt_oss": ("GptOssForCausalLM",),
}
IMPORT_NAMES = (
    "Llama, Mistral, Mixtral, Flan-T5, GPTBigCode, Qwen2, Qwen2.5, Qwen2-VL, Qwen2.5-VL, Qwen3, GPT-OSS"
)


def import_architecture_ok(model_type: str | None, architectures: list[str]) -> bool:
    """Whether a config.json's ``model_type``/``architectures`` name a supported architecture."""
    classes = {cls for group in IMPORT_ARCHITECTURES.values() for cls in group}
    if model_type is None and not architectures:
        return False
    type_ok = model_type is None or model_type in IMPORT_ARCHITECTURES
    arch_ok = not architectures or any(a in classes for a in architectures)
    return type_ok and arch_ok


# ---------------------------------------------------------------------------------------------
# Look-ups


def get(model_id: str) -> FoundationModel | None:
    """The catalog entry for a foundation model id (no ARN), or None."""
    return MODELS.get(model_id)


def today() -> date:
    """Current UTC date (lifecycle decisions)."""
    return datetime.now(UTC).date()


def lifecycle(model: FoundationModel, on: date | None = None) -> str:
    """ACTIVE, LEGACY or EOL on the given date (default today)."""
    on = on or today()
    if model.eol_date is not None and on >= model.eol_date:
        return "EOL"
    return model.status


def in_region(model: FoundationModel, region: str) -> bool:
    """Whether the model is offered in ``region``."""
    return region in model.regions


def listed(region: str, on: date | None = None) -> list[FoundationModel]:
    """Models ListFoundationModels shows in ``region`` (EOL models left out)."""
    return [m for m in MODELS.values() if in_region(m, region) and lifecycle(m, on) != "EOL"]


def customizations_in(model: FoundationModel, region: str) -> list[str]:
    """Customization types offered for ``model`` in ``region`` (all types, including RFT)."""
    return [c.kind for c in model.customizations if region in c.regions]


# ---------------------------------------------------------------------------------------------
# Record formats (checked when the job runs, as on the real service)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _prompt_completion(record: dict) -> str | None:
    for key in ("prompt", "completion"):
        if key not in record:
            return f'missing required field "{key}"'
        if not isinstance(record[key], str):
            return f'field "{key}" must be a string'
    if not record["prompt"].strip():
        return 'field "prompt" must not be empty'
    return None


def _claude_messages(record: dict) -> str | None:
    if "system" in record and not isinstance(record["system"], str):
        return 'field "system" must be a string'
    messages = record.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        return 'field "messages" must be a list of at least 2 messages'
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f'messages[{index}].role must be "user" or "assistant"'
        if not _is_text(message.get("content")):
            return f"messages[{index}].content must be a non-empty string"
        expected = "user" if index % 2 == 0 else "assistant"
        if message["role"] != expected:
            return f'messages[{index}].role must be "{expected}": roles alternate, starting with "user"'
    if messages[-1]["role"] != "assistant":
        return 'the last message must have role "assistant"'
    return None


def _content_item_problem(item: Any, where: str, role: str, allow_reasoning: bool) -> str | None:
    if not isinstance(item, dict) or not item:
        return f"{where} must be an object"
    if "text" in item:
        return None if isinstance(item["text"], str) else f"{where}.text must be a string"
    if role == "user" and ("image" in item or "video" in item):
        media = item.get("image") or item.get("video")
        uri = (((media or {}).get("source") or {}).get("s3Location") or {}).get("uri")
        if (
            not isinstance(media, dict)
            or not media.get("format")
            or not isinstance(uri, str)
            or not uri.startswith("s3://")
        ):
            return f"{where} must have a format and source.s3Location.uri (s3://...)"
        return None
    if role == "assistant" and allow_reasoning and "reasoningContent" in item:
        return None
    return f"{where} has unsupported content {sorted(item)}; expected text" + (
        " or image/video" if role == "user" else ""
    )


def _conversation(
    record: dict, *, prompts_only: bool, reserved: tuple[str, ...], reasoning: bool
) -> str | None:
    if record.get("schemaVersion") != "bedrock-conversation-2024":
        return 'field "schemaVersion" must be "bedrock-conversation-2024"'
    system = record.get("system", [])
    if not isinstance(system, list) or any(
        not isinstance(s, dict) or not isinstance(s.get("text"), str) for s in system
    ):
        return 'field "system" must be a list of {"text": string}'
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return 'field "messages" must be a non-empty list'
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f'messages[{index}].role must be "user" or "assistant"'
        expected = "user" if index % 2 == 0 else "assistant"
        if message["role"] != expected:
            return f'messages[{index}].role must be "{expected}": roles alternate, starting with "user"'
        content = message.get("content")
        if not isinstance(content, list) or not content:
            return f"messages[{index}].content must be a non-empty list"
        for position, item in enumerate(content):
            problem = _content_item_problem(
                item, f"messages[{index}].content[{position}]", message["role"], reasoning
            )
            if problem:
                return problem
    if prompts_only:
        if len(messages) > 2:
            return "a distillation record holds one user prompt and at most one assistant answer"
    elif len(messages) < 2 or messages[-1]["role"] != "assistant":
        return (
            'a training record needs at least one user/assistant exchange and must end with role "assistant"'
        )
    if reserved:
        texts = [s["text"] for s in system] + [
            item.get("text", "") for m in messages for item in m["content"] if isinstance(item, dict)
        ]
        for word in reserved:
            if any(word in text for text in texts if isinstance(text, str)):
                return f"the reserved word {word!r} must not appear in a prompt"
    return None


def _continued_pretraining(record: dict) -> str | None:
    if set(record) != {"input"}:
        return 'a continued pre-training record must be exactly {"input": string}'
    return None if _is_text(record["input"]) else 'field "input" must be a non-empty string'


def _image_caption(record: dict) -> str | None:
    ref = record.get("image-ref")
    if not isinstance(ref, str) or not ref.startswith("s3://"):
        return 'field "image-ref" must be an s3:// URI'
    return None if _is_text(record.get("caption")) else 'field "caption" must be a non-empty string'


def _rft_prompts(record: dict) -> str | None:
    # RFT_DATA: OpenAI chat completion records: "messages" holding the prompt (system/user/assistant roles)
    # and "reference_answer", what the grader scores the response against (any JSON value); more fields
    # are allowed.
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return 'field "messages" must be a non-empty list'
    if not any(isinstance(m, dict) and m.get("role") == "user" for m in messages):
        return 'field "messages" must contain a message with role "user"'
    if record.get("reference_answer") in (None, ""):
        return 'field "reference_answer" is required (what the grader scores the response against)'
    return None


RECORD_FORMATS: dict[str, tuple[str, str]] = {
    # key: (description used in failure messages, source page)
    "prompt-completion": ('{"prompt": string, "completion": string}', DATA_PREP),
    "claude-messages": ('{"system": string, "messages": [{"role", "content": string}, ...]}', DATA_PREP),
    "bedrock-conversation-2024": (
        'bedrock-conversation-2024 ({"schemaVersion", "system", "messages"})',
        NOVA_DATA_PREP,
    ),
    "distillation-prompts": ("bedrock-conversation-2024 prompts (assistant turn optional)", DISTILLATION),
    "continued-pre-training": ('{"input": string}', DATA_PREP),
    "image-caption": ('{"image-ref": "s3://...", "caption": string}', DATA_PREP),
    "rft-prompts": ('{"messages": [{"role": "user", ...}], "reference_answer": ..., ...}', RFT_DATA),
}


def record_problem(
    fmt: str, record: Any, reserved: tuple[str, ...] = (), reasoning: bool = False
) -> str | None:
    """Why ``record`` does not have format ``fmt``, or None."""
    if not isinstance(record, dict):
        return "the record must be a JSON object"
    if fmt == "prompt-completion":
        return _prompt_completion(record)
    if fmt == "claude-messages":
        return _claude_messages(record)
    if fmt == "bedrock-conversation-2024":
        return _conversation(record, prompts_only=False, reserved=reserved, reasoning=reasoning)
    if fmt == "distillation-prompts":
        return _conversation(record, prompts_only=True, reserved=reserved, reasoning=False)
    if fmt == "continued-pre-training":
        return _continued_pretraining(record)
    if fmt == "image-caption":
        return _image_caption(record)
    if fmt == "rft-prompts":
        return _rft_prompts(record)
    raise KeyError(fmt)


def check_jsonl(
    content: bytes, fmt: str, reserved: tuple[str, ...] = (), reasoning: bool = False
) -> tuple[int, str | None]:
    """(number of records, first problem as ``line N: ...``) of a JSON Lines file."""
    count = 0
    for number, line in enumerate(content.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        count += 1
        try:
            record = json.loads(line)
        except ValueError:
            return count, f"line {number}: not valid JSON"
        problem = record_problem(fmt, record, reserved, reasoning)
        if problem:
            return count, f"line {number}: {problem}"
    return count, None


__all__ = [
    "MODELS",
    "FoundationModel",
    "Customization",
    "HyperParameter",
    "RECORD_FORMATS",
    "IMPORT_ARCHITECTURES",
    "check_jsonl",
    "get",
    "lifecycle",
    "listed",
    "page_url",
    "record_problem",
]
