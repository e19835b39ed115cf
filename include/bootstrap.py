"""Create the landing zone the retraining DAG needs and upload the sample data; idempotent.

Creates (or finds) a customer-managed KMS key (alias ``alias/bedrock-customization``), an S3 bucket with
default SSE-KMS by that key and public access blocked, and the Bedrock service role
``BedrockCustomizationRole`` (trusts ``bedrock.amazonaws.com``; may read and write the bucket and use the
key), then uploads ``include/sample_data/qa_pairs.jsonl`` to ``raw/qa_pairs.jsonl``.

Uses the standard AWS credential chain and honours ``AWS_ENDPOINT_URL``, so it runs against the local
emulator and against real AWS alike. Prints the landing zone as one JSON object, the value of the Airflow
Variable ``bedrock_customization``::

    python -m include.bootstrap --region us-east-1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SAMPLE_DATA = Path(__file__).parent / "sample_data" / "qa_pairs.jsonl"
KEY_ALIAS = "alias/bedrock-customization"
ROLE_NAME = "BedrockCustomizationRole"
RAW_KEY = "raw/qa_pairs.jsonl"


def _kms_key(kms) -> str:
    try:
        return kms.describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        key = kms.create_key(Description="Bedrock model customization data and models")["KeyMetadata"]
        kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key["KeyId"])
        return key["Arn"]


def _bucket(s3, name: str, region: str, key_arn: str) -> None:
    try:
        s3.head_bucket(Bucket=name)
    except s3.exceptions.ClientError:
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **config)
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def _role(iam, account: str, region: str, bucket: str, key_arn: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnEquals": {"aws:SourceArn": f"arn:aws:bedrock:{region}:{account}:model-customization-job/*"},
                },
            }
        ],
    }
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
                "Resource": key_arn,
            },
        ],
    }
    try:
        arn = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="bedrock-customization-data", PolicyDocument=json.dumps(policy))
    return arn


def bootstrap(region: str, sample_data: Path = SAMPLE_DATA) -> dict:
    """Create or find the landing zone, upload the sample data, and return the Variable value."""
    import boto3

    session = boto3.session.Session(region_name=region)
    account = session.client("sts").get_caller_identity()["Account"]
    key_arn = _kms_key(session.client("kms"))
    bucket = f"bedrock-customization-{account}-{region}"
    s3 = session.client("s3")
    _bucket(s3, bucket, region, key_arn)
    role_arn = _role(session.client("iam"), account, region, bucket, key_arn)
    s3.put_object(
        Bucket=bucket, Key=RAW_KEY, Body=sample_data.read_bytes(), ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn
    )
    return {"region": region, "account": account, "bucket": bucket, "role_arn": role_arn, "kms_key_arn": key_arn}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    print(json.dumps(bootstrap(args.region)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
