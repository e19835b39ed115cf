"""GenerateBedrockEvalSetOperator against the in-process emulator: a PDF made here, in S3, becomes a held-out
set in Nova's format with SSE-KMS; training prompts never leak into it; throttling is retried."""

from __future__ import annotations

import json

import pytest
from fpdf import FPDF

from bedrock_customization.evaluation.generate import GenerationError
from bedrock_customization.evaluation.samples import read_samples
from bedrock_customization.operators.eval_set import GenerateBedrockEvalSetOperator
from include.local_aws import CONFIG

from .conftest import BUCKET, FAST, NOVA_MICRO, NOVA_MICRO_ON_DEMAND, REGION, put_jsonl

FACTS = [
    "The Orion gateway connects at most 40 sensors per site.",
    "Firmware updates for the Orion gateway ship on the second Tuesday of every month.",
    "Support tickets about the gateway are answered within four business hours.",
    "Every gateway keeps its sensor readings for ninety days before deleting them.",
]


def write_pdf(s3, key: str, sentences: list[str] = FACTS) -> str:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, " ".join(sentences))
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(pdf.output()))
    return f"s3://{BUCKET}/{key}"


def operator(**overrides) -> GenerateBedrockEvalSetOperator:
    kwargs = {
        "task_id": "generate_eval_set",
        "aws_conn_id": None,
        "region_name": REGION,
        "documents_uri": f"s3://{BUCKET}/docs/",
        "output_uri": f"s3://{BUCKET}/eval/",
        "model_id": NOVA_MICRO_ON_DEMAND,
        "base_model_id": NOVA_MICRO,
        "count": 3,
        "retry_base_delay": 0.01,
        "retry_max_delay": 0.02,
        **overrides,
    }
    return GenerateBedrockEvalSetOperator(**kwargs)


def read(s3, uri: str) -> tuple[bytes, dict]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    response = s3.get_object(Bucket=bucket, Key=key)
    return response["Body"].read(), response


def test_generates_from_a_pdf_without_leaking_training_prompts(s3, runtime):
    import boto3

    key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    write_pdf(s3, "docs/orion guide.pdf")
    first = operator(output_uri=f"s3://{BUCKET}/first/").execute({})
    body, _ = read(s3, first["uri"])
    leaked = read_samples(body.decode())[0].prompt
    training = put_jsonl(s3, "data/train.jsonl", [{"prompt": leaked, "completion": "40 sensors."}])
    CONFIG.reset()  # zeroes the call counter
    CONFIG.update(**FAST, throttle_every=2)
    runtime.converse(modelId=NOVA_MICRO_ON_DEMAND, messages=[{"role": "user", "content": [{"text": "hi"}]}])

    result = operator(training_data_uri=training, kms_key_id=key_arn).execute({})

    # Every second call is throttled: both requests (the second asks for the one pair the leak cost) retried.
    assert result["retries"] == 2 and result["requests"] == 2
    assert result["generated"] == 3 and result["eval_set"] == "generated"
    assert result["dropped"] == {"exact_training": 1}
    body, response = read(s3, result["uri"])
    assert result["uri"] == f"s3://{BUCKET}/eval/eval_set.jsonl"
    assert response["ServerSideEncryption"] == "aws:kms" and response["SSEKMSKeyId"] == key_arn
    samples = read_samples(body.decode())
    assert leaked not in [s.prompt for s in samples]
    assert [s.reference for s in samples] == FACTS[1:]  # answers grounded in the PDF's sentences
    assert json.loads(body.splitlines()[0])["schemaVersion"] == "bedrock-conversation-2024"
    report = json.loads(read(s3, result["report_uri"])[0])
    assert report["documents"][0]["name"] == "orion guide" and report["documents"][0]["format"] == "pdf"
    assert report["dropped_examples"][0] == {
        "reason": "exact_training",
        "question": leaked,
        "matched": leaked,
    }


def test_both_keeps_the_split_first_and_split_passes_it_on(s3):
    write_pdf(s3, "docs/orion.pdf")
    split = put_jsonl(s3, "data/validation.jsonl", [{"prompt": "How many sensors?", "completion": "40."}])
    both = operator(
        eval_set="both", split_uri=split, count=2, base_model_id="meta.llama3-1-8b-instruct-v1:0:128k"
    )
    result = both.execute({})
    samples = read_samples(read(s3, result["uri"])[0].decode())
    assert [s.prompt for s in samples][0] == "How many sensors?"
    assert (result["records"], result["split_records"], result["generated"]) == (3, 1, 2)

    passed = operator(eval_set="split", split_uri=split, documents_uri=None).execute({})
    assert passed == {"uri": split, "eval_set": "split", "generated": 0, "report_uri": None}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"eval_set": "docs"}, "eval_set must be one of split, generated, both, not 'docs'"),
        ({"documents_uri": ""}, "set documents_uri (the DAG param eval_documents_uri)"),
        ({"eval_set": "both"}, "evaluates on the validation split too, but there is none"),
        ({"documents_uri": f"s3://{BUCKET}/nothing/"}, f"No documents at s3://{BUCKET}/nothing/"),
        ({"count": "many"}, "count must be a positive integer, not 'many'"),
    ],
)
def test_bad_options_fail_before_any_model_call(s3, overrides, message):
    with pytest.raises(GenerationError) as caught:
        operator(**overrides).execute({})
    assert message in str(caught.value)
