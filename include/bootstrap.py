"""Deploy the landing zone, create the notification topic, upload the sample data; idempotent.

Deploys ``include/infra/landing_zone.yaml`` (KMS key, SSE-KMS bucket, VPC with a private subnet per AZ,
S3 gateway and KMS interface endpoints, job security group, Bedrock service role; see
``include/infra/deploy.py``), creates the SNS topic ``bedrock-customization`` for run notifications, and
uploads ``include/sample_data/qa_pairs.jsonl`` as the raw data of today and the seven days before
(``raw/<YYYY-MM-DD>/qa_pairs.jsonl``, the partition the retraining DAG reads for a run of that logical date;
a week covers the weekly schedule's latest tick, which Airflow runs when the DAG is unpaused).

Uses the standard AWS credential chain and honours ``AWS_ENDPOINT_URL``, so it runs against the local
emulator and against real AWS alike. Prints the value of the Airflow Variable ``bedrock_customization``::

    python -m include.bootstrap --region us-east-1

Inside a deployment (docker-compose's ``airflow-init``), ``--aws-conn-id`` takes the credentials, region and
endpoint from the Airflow connection the DAGs use, and ``--variable`` stores the value in the metadata database.
When ``AIRFLOW_VAR_<NAME>`` is set, the landing zone is the user's own and nothing is deployed::

    python -m include.bootstrap --aws-conn-id aws_default --variable bedrock_customization
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from include.infra.deploy import DEFAULT_STACK_NAME, deploy_landing_zone

SAMPLE_DATA = Path(__file__).parent / "sample_data" / "qa_pairs.jsonl"
RAW_KEY = "raw/{date}/qa_pairs.jsonl"
TOPIC_NAME = "bedrock-customization"
#: Today and the seven days before: covers the weekly schedule's latest tick.
SAMPLE_DAYS = 8
VARIABLE_DESCRIPTION = "Landing zone (python -m include.bootstrap)"


def bootstrap(
    region: str,
    stack_name: str = DEFAULT_STACK_NAME,
    sample_data: Path = SAMPLE_DATA,
    dates: Iterable[date] | None = None,
) -> dict:
    """Create or update the landing zone, upload the sample data (as of ``dates``, default the last eight days,
    UTC), and return the Variable value."""
    import boto3

    session = boto3.session.Session(region_name=region)
    outputs = deploy_landing_zone(stack_name, region, session=session)
    bucket, key_arn = outputs["BucketName"], outputs["KmsKeyArn"]
    s3, body = session.client("s3"), sample_data.read_bytes()
    today = datetime.now(UTC).date()
    for day in dates or [today - timedelta(days=n) for n in range(SAMPLE_DAYS)]:
        key = RAW_KEY.format(date=day.isoformat())
        s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    topic_arn = session.client("sns").create_topic(Name=TOPIC_NAME)["TopicArn"]
    return {
        "region": region,
        "bucket": bucket,
        "role_arn": outputs["RoleArn"],
        "kms_key_arn": key_arn,
        "vpc_id": outputs["VpcId"],
        "subnet_ids": outputs["SubnetIds"].split(","),
        "security_group_ids": [outputs["SecurityGroupId"]],
        "topic_arn": topic_arn,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", help="default: the connection's region, else us-east-1")
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    parser.add_argument(
        "--aws-conn-id", help="use this Airflow connection's credentials, region and endpoint_url"
    )
    parser.add_argument("--variable", help="store the value as this Airflow Variable")
    args = parser.parse_args(argv)
    if args.variable and os.environ.get(f"AIRFLOW_VAR_{args.variable.upper()}"):
        print(f"AIRFLOW_VAR_{args.variable.upper()} is set: using that landing zone, deploying nothing.")
        return 0
    region = args.region or "us-east-1"
    if args.aws_conn_id:
        region = _use_connection(args.aws_conn_id, args.region)
    value = bootstrap(region, args.stack_name)
    if args.variable:
        from airflow.models.variable import Variable

        Variable.set(args.variable, value, description=VARIABLE_DESCRIPTION, serialize_json=True)
        print(f"Stored the landing zone as the Variable {args.variable}.", file=sys.stderr)
    print(json.dumps(value))
    return 0


def _use_connection(conn_id: str, region: str | None) -> str:
    """Point boto3 at what the Airflow connection ``conn_id`` says; return its region (``region`` wins)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=conn_id, client_type="s3")
    config = hook.conn_config
    credentials = hook.get_session(region_name=region).get_credentials().get_frozen_credentials()
    os.environ.update(AWS_ACCESS_KEY_ID=credentials.access_key, AWS_SECRET_ACCESS_KEY=credentials.secret_key)
    if credentials.token:
        os.environ["AWS_SESSION_TOKEN"] = credentials.token
    if config.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = config.endpoint_url
    return region or config.region_name or "us-east-1"


if __name__ == "__main__":
    raise SystemExit(main())
