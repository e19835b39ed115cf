"""The ``semantic`` metric: cosine of Bedrock embeddings, against the emulator's embedding models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bedrock_customization.evaluation import EvaluationError, create_metric, create_metrics
from bedrock_customization.evaluation.invoke import RetryPolicy
from bedrock_customization.evaluation.semantic import (
    DEFAULT_EMBEDDING_MODEL,
    embedding_family,
    embedding_request,
)

from .conftest import JUDGE, NOVA_MICRO_ON_DEMAND

REFERENCE = "How do I reset my password?"
PARAPHRASE = "How can I reset the password of my account"
UNRELATED = "The weather in Paris is sunny and warm today."
FAST_RETRIES = RetryPolicy(max_attempts=6, base_delay=0.001, max_delay=0.002)


class CountingInvoke:
    """Passes calls to the runtime client's invoke_model and records the texts of each request."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.texts: list[list[str]] = []

    def __call__(self, **request: Any) -> Any:
        body = json.loads(request["body"])
        self.texts.append(body["texts"] if "texts" in body else [body["inputText"]])
        return self.runtime.invoke_model(**request)

    @property
    def calls(self) -> int:
        return len(self.texts)


def values(metric, responses: list[str], references: list[str]) -> list[float]:
    return [score.value for score in metric.score(responses, references)]


@pytest.mark.parametrize(
    ("model_id", "options"),
    [
        (DEFAULT_EMBEDDING_MODEL, {}),
        (DEFAULT_EMBEDDING_MODEL, {"dimensions": 256}),
        ("amazon.titan-embed-text-v1", {}),
        ("cohere.embed-multilingual-v3", {}),
    ],
)
def test_a_paraphrase_scores_clearly_higher_than_unrelated_text(runtime, model_id, options):
    metric = create_metric("semantic", invoke_model=runtime.invoke_model, model_id=model_id, **options)
    assert (metric.name, metric.label, metric.scale) == ("semantic", "Semantic similarity", 1.0)
    identical, paraphrase, unrelated = values(metric, [REFERENCE, PARAPHRASE, UNRELATED], [REFERENCE] * 3)
    assert identical == pytest.approx(1.0)
    assert paraphrase > 0.5 and unrelated < 0.2
    assert paraphrase > unrelated + 0.4
    assert all(0.0 <= value <= 1.0 for value in (identical, paraphrase, unrelated))


def test_titan_v2_request_body_and_model_families():
    request = embedding_request(DEFAULT_EMBEDDING_MODEL, "titan-v2", ["hi"], dimensions=512)
    assert request["modelId"] == DEFAULT_EMBEDDING_MODEL and request["contentType"] == "application/json"
    assert json.loads(request["body"]) == {"inputText": "hi", "dimensions": 512, "normalize": True}
    assert json.loads(embedding_request("amazon.titan-embed-text-v1", "titan-v1", ["hi"])["body"]) == {
        "inputText": "hi"
    }
    cohere = json.loads(embedding_request("cohere.embed-english-v3", "cohere-v3", ["a", "b"])["body"])
    assert cohere == {"texts": ["a", "b"], "input_type": "clustering", "truncate": "END"}
    assert (
        embedding_family(f"arn:aws:bedrock:us-east-1::foundation-model/{DEFAULT_EMBEDDING_MODEL}")
        == "titan-v2"
    )
    assert embedding_family("cohere.embed-english-v3") == "cohere-v3"
    for not_embedding in (
        NOVA_MICRO_ON_DEMAND,
        JUDGE,
        "amazon.titan-embed-image-v1",
        "cohere.command-text-v14",
    ):
        assert embedding_family(not_embedding) is None


def test_each_distinct_text_is_embedded_once_across_baseline_and_candidate(runtime):
    invoke = CountingInvoke(runtime)
    metric = create_metric("semantic", invoke_model=invoke, preflight=False, max_workers=3)
    references = ["Grove costs $79 per month.", "Support answers within a day.", "Grove costs $79 per month."]
    baseline = ["It is free.", "Support answers within a day.", "It is free."]
    candidate = ["Grove costs $79 a month.", "Support replies within one day.", "Grove costs $79 a month."]

    first = values(metric, baseline, references)
    assert invoke.calls == 3  # 2 distinct references + 1 new response ("Support answers..." is a reference)
    second = values(metric, candidate, references)
    assert invoke.calls == 5  # the references come from the cache; 2 distinct candidate responses
    assert sorted(text for texts in invoke.texts for text in texts) == sorted(
        set(references + baseline + candidate)
    )
    assert first[1] == pytest.approx(1.0) and first[0] == first[2]
    assert second[0] > first[0] and second[0] == second[2]


def test_cohere_embeds_a_batch_per_call(runtime):
    invoke = CountingInvoke(runtime)
    metric = create_metric(
        "semantic", invoke_model=invoke, model_id="cohere.embed-english-v3", preflight=False
    )
    responses = [f"answer number {i}" for i in range(60)]
    references = [f"reference number {i % 10}" for i in range(60)]
    scores = values(metric, responses, references)
    assert len(scores) == 60
    assert [len(texts) for texts in invoke.texts] == [70]  # 10 references + 60 responses, one call


def test_blank_responses_score_zero_without_a_call(runtime):
    invoke = CountingInvoke(runtime)
    metric = create_metric("semantic", invoke_model=invoke, preflight=False)
    assert values(metric, ["", "   "], [REFERENCE, REFERENCE]) == [0.0, 0.0]
    assert invoke.texts == [[REFERENCE]]


def test_throttling_is_retried_with_the_shared_policy(runtime):
    from include.local_aws import CONFIG

    calm = create_metric("semantic", invoke_model=runtime.invoke_model, preflight=False)
    expected = values(calm, [PARAPHRASE, UNRELATED, "Reset it in settings."], [REFERENCE] * 3)

    CONFIG.update(throttle_every=2)
    retries: list[tuple[int, str]] = []
    throttled = create_metric(
        "semantic",
        invoke_model=runtime.invoke_model,
        retry_policy=FAST_RETRIES,
        on_retry=lambda retry, code, delay: retries.append((retry, code)),
        max_workers=1,
    )
    assert values(throttled, [PARAPHRASE, UNRELATED, "Reset it in settings."], [REFERENCE] * 3) == expected
    assert len(retries) >= 2 and {code for _, code in retries} == {"ThrottlingException"}

    CONFIG.update(throttle_every=1)
    exhausted = create_metric(
        "semantic", invoke_model=runtime.invoke_model, preflight=False, retry_policy=FAST_RETRIES
    )
    with pytest.raises(EvaluationError, match=r"embedding model .* still failed after 6 attempts"):
        exhausted.score([PARAPHRASE], [REFERENCE])


@pytest.mark.parametrize("model_id", [NOVA_MICRO_ON_DEMAND, JUDGE, "amazon.titan-embed-image-v1"])
def test_a_model_that_is_not_a_text_embedding_model_fails_before_any_call(model_id):
    def invoke_model(**request):
        raise AssertionError("no call expected")

    with pytest.raises(EvaluationError) as raised:
        create_metrics(["semantic"], {"semantic": {"model_id": model_id, "invoke_model": invoke_model}})
    message = str(raised.value)
    assert repr(model_id) in message and "not one it knows" in message
    assert "metric_options={'semantic': {'model_id': ...}}" in message and DEFAULT_EMBEDDING_MODEL in message


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (
            {"dimensions": 300},
            "dimensions=300 is not one Titan Text Embeddings V2 accepts: use 256, 512, 1024",
        ),
        ({"model_id": "cohere.embed-english-v3", "dimensions": 256}, "Titan Text Embeddings V2 only"),
        ({"model_id": "cohere.embed-english-v3", "input_type": "image"}, "input_type='image'"),
    ],
)
def test_bad_options_name_the_fix(runtime, options, fragment):
    with pytest.raises(EvaluationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        create_metric("semantic", invoke_model=runtime.invoke_model, **options)
    assert create_metric("semantic", invoke_model=runtime.invoke_model, dimensions="512").description == (
        "cosine of amazon.titan-embed-text-v2:0 (512 dimensions) embeddings, negatives as 0"
    )


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        (
            "AccessDeniedException",
            "Allow bedrock:InvokeModel on foundation-model/amazon.titan-embed-text-v2:0",
        ),
        ("ValidationException", "Check that the region offers it"),
        ("ResourceNotFoundException", "Check that the region offers it"),
    ],
)
def test_the_preflight_call_turns_a_refusal_into_an_error_naming_the_model(code, fragment):
    calls = []

    def refused(**request):
        calls.append(request)
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "InvokeModel")

    with pytest.raises(EvaluationError) as raised:
        create_metric("semantic", invoke_model=refused)
    message = str(raised.value)
    assert DEFAULT_EMBEDDING_MODEL in message and fragment in message
    assert "metric_options={'semantic': {'model_id': ...}}" in message
    assert len(calls) == 1


def test_the_preflight_error_is_read_through_a_retrying_wrapper():
    """The operator's invoke_model wraps errors in EvaluationError (from the ClientError); still recognised."""
    from bedrock_customization.evaluation.invoke import call_with_retries

    def wrapped(**request):
        def refuse():
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "InvokeModel")

        return call_with_retries(refuse, what="Embedding model x")[0]

    with pytest.raises(EvaluationError, match="access denied"):
        create_metric("semantic", invoke_model=wrapped)


def test_semantic_needs_an_invoke_callable():
    with pytest.raises(EvaluationError, match="needs an invoke_model callable"):
        create_metric("semantic")


def test_the_training_dag_forms_offer_semantic_but_do_not_default_to_it():
    from bedrock_customization.pipeline import params

    form = params.evaluation(24)
    assert "semantic" in form["metrics"].schema["items"]["enum"]
    assert "semantic" in form["primary_metric"].schema["enum"]
    assert "semantic" not in form["metrics"].value
