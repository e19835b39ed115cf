"""install()/mock() wiring and the config object."""

from __future__ import annotations

from typing import Any

import pytest

from include import local_aws
from include.local_aws import CONFIG, bedrock
from include.local_aws.config import LocalAwsConfig

from .helpers import client, create_job, put_jsonl, qa_records


def test_install_is_idempotent_and_replaces_the_backend() -> None:
    import moto.backends
    from moto.bedrock.responses import BedrockResponse
    from moto.bedrockruntime.responses import BedrockRuntimeResponse

    local_aws.install()
    handler = BedrockResponse.create_model_customization_job
    local_aws.install()
    assert BedrockResponse.create_model_customization_job is handler
    assert moto.backends.get_backend("bedrock") is bedrock.bedrock_backends
    assert hasattr(BedrockRuntimeResponse, "converse")
    for operation in bedrock.OPERATIONS:
        name = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
        assert callable(getattr(BedrockResponse, name))


def test_state_does_not_leak_between_mocks() -> None:
    with local_aws.mock():
        s3 = client("s3")
        s3.create_bucket(Bucket="data")
        put_jsonl(s3, "train.jsonl", qa_records(3))
        create_job(client("bedrock"))
        assert len(client("bedrock").list_model_customization_jobs()["modelCustomizationJobSummaries"]) == 1
    with local_aws.mock():
        assert client("bedrock").list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


def test_other_services_stay_stock_moto(aws: None) -> None:
    assert client("sts").get_caller_identity()["Account"] == "123456789012"
    assert client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    assert client("sns").create_topic(Name="t")["TopicArn"]
    bedrock_client = client("bedrock")
    config = {"textDataDeliveryEnabled": True, "s3Config": {"bucketName": "logs"}}
    bedrock_client.put_model_invocation_logging_configuration(loggingConfig=config)
    assert bedrock_client.get_model_invocation_logging_configuration()["loggingConfig"]["s3Config"] == {
        "bucketName": "logs"
    }


def test_config_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_AWS_JOB_SECONDS", "2.5")
    monkeypatch.setenv("LOCAL_AWS_THROTTLE_EVERY", "4")
    monkeypatch.setenv("LOCAL_AWS_METRICS_LAYOUT", "flat")
    monkeypatch.setenv("LOCAL_AWS_FAIL_JOBS", "^x")
    config = LocalAwsConfig.from_env()
    assert (config.job_seconds, config.throttle_every, config.metrics_layout, config.fail_jobs) == (2.5, 4, "flat", "^x")
    monkeypatch.delenv("LOCAL_AWS_JOB_SECONDS")
    config.reset()
    assert config.job_seconds == 20.0 and config.stop_seconds == 1.0 and config.throughput_seconds == 5.0
    assert config.import_seconds == 10.0 and config.deployment_seconds == 5.0 and config.fail_throughputs == ""


def test_config_update_validates_and_returns_everything() -> None:
    result = CONFIG.update(job_seconds="3", throttle_every="2")
    assert result["job_seconds"] == 3.0 and result["throttle_every"] == 2
    assert set(result) == set(CONFIG.knob_names())
    bad: list[dict[str, Any]] = [
        {"unknown": 1},
        {"job_seconds": "soon"},
        {"job_seconds": -1},
        {"fail_jobs": "("},
        {"metrics_layout": "sideways"},
    ]
    for update in bad:
        with pytest.raises(ValueError):
            CONFIG.update(**update)
    assert CONFIG.job_seconds == 3.0


def test_throttle_counter() -> None:
    CONFIG.update(throttle_every=2)
    assert [CONFIG.count_runtime_call() for _ in range(4)] == [False, True, False, True]
    CONFIG.count_runtime_call()
    CONFIG.reset()
    CONFIG.update(throttle_every=2)
    assert [CONFIG.count_runtime_call() for _ in range(2)] == [False, True]
    CONFIG.update(throttle_every=0)
    assert not any(CONFIG.count_runtime_call() for _ in range(5))
