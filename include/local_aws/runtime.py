"""bedrock-runtime ``InvokeModel`` and ``Converse`` for the local emulator.

``register_handlers()`` replaces moto's ``invoke_model`` (which answers ``{}``) and adds
``converse`` on moto's ``BedrockRuntimeResponse``. A model id resolves to what real Bedrock would
run: a base model (id with or without ``:N:ctx``, foundation-model ARN, inference profile), a
provisioned throughput (ARN or name) serving a custom or base model, a custom model deployment,
or an imported model. The words (and embedding vectors) come from ``answers``; the JSON shapes from
``bodies``.

* Embedding models (Titan Text Embeddings G1/V2, Titan Multimodal Embeddings G1, Cohere Embed v3)
  answer InvokeModel with deterministic vectors that carry signal (``answers.embed``); Converse
  refuses them with a ValidationException, as the real service does.
* Imported models answer in the API format of the request and of their architecture (recorded from
  ``config.json`` at import): BedrockCompletion ``{"generation", ...}`` for a ``prompt`` body,
  OpenAI ChatCompletion for a ``messages`` body, OpenAI Completion for a GPT-OSS ``prompt`` body.
  Converse refuses GPT-OSS and Qwen2/2.5(-VL) imports.
* InvokeModel answers carry the ``X-Amzn-Bedrock-PerformanceConfig-Latency`` and
  ``X-Amzn-Bedrock-Service-Tier`` headers (the request's values, else ``standard`` and ``default``);
  Converse echoes ``performanceConfig`` and ``serviceTier`` when the request has them.
* Converse ``document`` blocks (validated in ``bodies``) are read by ``documents`` (PDF text with pypdf;
  ``s3Location`` from the emulated S3); a tool asking for question/answer pairs is answered from their text
  (``answers.document_pairs``).
* Body errors are ``ValidationException`` ("Malformed input request: ..."); unknown resources
  ``ResourceNotFoundException``; throttling ``ThrottlingException`` (429): codes botocore declares.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult

from . import answers, bodies, documents
from .bedrock import (
    CustomModel,
    LocalBedrockBackend,
    ResourceNotFoundException,
    ThrottlingException,
    ValidationException,
    bedrock_backends,
    foundation_id,
    parse_s3_uri,
    request_params,
)
from .config import CONFIG

THROTTLE_MESSAGE = "Too many requests, please wait before trying again."
INVALID_MODEL = "The provided model identifier is invalid."
_BASE_RESOURCES = ("foundation-model", "inference-profile", "application-inference-profile")
_PROFILE = re.compile(r"^(?:us|eu|apac|ap|ca|jp|au|us-gov|global)\.")


@dataclass
class Target:
    """What a model id resolves to."""

    kind: str  # "base" | "custom" | "imported"
    family: str  # bodies family used for InvokeModel bodies
    name: str  # base model id, custom model ARN or imported model name
    model: CustomModel | None = None
    base_id: str = ""  # the base model id whose body format applies ("" for imported models)
    architecture: str | None = None  # imported models: model_type/architecture from config.json


_memory_lock = threading.Lock()
_memory_cache: dict[tuple[str, str, str, str], answers.TrainingMemory] = {}
_MEMORY_CACHE_SIZE = 32


def _base_target(model_id: str) -> Target:
    family = bodies.family_of(model_id)
    if family in ("unknown", "imported"):
        raise ValidationException(INVALID_MODEL)
    name = foundation_id(model_id)
    return Target("base", family, name, base_id=name)


def _model_target(backend: LocalBedrockBackend, model_arn: str) -> Target:
    """Target for the model a throughput or deployment serves (custom or base)."""
    if "foundation-model/" in model_arn:
        return _base_target(model_arn)
    model = backend.find_custom_model(model_arn)
    if model is None:
        raise ResourceNotFoundException(f"Model {model_arn} was not found.")
    return Target("custom", bodies.family_of(model.base_model_id), model.arn, model, model.base_model_id)


def resolve_target(backend: LocalBedrockBackend, model_id: str) -> Target:
    """Resolve an InvokeModel/Converse ``modelId``; raises the real service's errors."""
    if model_id.startswith("arn:"):
        resource = model_id.split(":", 5)[-1]
        kind, _, _ = resource.partition("/")
        if kind in _BASE_RESOURCES:
            return _base_target(model_id)
        if kind == "provisioned-model":
            return _throughput_target(backend, model_id)
        if kind == "custom-model-deployment":
            deployment = backend.find_deployment(model_id)
            if deployment is None:
                raise ResourceNotFoundException(f"Custom model deployment {model_id} was not found.")
            if deployment.status != "Active":
                raise ValidationException(
                    f"Custom model deployment {deployment.name} is not ready: its status is {deployment.status}."
                )
            return _model_target(backend, deployment.model_arn)
        if kind == "imported-model":
            imported = backend.find_imported_model(model_id)
            if imported is None:
                raise ResourceNotFoundException(f"Imported model {model_id} was not found.")
            return Target("imported", "imported", imported.name, architecture=imported.architecture)
        if kind == "custom-model":
            raise ValidationException(
                f"The custom model {model_id} cannot be invoked on demand. Purchase Provisioned Throughput "
                "for it or create a custom model deployment, and invoke that ARN instead."
            )
        raise ValidationException(INVALID_MODEL)
    if backend.find_throughput(model_id) is not None:
        return _throughput_target(backend, model_id)
    return _base_target(model_id)


def _throughput_target(backend: LocalBedrockBackend, identifier: str) -> Target:
    throughput = backend.find_throughput(identifier)
    if throughput is None:
        raise ResourceNotFoundException(f"Provisioned model throughput {identifier} was not found.")
    # While Updating, the throughput keeps serving its current model, as the real service does.
    if throughput.status not in ("InService", "Updating"):
        raise ValidationException(
            f"Provisioned model throughput {throughput.name} is not ready for inference: "
            f"its status is {throughput.status}."
        )
    return _model_target(backend, throughput.model_arn)


def training_memory(backend: LocalBedrockBackend, model: CustomModel) -> answers.TrainingMemory:
    """What a custom model learned: its job's training data, cached per object version."""
    learned = model.job.learned
    if learned is not None:  # trained on invocation logs: the records that passed the job's filters
        key = (backend.account_id, model.job.arn, "invocation-logs", "")
        with _memory_lock:
            if key not in _memory_cache:
                _memory_cache[key] = answers.TrainingMemory(learned.pairs, learned.unanswered)
            return _memory_cache[key]
    uri = model.job.training_data_config.get("s3Uri", "")
    found = backend.s3().read(uri)
    if found is None:
        return answers.TrainingMemory([])
    content, etag = found
    bucket, key = parse_s3_uri(uri)
    cache_key = (backend.account_id, bucket, key, etag)
    with _memory_lock:
        if cache_key in _memory_cache:
            return _memory_cache[cache_key]
    try:
        memory = answers.TrainingMemory.from_jsonl(content.decode("utf-8", errors="replace"))
    except ValueError:
        memory = answers.TrainingMemory([])
    with _memory_lock:
        if len(_memory_cache) >= _MEMORY_CACHE_SIZE:
            _memory_cache.pop(next(iter(_memory_cache)))
        _memory_cache[cache_key] = memory
    return memory


def answer(backend: LocalBedrockBackend, target: Target, request: bodies.ChatRequest) -> str:
    """The raw text the target model says to ``request``."""
    if target.kind == "custom" and target.model is not None:
        job = target.model.job
        loss_value = job.validation_loss if job.validation_loss is not None else job.training_loss
        return answers.custom_answer(training_memory(backend, target.model), request, loss_value or 1.0)
    if target.kind == "imported":
        return answers.imported_answer(request, target.name)
    return answers.base_answer(request, target.name)


def _start(response: Any) -> tuple[LocalBedrockBackend, dict[str, Any], dict[str, Any]]:
    """Throttle, then (backend, parsed params, JSON body) of a runtime call."""
    if CONFIG.count_runtime_call():
        raise ThrottlingException(THROTTLE_MESSAGE)
    params = request_params(response)
    raw = response.raw_body if isinstance(response.raw_body, bytes | str) else b""
    try:
        body = json.loads(raw or b"{}")
    except ValueError as err:
        raise ValidationException(f"Malformed input request: the body is not valid JSON ({err}).") from None
    backend = bedrock_backends[response.current_account][response.region]
    return backend, params, body


def _malformed(err: ValueError) -> ValidationException:
    return ValidationException(f"Malformed input request: {err}, please reformat your input and try again.")


def _invoke_headers(params: dict[str, Any]) -> dict[str, str]:
    """The InvokeModel output members botocore reads from headers, echoing the request's."""
    latency = params.get("performanceConfigLatency") or "standard"
    tier = params.get("serviceTier") or "default"
    if latency not in bodies.PERFORMANCE_LATENCIES:
        raise ValidationException(
            f"1 validation error detected: Value '{latency}' at 'performanceConfigLatency' failed to satisfy "
            "constraint: Member must satisfy enum value set: [standard, optimized]"
        )
    if tier not in bodies.SERVICE_TIERS:
        raise ValidationException(
            f"1 validation error detected: Value '{tier}' at 'serviceTier' failed to satisfy constraint: "
            "Member must satisfy enum value set: [priority, default, flex, reserved]"
        )
    return {"performanceConfigLatency": latency, "serviceTier": tier}


def _embeddings(target: Target, body: dict[str, Any]) -> dict[str, Any]:
    """The embedding model's answer: one deterministic vector per text (see ``answers.embed``)."""
    try:
        request = bodies.parse_embedding_body(target.family, body, target.base_id)
    except ValueError as err:
        raise _malformed(err) from None
    images = request.images or [""] * len(request.texts)
    # One embedding space per model: the base model without inference-profile prefix or ":N:ctx" suffix,
    # or the custom model's ARN (fine-tuning moves the vectors).
    seed = target.name if target.kind == "custom" else ":".join(_PROFILE.sub("", target.base_id).split(":")[:2])
    vectors = [
        answers.embed(text, request.dimensions, seed, normalize=request.normalize, extra=image)
        for text, image in zip(request.texts, images, strict=False)
    ]
    tokens = [answers.embedding_tokens(text) for text in request.texts]
    return bodies.render_embedding_body(target.family, request, vectors, tokens, model_id=target.base_id)


def invoke_model(self: Any) -> ActionResult:
    """InvokeModel: the family-specific response body of the resolved model, plus the echoed headers."""
    backend, params, body = _start(self)
    headers = _invoke_headers(params)
    with backend.lock:
        target = resolve_target(backend, params.get("modelId") or "")
        if target.family in bodies.EMBEDDING_FAMILIES:
            rendered = _embeddings(target, body)
            return _invoke_result(rendered, headers)
        try:
            request = bodies.parse_invoke_body(target.family, body)
        except ValueError as err:
            raise _malformed(err) from None
        text = answer(backend, target, request)
    text, stop_reason, input_tokens, output_tokens = answers.finish(text, request)
    if target.kind == "imported":
        api = bodies.imported_api(body, target.architecture)
        rendered = bodies.render_imported_body(
            api, text, stop_reason, input_tokens, output_tokens, target.name, created=int(time.time())
        )
    else:
        rendered = bodies.render_invoke_body(
            target.family, text, stop_reason, input_tokens, output_tokens, target.name
        )
    return _invoke_result(rendered, headers)


def _invoke_result(rendered: dict[str, Any], headers: dict[str, str]) -> ActionResult:
    return ActionResult(
        {"body": json.dumps(rendered).encode("utf-8"), "contentType": "application/json", **headers}
    )


def converse(self: Any) -> Any:
    """Converse: a text answer, or a toolUse block when the request asks for a tool."""
    backend, params, body = _start(self)
    with backend.lock:
        target = resolve_target(backend, params.get("modelId") or "")
        if not bodies.converse_supported(target.family, target.architecture):
            raise ValidationException(bodies.CONVERSE_UNSUPPORTED)
        try:
            request = bodies.parse_converse(body)
            documents.attach_texts(request, lambda uri: (backend.s3().read(uri) or (None,))[0])
        except ValueError as err:
            raise ValidationException(str(err)) from None
        text = answer(backend, target, request)
    tool_use = answers.judge_tool_use(request)
    text, stop_reason, input_tokens, output_tokens = answers.finish(text, request)
    if tool_use is not None:
        output_tokens = max(1, len(json.dumps(tool_use["input"])) // 4)
        stop_reason = "tool_use"
    rendered = bodies.render_converse(text, stop_reason, input_tokens, output_tokens, tool_use=tool_use)
    for key in ("performanceConfig", "serviceTier"):
        if isinstance(body.get(key), dict):
            rendered[key] = body[key]
    # Raw JSON keeps the toolUse ``input`` document exactly as built.
    return 200, {"status": 200, "Content-Type": "application/json"}, json.dumps(rendered)


def register_handlers(response_class: type) -> None:
    """Install ``invoke_model`` and ``converse`` on moto's BedrockRuntimeResponse."""
    response_class.invoke_model = invoke_model  # type: ignore[attr-defined]
    response_class.converse = converse  # type: ignore[attr-defined]


def clear_cache() -> None:
    """Forget cached training memories."""
    with _memory_lock:
        _memory_cache.clear()
