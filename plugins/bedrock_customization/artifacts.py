"""S3 locations and SSE-KMS writes: the one place that parses ``s3://`` URIs and puts objects.

Pure except :func:`put_object`, which is given the S3 client. Every object the package writes is encrypted
with SSE-KMS: with the KMS key given, else with the account's AWS managed key ``aws/s3``; never without
server-side encryption headers, whatever the bucket's default encryption is.
"""

from __future__ import annotations

import re
from typing import Any

from bedrock_customization.exceptions import S3UriError

SCHEME = "s3://"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_FORM = "s3://<bucket>/<key>"


def is_bucket_name(name: object) -> bool:
    """Whether ``name`` follows S3's bucket naming rules: 3-63 lowercase letters, digits, ``.`` and ``-``,
    starting and ending with a letter or digit."""
    return isinstance(name, str) and bool(_BUCKET.match(name))


def parse_s3_uri(
    uri: object, *, what: str | None = None, error: type[Exception] = S3UriError
) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``; the key is empty for ``s3://bucket`` and ``s3://bucket/``.

    :param what: What the value is (a parameter name such as ``output_uri``), to start the error message.
    :param error: The exception raised, :class:`~bedrock_customization.exceptions.S3UriError` (a
        ``ValueError``) by default; callers pass their domain's (e.g. ``DatasetConfigError``).
    """
    label = f"{what} " if what else ""
    if not isinstance(uri, str) or not uri.startswith(SCHEME):
        raise error(f"{label}{uri!r} is not an S3 URI ({_FORM})")
    bucket, _, key = uri[len(SCHEME) :].partition("/")
    if not is_bucket_name(bucket):
        raise error(
            f"{label}{uri!r} is not an S3 URI ({_FORM}): {bucket!r} is not a bucket name (3-63 lowercase "
            "letters, digits, '.' and '-')"
        )
    return bucket, key


def parse_s3_folder(
    uri: object, *, what: str | None = None, error: type[Exception] = S3UriError
) -> tuple[str, str]:
    """``s3://bucket/a/b`` or ``s3://bucket/a/b/`` -> ``("bucket", "a/b/")``; the bucket's root is ``""``.

    The key prefix is either empty or ends in exactly one ``/``; errors as :func:`parse_s3_uri`.
    """
    bucket, key = parse_s3_uri(uri, what=what, error=error)
    key = key.strip("/")
    return bucket, f"{key}/" if key else ""


def s3_uri(bucket: str, key: str = "") -> str:
    """``s3://<bucket>/<key>`` (``s3://<bucket>/`` for the bucket's root)."""
    return f"{SCHEME}{bucket}/{key}"


def join(prefix_uri: str, name: str) -> str:
    """``name`` (a key relative to a folder) under the folder URI ``prefix_uri``, with or without its
    trailing ``/``: ``join("s3://b/runs/1", "summary.json") == "s3://b/runs/1/summary.json"``."""
    return f"{prefix_uri.rstrip('/')}/{name}"


def sse_kms_args(kms_key_id: str | None = None) -> dict[str, str]:
    """The SSE-KMS request parameters (``PutObject``, and ``ExtraArgs`` of ``upload_file`` and ``copy``):
    ``aws:kms`` with ``kms_key_id`` (id, ARN or alias), or with the AWS managed key ``aws/s3`` without one."""
    args = {"ServerSideEncryption": "aws:kms"}
    if kms_key_id:
        args["SSEKMSKeyId"] = kms_key_id
    return args


def put_object(
    s3: Any,
    uri: str,
    body: bytes | str,
    content_type: str | None = None,
    kms_key_id: str | None = None,
    *,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> dict[str, Any]:
    """Write ``body`` to the object ``uri`` with SSE-KMS (:func:`sse_kms_args`); the PutObject response.

    :param s3: A boto3 S3 client.
    :param content_type: The object's ``Content-Type``. Default none (S3's ``binary/octet-stream``).
    :param kms_key_id: KMS key (id, ARN or alias). Default none: the AWS managed key ``aws/s3``.
    :param if_match: Write only if the object's ETag is still this one (a conditional write). Default none.
    :param if_none_match: ``"*"``: write only if the object does not exist yet. Default none.
    """
    bucket, key = parse_s3_uri(uri)
    request: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body, **sse_kms_args(kms_key_id)}
    if content_type:
        request["ContentType"] = content_type
    if if_match:
        request["IfMatch"] = if_match
    if if_none_match:
        request["IfNoneMatch"] = if_none_match
    return s3.put_object(**request)
