"""Semantic similarity: the cosine of response and reference embeddings from a Bedrock embedding model.

The ``semantic`` metric embeds each distinct text once through bedrock-runtime ``InvokeModel`` (no model weights
on the worker) and scores a sample with the cosine of its response and reference vectors, negative values
clamped to 0, so scores run from 0 to 1 and higher is better. Vectors are cached for the metric's lifetime:
the references, scored once for the baseline and once for the candidate, are embedded once.

Models: Amazon Titan Text Embeddings V2 (``amazon.titan-embed-text-v2:0``, the default; one text per call, the
calls run ``max_workers`` at a time), Titan Embeddings G1 - Text (``amazon.titan-embed-text-v1``) and Cohere
Embed v3 (``cohere.embed-english-v3``, ``cohere.embed-multilingual-v3``; up to 96 texts per call).

Nothing here imports an AWS SDK: :func:`semantic_metric` takes an ``invoke_model`` callable with the signature of
boto3's ``bedrock-runtime`` ``invoke_model(**request)``. The operator passes one that retries throttling through
:func:`~bedrock_customization.evaluation.invoke.call_with_retries`; a caller with a plain client passes
``retry_policy`` and the same helper retries here.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bedrock_customization.evaluation.errors import EvaluationError, RetriesExhaustedError
from bedrock_customization.evaluation.invoke import RetryPolicy, call_with_retries, error_code
from bedrock_customization.evaluation.metrics import Metric, register_metric

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "EMBEDDING_MODELS",
    "cosine",
    "embedding_family",
    "embedding_request",
    "parse_embeddings",
    "semantic_metric",
]

InvokeModel = Callable[..., Mapping[str, Any]]

DEFAULT_EMBEDDING_MODEL = "amazon.titan-embed-text-v2:0"
#: The text embedding models this metric knows the request and response bodies of.
EMBEDDING_MODELS = (
    "amazon.titan-embed-text-v2:0",
    "amazon.titan-embed-text-v1",
    "cohere.embed-english-v3",
    "cohere.embed-multilingual-v3",
)

# Request and response bodies, from the Bedrock user guide:
# Titan: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html
#   V2 request {"inputText": str, "dimensions": 1024 (default) | 512 | 256, "normalize": bool (default true),
#   "embeddingTypes": ["float", "binary"]}; G1 request {"inputText": str} only; both answer
#   {"embedding": [float, ...], "inputTextTokenCount": int} (V2 adds "embeddingsByType").
#   V2 takes at most 8,192 tokens or 50,000 characters.
# Cohere Embed v3: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html
#   request {"texts": [str, ... up to 96], "input_type": "search_document" | "search_query" | "classification" |
#   "clustering", "truncate": "NONE" | "START" | "END", "embedding_types": [...]}; at most 2,048 characters a
#   text. Without embedding_types the answer is Cohere's "embeddings_floats" response ({"embeddings": [[float,
#   ...], ...]}); with them "embeddings_by_type" ({"embeddings": {"float": [[...]], ...}}): both are read.
TITAN_V2_DIMENSIONS = (256, 512, 1024)
TITAN_MAX_CHARS = 50_000
COHERE_MAX_TEXTS = 96
COHERE_MAX_CHARS = 2048
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
#: The text embedded by the preflight call when the metric is built.
PROBE_TEXT = "Semantic similarity preflight."

_PROFILE_PREFIX = re.compile(r"^(?:us|eu|apac|ap|ca|jp|au|us-gov|global)\.")
_COHERE_V3 = re.compile(r"^cohere\.embed-(?:english|multilingual)-v3")


def embedding_family(model_id: str) -> str | None:
    """``titan-v2``, ``titan-v1`` or ``cohere-v3`` for a model id, foundation-model ARN or inference profile
    of a known text embedding model; None for anything else."""
    text = model_id.strip().lower() if isinstance(model_id, str) else ""
    if text.startswith("arn:"):
        kind, _, text = text.split(":", 5)[-1].partition("/")
        if kind not in ("foundation-model", "inference-profile"):
            return None
    text = _PROFILE_PREFIX.sub("", text)
    if text.startswith("amazon.titan-embed-text-v2"):
        return "titan-v2"
    if text.startswith(("amazon.titan-embed-text-v1", "amazon.titan-embed-g1-text")):
        return "titan-v1"
    if _COHERE_V3.match(text):
        return "cohere-v3"
    return None


def embedding_request(
    model_id: str,
    family: str,
    texts: Sequence[str],
    *,
    dimensions: int | None = None,
    input_type: str = "clustering",
) -> dict[str, Any]:
    """Keyword arguments for ``invoke_model`` embedding ``texts`` (one text for Titan, up to 96 for Cohere)."""
    body: dict[str, Any]
    if family == "cohere-v3":
        if not 1 <= len(texts) <= COHERE_MAX_TEXTS:
            raise ValueError(f"Cohere Embed takes 1 to {COHERE_MAX_TEXTS} texts a call, got {len(texts)}")
        body = {
            "texts": [text[:COHERE_MAX_CHARS] for text in texts],
            "input_type": input_type,
            "truncate": "END",
        }
    else:
        if len(texts) != 1:
            raise ValueError(f"Titan embeds one text a call, got {len(texts)}")
        body = {"inputText": texts[0][:TITAN_MAX_CHARS]}
        if family == "titan-v2":
            body.update(dimensions=dimensions or 1024, normalize=True)
    return {
        "modelId": model_id,
        "body": json.dumps(body, ensure_ascii=False),
        "contentType": "application/json",
        "accept": "application/json",
    }


def parse_embeddings(reply: Mapping[str, Any], family: str, count: int, model_id: str) -> list[list[float]]:
    """The ``count`` vectors in an ``invoke_model`` reply (its ``body`` a stream, bytes or a dict)."""
    raw = reply.get("body")
    raw = raw.read() if hasattr(raw, "read") else raw
    try:
        body = json.loads(raw) if isinstance(raw, bytes | str) else raw
    except json.JSONDecodeError as err:
        raise EvaluationError(f"The embedding model {model_id} answered a body that is not JSON") from err
    if not isinstance(body, Mapping):
        raise EvaluationError(
            f"The embedding model {model_id} answered {type(body).__name__}, not a JSON object"
        )
    if family == "cohere-v3":
        vectors = body.get("embeddings")
        if isinstance(vectors, Mapping):  # embeddings_by_type
            vectors = vectors.get("float")
    else:
        vectors = [body.get("embedding")]
    if (
        not isinstance(vectors, list)
        or len(vectors) != count
        or not all(isinstance(v, list) and v and all(isinstance(x, int | float) for x in v) for v in vectors)
    ):
        raise EvaluationError(
            f"The embedding model {model_id} did not answer {count} float vector(s) "
            f"(keys: {', '.join(sorted(body)) or 'none'})"
        )
    return [[float(x) for x in vector] for vector in vectors]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors; 0.0 when either is zero."""
    if len(a) != len(b):
        raise EvaluationError(f"Embeddings of different lengths ({len(a)} and {len(b)}) cannot be compared")
    norm = math.sqrt(math.fsum(x * x for x in a) * math.fsum(y * y for y in b))
    return math.fsum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


class _Embedder:
    """Embeds texts through ``invoke_model``, each distinct text once for the embedder's lifetime."""

    def __init__(
        self,
        invoke_model: InvokeModel,
        model_id: str,
        family: str,
        dimensions: int | None,
        input_type: str,
        max_workers: int,
        retry_policy: RetryPolicy | None,
        on_retry: Callable[[int, str, float], None] | None,
    ) -> None:
        self.invoke_model, self.model_id, self.family = invoke_model, model_id, family
        self.dimensions, self.input_type, self.max_workers = dimensions, input_type, max_workers
        self.retry_policy, self.on_retry = retry_policy, on_retry
        self._cache: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _call(self, texts: list[str]) -> list[list[float]]:
        request = embedding_request(
            self.model_id, self.family, texts, dimensions=self.dimensions, input_type=self.input_type
        )
        if self.retry_policy is None:
            reply = self.invoke_model(**request)
        else:
            reply, _ = call_with_retries(
                lambda: self.invoke_model(**request),
                what=f"InvokeModel on the embedding model {self.model_id}",
                policy=self.retry_policy,
                on_retry=self.on_retry,
            )
        return parse_embeddings(reply, self.family, len(texts), self.model_id)

    def _embed_batch(self, texts: list[str]) -> None:
        vectors = self._call(texts)
        with self._lock:
            self._cache.update(zip(texts, vectors, strict=True))

    def embed(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """Vectors of ``texts`` (blank texts excluded), calling the model only for texts not seen before."""
        wanted = [text for text in dict.fromkeys(texts) if text.strip()]
        with self._lock:
            missing = [text for text in wanted if text not in self._cache]
        size = COHERE_MAX_TEXTS if self.family == "cohere-v3" else 1
        batches = [missing[start : start + size] for start in range(0, len(missing), size)]
        if self.max_workers <= 1 or len(batches) <= 1:
            for batch in batches:
                self._embed_batch(batch)
        else:
            with ThreadPoolExecutor(
                max_workers=min(self.max_workers, len(batches)), thread_name_prefix="embeddings"
            ) as pool:
                list(pool.map(self._embed_batch, batches))
        with self._lock:
            return {text: self._cache[text] for text in wanted}

    def probe(self) -> None:
        """Embed one short text, turning refused access or a wrong model into an error that says what to fix."""
        try:
            self.embed([PROBE_TEXT])
        except RetriesExhaustedError:
            raise
        except Exception as exc:
            code = error_code(exc) or (error_code(exc.__cause__) if exc.__cause__ is not None else None)
            fix = (
                f"or choose another embedding model with metric_options={{'semantic': {{'model_id': ...}}}} "
                f"(known: {', '.join(EMBEDDING_MODELS)})"
            )
            if code == "AccessDeniedException":
                raise EvaluationError(
                    f"The 'semantic' metric cannot use the embedding model {self.model_id}: access denied ({exc}). "
                    f"Allow bedrock:InvokeModel on foundation-model/{self.model_id} for the worker's role and make "
                    f"sure the model is available to the account in this region, {fix}."
                ) from exc
            if code in ("ValidationException", "ResourceNotFoundException"):
                raise EvaluationError(
                    f"The 'semantic' metric cannot use {self.model_id} as an embedding model ({exc}). Check "
                    f"that the region offers it, {fix}."
                ) from exc
            raise


def _dimensions(family: str, model_id: str, dimensions: Any) -> int | None:
    if dimensions is None or dimensions == "":
        return None
    if family != "titan-v2":
        raise EvaluationError(
            f"The 'semantic' option dimensions applies to Titan Text Embeddings V2 only, not {model_id}"
        )
    try:
        value = int(dimensions)
    except (TypeError, ValueError):
        value = 0
    if isinstance(dimensions, bool) or value not in TITAN_V2_DIMENSIONS:
        raise EvaluationError(
            f"The 'semantic' option dimensions={dimensions!r} is not one Titan Text Embeddings V2 accepts: "
            f"use {', '.join(map(str, TITAN_V2_DIMENSIONS))}"
        )
    return value


def semantic_metric(
    *,
    invoke_model: InvokeModel | None = None,
    model_id: str = DEFAULT_EMBEDDING_MODEL,
    dimensions: int | str | None = None,
    input_type: str = "clustering",
    max_workers: int = 4,
    retry_policy: RetryPolicy | None = None,
    on_retry: Callable[[int, str, float], None] | None = None,
    preflight: bool = True,
) -> Metric:
    """The ``semantic`` metric: cosine (0-1, negatives clamped to 0) of response and reference embeddings.

    :param invoke_model: bedrock-runtime ``invoke_model``, or a callable with its signature.
    :param model_id: A text embedding model (:data:`EMBEDDING_MODELS`). (default Titan Text Embeddings V2)
    :param dimensions: Titan Text Embeddings V2 only: 256, 512 or 1024. (default 1024)
    :param input_type: Cohere Embed only: the ``input_type`` of both texts. (default ``clustering``)
    :param max_workers: Calls in flight at once. (default 4)
    :param retry_policy: Retry throttling here with this policy; None when ``invoke_model`` retries already (the
        operator's does). (default None)
    :param on_retry: ``on_retry(retry, code, delay)`` before each wait of ``retry_policy``.
    :param preflight: Embed one short text now, so that a refused or wrong model fails before any other model
        is asked. (default True)

    A blank response (or reference) scores 0 without a call.
    """
    family = embedding_family(model_id)
    if family is None:
        raise EvaluationError(
            f"The 'semantic' metric needs a text embedding model, and {model_id!r} is not one it knows. "
            f"Set metric_options={{'semantic': {{'model_id': ...}}}} to one of {', '.join(EMBEDDING_MODELS)} "
            f"(default {DEFAULT_EMBEDDING_MODEL})."
        )
    if invoke_model is None:
        raise EvaluationError(
            "The 'semantic' metric needs an invoke_model callable (bedrock-runtime invoke_model)"
        )
    size = _dimensions(family, model_id, dimensions)
    if family == "cohere-v3" and input_type not in COHERE_INPUT_TYPES:
        raise EvaluationError(
            f"The 'semantic' option input_type={input_type!r} is not a Cohere Embed text input type: use "
            f"{', '.join(COHERE_INPUT_TYPES)}"
        )
    embedder = _Embedder(
        invoke_model, model_id, family, size, input_type, max_workers, retry_policy, on_retry
    )
    if preflight:
        embedder.probe()

    def score(responses: Sequence[str], references: Sequence[str], prompts: Sequence[str]) -> list[float]:
        vectors = embedder.embed([*references, *responses])
        return [
            min(1.0, max(0.0, cosine(vectors[response], vectors[reference])))
            if response in vectors and reference in vectors
            else 0.0
            for response, reference in zip(responses, references, strict=True)
        ]

    shown = f"{model_id} ({size} dimensions)" if size else model_id
    return Metric(
        "semantic", "Semantic similarity", 1.0, score, f"cosine of {shown} embeddings, negatives as 0"
    )


register_metric("semantic", semantic_metric)
