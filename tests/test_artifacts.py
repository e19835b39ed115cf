"""artifacts: S3 URIs parsed in one place, and every object written with SSE-KMS."""

from __future__ import annotations

import pytest

from bedrock_customization import artifacts
from bedrock_customization.exceptions import BedrockCustomizationError, DatasetConfigError, S3UriError

REGION = "us-east-1"
BUCKET = "artifacts-bucket"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/runs/1/train.jsonl", ("bucket", "runs/1/train.jsonl")),
        ("s3://bucket/runs/1/", ("bucket", "runs/1/")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket", ("bucket", "")),
        ("s3://my.bucket-1/a", ("my.bucket-1", "a")),
    ],
)
def test_parse_s3_uri(uri, expected):
    assert artifacts.parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    ["https://example.com/x", "bucket/key", "s3:/bucket/key", "s3://", "s3:///key", "s3://Bucket/k", None, 3],
)
def test_a_bad_uri_is_named_in_the_error(uri):
    with pytest.raises(S3UriError, match="is not an S3 URI") as error:
        artifacts.parse_s3_uri(uri, what="output_uri")
    assert str(error.value).startswith(f"output_uri {uri!r}")
    # Both a ValueError and one of the package's own errors, whichever a caller catches.
    assert isinstance(error.value, ValueError) and isinstance(error.value, BedrockCustomizationError)


def test_a_bad_bucket_name_says_why():
    with pytest.raises(S3UriError, match="'b' is not a bucket name"):
        artifacts.parse_s3_uri("s3://b/key")


def test_callers_raise_their_own_error_type():
    with pytest.raises(DatasetConfigError, match="output_uri 'data/' is not an S3 URI"):
        artifacts.parse_s3_folder("data/", what="output_uri", error=DatasetConfigError)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/a/b", ("bucket", "a/b/")),
        ("s3://bucket/a/b/", ("bucket", "a/b/")),
        ("s3://bucket//a//", ("bucket", "a/")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket", ("bucket", "")),
    ],
)
def test_parse_s3_folder(uri, expected):
    assert artifacts.parse_s3_folder(uri) == expected


def test_uri_building():
    assert artifacts.s3_uri("bucket", "a/b.json") == "s3://bucket/a/b.json"
    assert artifacts.s3_uri("bucket") == "s3://bucket/"
    assert artifacts.join("s3://bucket/runs/1", "summary.json") == "s3://bucket/runs/1/summary.json"
    assert artifacts.join("s3://bucket/runs/1/", "summary.json") == "s3://bucket/runs/1/summary.json"
    assert artifacts.parse_s3_uri(artifacts.s3_uri("bucket", "k")) == ("bucket", "k")


def test_sse_kms_args_never_leave_encryption_out():
    assert artifacts.sse_kms_args() == {"ServerSideEncryption": "aws:kms"}
    assert artifacts.sse_kms_args("alias/k") == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/k"}


@pytest.fixture
def s3_and_kms(monkeypatch):
    from include import local_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with local_aws.mock():
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        yield s3, boto3.client("kms", region_name=REGION)


def test_an_object_written_without_a_key_is_still_sse_kms(s3_and_kms):
    s3, _ = s3_and_kms
    artifacts.put_object(s3, f"s3://{BUCKET}/a/report.json", b"{}", content_type="application/json")
    head = s3.head_object(Bucket=BUCKET, Key="a/report.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["ContentType"] == "application/json"


def test_an_object_written_with_a_key_uses_it(s3_and_kms):
    s3, kms = s3_and_kms
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    artifacts.put_object(s3, f"s3://{BUCKET}/a/chart.png", b"png", "image/png", key_arn)
    head = s3.head_object(Bucket=BUCKET, Key="a/chart.png")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    assert head["ContentType"] == "image/png"
    assert s3.get_object(Bucket=BUCKET, Key="a/chart.png")["Body"].read() == b"png"


def test_conditional_writes(s3_and_kms):
    from botocore.exceptions import ClientError

    s3, _ = s3_and_kms
    uri = f"s3://{BUCKET}/registry/qa.json"
    etag = artifacts.put_object(s3, uri, b"1", if_none_match="*")["ETag"]
    with pytest.raises(ClientError, match="PreconditionFailed"):
        artifacts.put_object(s3, uri, b"2", if_none_match="*")
    artifacts.put_object(s3, uri, b"3", if_match=etag)
    with pytest.raises(ClientError, match="PreconditionFailed"):
        artifacts.put_object(s3, uri, b"4", if_match=etag)
    assert s3.get_object(Bucket=BUCKET, Key="registry/qa.json")["Body"].read() == b"3"
