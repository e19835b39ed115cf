"""``python -m include.bootstrap`` as docker-compose's ``airflow-init`` runs it: through the Airflow connection."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from include import bootstrap

SET_BY_BOOTSTRAP = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@pytest.fixture
def emulator():
    from include.local_aws.server import LocalAwsServer

    with LocalAwsServer() as server:
        yield server.endpoint_url


def test_connection_bootstrap_stores_the_variable_and_a_week_of_data(emulator, airflow_db, monkeypatch, capsys):
    for key in SET_BY_BOOTSTRAP:  # main() points boto3 at the connection; restore this process afterwards
        monkeypatch.setenv(key, "unset")
        monkeypatch.delenv(key)
    monkeypatch.delenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", raising=False)
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"region_name": "us-east-1", "endpoint_url": emulator},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))

    from airflow.models.variable import Variable

    try:
        assert bootstrap.main(["--aws-conn-id", "aws_default", "--variable", "bedrock_customization"]) == 0
        stored = Variable.get("bedrock_customization", deserialize_json=True)
    finally:  # the metadata DB is shared by the whole session: other tests expect no such Variable
        Variable.delete("bedrock_customization")
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stored == printed and stored["region"] == "us-east-1" and stored["subnet_ids"]
    import boto3

    s3 = boto3.client("s3", endpoint_url=emulator, region_name="us-east-1")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=stored["bucket"], Prefix="raw/")["Contents"]}
    today = datetime.now(UTC).date()
    # Today and the week before: the weekly schedule's latest tick, which Airflow runs on unpause, has data.
    assert keys == {f"raw/{today - timedelta(days=n)}/qa_pairs.jsonl" for n in range(8)}


def test_a_landing_zone_of_your_own_deploys_nothing(monkeypatch, capsys):
    own = {"bucket": "mine", "role_arn": "arn:aws:iam::123456789012:role/mine"}
    monkeypatch.setenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps(own))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws", "extra": {"endpoint_url": "http://127.0.0.1:9"}}')
    # Port 9 refuses connections: any AWS call would fail this test.
    assert bootstrap.main(["--aws-conn-id", "aws_default", "--variable", "bedrock_customization"]) == 0
    assert "deploying nothing" in capsys.readouterr().out
