"""LandingZone: the Variable ``bedrock_customization`` validated once, with an error that says how to fix it."""

from __future__ import annotations

import json

import pytest

from bedrock_customization.exceptions import BedrockCustomizationError, LandingZoneError
from bedrock_customization.landing_zone import LandingZone

ACCOUNT = "123456789012"
#: What `python -m include.bootstrap` writes.
VALUE = {
    "region": "us-east-1",
    "bucket": "bedrock-customization-data",
    "role_arn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-customization",
    "kms_key_arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "vpc_id": "vpc-0abc",
    "subnet_ids": ["subnet-0a1", "subnet-0b2"],
    "security_group_ids": ["sg-0c3"],
    "topic_arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:bedrock-customization",
}


def test_the_bootstrap_value_is_a_landing_zone():
    zone = LandingZone.from_mapping(VALUE)
    assert zone.bucket == VALUE["bucket"] and zone.role_arn == VALUE["role_arn"]
    assert zone.subnet_ids == ("subnet-0a1", "subnet-0b2") and zone.security_group_ids == ("sg-0c3",)
    assert zone.topic_arn == VALUE["topic_arn"] and zone.region == "us-east-1" and zone.vpc
    assert zone.to_dict() == VALUE
    assert LandingZone.from_mapping(zone.to_dict()) == zone
    hash(zone)  # frozen, usable as a key


def test_a_missing_role_arn_names_the_variable_the_key_and_the_fix():
    value = {key: v for key, v in VALUE.items() if key != "role_arn"}
    with pytest.raises(LandingZoneError) as error:
        LandingZone.from_mapping(value)
    message = str(error.value)
    assert "Airflow Variable 'bedrock_customization'" in message
    assert "role_arn is missing" in message
    assert "python -m include.bootstrap" in message and "make run" in message
    assert "airflow variables set bedrock_customization '{" in message
    assert error.value.problems == [
        "role_arn is missing: the ARN of the Bedrock service role (arn:aws:iam::<account>:role/<name>)"
    ]
    assert isinstance(error.value, BedrockCustomizationError) and isinstance(error.value, ValueError)


def test_every_problem_is_reported_at_once():
    value = {
        "bucket": "s3://my-bucket",
        "kms_key_arn": "alias/mine",
        "subnet_ids": "subnet-0a1",
        "security_group_ids": ["sg-0c3", "default"],
        "topic_arn": "bedrock-customization",
    }
    with pytest.raises(LandingZoneError) as error:
        LandingZone.from_mapping(value, variable="my_zone")
    problems = error.value.problems
    assert len(problems) == 6, problems
    assert "bucket 's3://my-bucket' is not an S3 bucket name (give the name, not an s3:// URI)" in problems
    assert any(p.startswith("role_arn is missing") for p in problems)
    assert any(p.startswith("kms_key_arn 'alias/mine' is not the ARN of the KMS key") for p in problems)
    assert "subnet_ids 'subnet-0a1' is not a JSON list of subnet-... ids" in problems
    assert "security_group_ids has invalid ids ['default'] (each sg-...)" in problems
    assert any(p.startswith("topic_arn 'bedrock-customization'") for p in problems)
    assert "Airflow Variable 'my_zone'" in str(error.value)


def test_the_vpc_keys_are_needed_only_for_jobs_in_the_vpc():
    value = {key: v for key, v in VALUE.items() if key not in ("subnet_ids", "security_group_ids")}
    with pytest.raises(LandingZoneError, match="subnet_ids is missing") as error:
        LandingZone.from_mapping(value)
    assert any(p.startswith("security_group_ids is missing") for p in error.value.problems)
    zone = LandingZone.from_mapping(value, require_vpc=False)
    assert not zone.vpc and zone.subnet_ids == ()
    with pytest.raises(LandingZoneError, match="needs both subnet_ids and security_group_ids"):
        LandingZone.from_mapping({**value, "subnet_ids": ["subnet-0a1"]}, require_vpc=False)


def test_optional_keys_may_be_empty_and_others_are_ignored():
    zone = LandingZone.from_mapping({**VALUE, "topic_arn": "", "vpc_id": None, "owner": "team-a"})
    assert zone.topic_arn is None and zone.vpc_id is None


def test_not_an_object():
    with pytest.raises(LandingZoneError, match="its value must be a JSON object, not list"):
        LandingZone.from_mapping(["bucket"])


def test_direct_construction_is_validated_too():
    with pytest.raises(LandingZoneError, match="bucket 'Bad_Bucket' is not an S3 bucket name"):
        LandingZone("Bad_Bucket", VALUE["role_arn"], VALUE["kms_key_arn"])


def test_from_variable(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps(VALUE))
    assert LandingZone.from_variable() == LandingZone.from_mapping(VALUE)


def test_from_variable_says_when_it_is_not_json(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_MY_ZONE", "{bucket: x")
    with pytest.raises(LandingZoneError, match=r"Variable 'my_zone'.*\n  - its value is not JSON"):
        LandingZone.from_variable("my_zone")


def test_from_variable_says_when_it_is_not_set(monkeypatch):
    from airflow.sdk import Variable

    monkeypatch.setattr(Variable, "get", classmethod(lambda cls, key, default=None, **_: default))
    with pytest.raises(LandingZoneError, match=r"Variable 'bedrock_customization'.*\n  - it is not set"):
        LandingZone.from_variable()
