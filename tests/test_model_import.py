"""Custom Model Import: preflight, import job operator, smoke test, delete, waiter/sensor, and the DAG.

The tests write a tiny fake Hugging Face model folder into the emulated S3: ``config.json``
(LlamaForCausalLM), a ``model.safetensors`` with a real safetensors header (8-byte little-endian length +
``{"__metadata__":{}}``), ``tokenizer.json`` and ``tokenizer_config.json``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import struct
import urllib.request

import pendulum
import pytest

from bedrock_customization import model_import, tagging
from bedrock_customization.operators.imported_model import (
    BedrockDeleteImportedModelOperator,
    BedrockImportedModelSmokeTestOperator,
)
from bedrock_customization.operators.model_import import (
    BedrockCreateModelImportJobOperator,
    BedrockModelImportPreflightOperator,
)
from bedrock_customization.preflight import PreflightFailed
from tests.serving_helpers import BUCKET, emulator, make_context

ROLE = "arn:aws:iam::123456789012:role/BedrockCustomization"
QUICK = {"waiter_delay": 0.1, "waiter_max_attempts": 100, "deferrable": False}
SAFETENSORS_HEADER = b'{"__metadata__":{}}'
LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64}
BERT = {"architectures": ["BertForMaskedLM"], "model_type": "bert"}


def safetensors_bytes() -> bytes:
    return struct.pack("<Q", len(SAFETENSORS_HEADER)) + SAFETENSORS_HEADER


def upload_model(
    s3, prefix: str, config: dict | None = None, bucket: str = BUCKET, files: dict | None = None, **put
) -> str:
    """Write a fake Hugging Face model folder; ``files`` replaces (None deletes) any default file."""
    contents = {
        "config.json": json.dumps(config or LLAMA).encode(),
        "model.safetensors": safetensors_bytes(),
        "tokenizer.json": b'{"version": "1.0", "model": {"type": "BPE"}}',
        "tokenizer_config.json": b'{"chat_template": "{{ messages }}"}',
    }
    contents.update(files or {})
    for name, body in contents.items():
        if body is not None:
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=body, **put)
    return f"s3://{bucket}/{prefix}/"


@pytest.fixture
def aws(monkeypatch):
    from include.local_aws import CONFIG

    with emulator(monkeypatch) as clients:
        CONFIG.update(import_seconds=0.3)
        yield clients


def import_op(uri: str, **kwargs) -> BedrockCreateModelImportJobOperator:
    return BedrockCreateModelImportJobOperator(
        task_id="import_model", model_data_uri=uri, role_arn=ROLE, **{**QUICK, **kwargs}
    )


def tags_of(aws, arn: str) -> dict[str, str]:
    return tagging.from_aws(aws.bedrock.list_tags_for_resource(resourceARN=arn)["tags"])


def import_jobs(aws) -> list[dict]:
    return aws.bedrock.list_model_import_jobs()["modelImportJobSummaries"]


# ------------------------------------------------------------------------------------------------ preflight


def test_preflight_passes_for_a_complete_llama_folder(aws):
    uri = upload_model(aws.s3, "models/llama")
    report = model_import.run_import_preflight(aws.s3, uri.rstrip("/"))
    assert report.ok, report.render()
    assert [c.name for c in report.checks] == [
        "model-folder",
        "config",
        "architecture",
        "weights",
        "tokenizer",
        "size",
    ]
    assert "LlamaForCausalLM" in report.render() and "Llama" in report.render()


def test_preflight_reports_every_problem_at_once_naming_file_and_fix(aws):
    lfs_pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 4976698672\n"
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    uri = upload_model(
        aws.s3,
        "models/bert",
        BERT,
        files={
            "model.safetensors": None,
            "model-00001-of-00002.safetensors": lfs_pointer,
            "model.safetensors.index.json": json.dumps(index).encode(),
            "tokenizer.json": None,
        },
    )
    report = model_import.run_import_preflight(aws.s3, uri, max_total_bytes=100)
    failed = {check.name: check for check in report.failed}
    assert set(failed) == {"architecture", "weights", "tokenizer", "size"}
    assert "architectures[0] = 'BertForMaskedLM'" in failed["architecture"].detail
    assert "LlamaForCausalLM" in failed["architecture"].fix
    assert "Git LFS pointer" in failed["weights"].detail
    assert "model-00002-of-00002.safetensors" in failed["weights"].detail
    assert "git lfs pull" in failed["weights"].fix
    assert "tokenizer.json or tokenizer.model" in failed["tokenizer"].detail
    assert "limit is 100 bytes" in failed["size"].detail

    with pytest.raises(PreflightFailed, match=r"4 of 6 checks failed") as raised:
        BedrockModelImportPreflightOperator(
            task_id="preflight", model_data_uri=uri, max_total_bytes=100
        ).execute(make_context("preflight"))
    assert "fix:" in str(raised.value)


def test_preflight_points_at_a_nested_config_and_at_non_safetensors_weights(aws):
    upload_model(aws.s3, "models/outer/inner")
    aws.s3.put_object(Bucket=BUCKET, Key="models/outer/pytorch_model.bin", Body=b"\0" * 32)
    report = model_import.run_import_preflight(aws.s3, f"s3://{BUCKET}/models/outer")
    failed = {check.name: check for check in report.failed}
    assert set(failed) == {"config", "architecture", "weights", "tokenizer"}
    assert f"point model_data_uri at s3://{BUCKET}/models/outer/inner/" in failed["config"].fix
    assert "found pytorch_model.bin" in failed["weights"].detail
    assert "safe_serialization=True" in failed["weights"].fix


@pytest.mark.parametrize(
    ("uri", "detail"),
    [
        ("s3://no-such-bucket/models/x/", "bucket no-such-bucket does not exist"),
        (f"s3://{BUCKET}/empty/", "no files directly in"),
        ("https://example.com/model", "is not an S3 URI"),
    ],
)
def test_preflight_fails_early_without_a_folder(aws, uri, detail):
    report = model_import.run_import_preflight(aws.s3, uri)
    assert not report.ok and [c.name for c in report.checks] == ["model-folder"]
    assert detail in report.checks[0].detail


def test_architecture_mapping_and_model_type_agreement():
    for architecture in model_import.SUPPORTED_ARCHITECTURES:
        assert model_import.check_architecture({"architectures": [architecture]}).ok
    for model_type in ("llama", "qwen3", "gpt_oss", "t5"):
        assert model_import.check_architecture({"model_type": model_type}).ok
    mismatch = model_import.check_architecture(
        {"architectures": ["LlamaForCausalLM"], "model_type": "mistral"}
    )
    assert not mismatch.ok and "model_type = 'mistral' is Mistral" in mismatch.detail
    assert not model_import.check_architecture({}).ok
    assert not model_import.check_architecture({"model_type": "bert"}).ok


def test_imported_model_name_rules():
    assert model_import.check_imported_model_name("my-llama_3-1") == "my-llama_3-1"
    for bad in ("", "two--dashes", "dot.ted", "-leading", "x" * 64):
        with pytest.raises(Exception, match="imported_model_name"):
            model_import.check_imported_model_name(bad)


# ------------------------------------------------------------------------------------------------ import job


def test_import_is_idempotent_tagged_and_returns_the_model(aws):
    uri = upload_model(aws.s3, "models/llama")
    context = make_context("import_model")
    first = import_op(uri, model_tags={"team": "ml"}).execute(context)
    second = import_op(uri, model_tags={"team": "ml"}).execute(context)  # a retry of the same task

    assert first == second
    assert set(first) == {"job_arn", "imported_model_arn", "imported_model_name"}
    [job] = import_jobs(aws)
    assert job["jobArn"] == first["job_arn"] and job["status"] == "Completed"
    model = aws.bedrock.get_imported_model(modelIdentifier=first["imported_model_arn"])
    assert model["modelName"] == first["imported_model_name"]
    assert first["imported_model_name"].startswith("bedrock-retraining-import-model-")
    model_tags = tags_of(aws, first["imported_model_arn"])
    assert tagging.same_run(model_tags, "bedrock_retraining", context["ti"].run_id)
    assert model_tags[tagging.TASK_ID] == "import_model" and model_tags["team"] == "ml"
    assert tagging.is_ours(tags_of(aws, first["job_arn"]))


def test_a_retry_re_attaches_to_the_running_job(aws):
    from include.local_aws import CONFIG

    uri = upload_model(aws.s3, "models/llama")
    CONFIG.update(import_seconds=4)  # still running when the first try returns
    vpc = {"subnet_ids": "subnet-1,subnet-2", "security_group_ids": ["sg-1"]}
    running = import_op(uri, wait_for_completion=False, kms_key_id="alias/models", **vpc).execute(
        make_context()
    )
    assert running["imported_model_arn"] is None
    done = import_op(uri, kms_key_id="alias/models", **vpc).execute(make_context())
    assert done["job_arn"] == running["job_arn"] and done["imported_model_arn"]
    [summary] = import_jobs(aws)
    job = aws.bedrock.get_model_import_job(jobIdentifier=summary["jobArn"])
    assert job["vpcConfig"] == {"subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": ["sg-1"]}
    assert job["importedModelKmsKeyArn"].endswith(":alias/models")
    assert job["modelDataSource"]["s3DataSource"]["s3Uri"] == uri


def test_failed_import_fails_the_task_with_the_jobs_failure_message(aws):
    from airflow.providers.common.compat.sdk import AirflowFailException

    uri = upload_model(aws.s3, "models/bert", BERT)
    with pytest.raises(
        AirflowFailException, match=r"failed: Model import failed: unsupported model architecture"
    ):
        import_op(uri).execute(make_context())
    # A retry re-attaches to the failed job instead of importing again.
    with pytest.raises(AirflowFailException, match="trigger a new DAG run"):
        import_op(uri).execute(make_context())
    assert len(import_jobs(aws)) == 1


def test_a_wait_that_runs_out_may_retry_and_re_attach(aws):
    from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

    from include.local_aws import CONFIG

    CONFIG.update(import_seconds=30)
    uri = upload_model(aws.s3, "models/llama")
    with pytest.raises(AirflowException, match="still InProgress after 2 status checks") as raised:
        import_op(uri, waiter_max_attempts=2).execute(make_context())
    assert not isinstance(raised.value, AirflowFailException)  # Airflow may retry; the retry re-attaches
    assert len(import_jobs(aws)) == 1


def test_import_defers_to_our_trigger(aws):
    from airflow.providers.common.compat.sdk import TaskDeferred

    from bedrock_customization.triggers.bedrock import BedrockModelImportJobCompletedTrigger
    from tests.local_aws.helpers import wait_for

    uri = upload_model(aws.s3, "models/llama")
    op = import_op(uri, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, BedrockModelImportJobCompletedTrigger)
    arn = trigger.serialize()[1]["job_arn"]
    wait_for(
        lambda: aws.bedrock.get_model_import_job(jobIdentifier=arn)["status"], lambda s: s != "InProgress"
    )
    result = op.execute_complete({}, {"status": "success", "job_arn": arn})
    assert result["job_arn"] == arn and result["imported_model_arn"]


def test_import_refuses_names_taken_by_others(aws):
    from airflow.providers.common.compat.sdk import AirflowFailException

    uri = upload_model(aws.s3, "models/llama")
    import_op(uri, imported_model_name="shared-name").execute(make_context(run_id="manual__a"))
    with pytest.raises(
        AirflowFailException, match=r"imported model named shared-name already exists .*another run"
    ):
        import_op(uri, imported_model_name="shared-name").execute(make_context(run_id="manual__b"))

    # A job under this task's derived name that someone else created is not adopted.
    from bedrock_customization.lifecycle import ResourceIdentity

    context = make_context("import_model", run_id="manual__c")
    job_name = ResourceIdentity("bedrock_retraining", "manual__c", "import_model").name("model-import-job")
    aws.bedrock.create_model_import_job(
        jobName=job_name,
        importedModelName="squatter",
        roleArn=ROLE,
        modelDataSource={"s3DataSource": {"s3Uri": uri}},
    )
    with pytest.raises(AirflowFailException, match="was not created by this DAG run"):
        import_op(uri).execute(context)


def test_invalid_settings_fail_before_any_aws_call(aws):
    from bedrock_customization.exceptions import BedrockCustomizationError

    uri = upload_model(aws.s3, "models/llama")
    with pytest.raises(BedrockCustomizationError, match="security_group_ids is empty"):
        import_op(uri, subnet_ids=["subnet-1"]).execute(make_context())
    with pytest.raises(BedrockCustomizationError, match="imported_model_name"):
        import_op(uri, imported_model_name="bad..name").execute(make_context())
    assert import_jobs(aws) == []


def test_delete_imported_model_already_gone_is_success_and_spares_other_runs(aws):
    uri = upload_model(aws.s3, "models/llama")
    mine = import_op(uri).execute(make_context(run_id="manual__mine"))
    theirs = import_op(uri).execute(make_context(run_id="manual__theirs"))

    guarded = BedrockDeleteImportedModelOperator(
        task_id="delete", model_id=theirs["imported_model_name"], only_this_run=True
    )
    assert guarded.execute(make_context("delete", run_id="manual__mine")) is False
    aws.bedrock.get_imported_model(modelIdentifier=theirs["imported_model_arn"])  # still there

    delete = BedrockDeleteImportedModelOperator(task_id="delete", model_id=mine["imported_model_arn"])
    assert delete.execute(make_context()) is True
    assert delete.execute(make_context()) is False
    assert BedrockDeleteImportedModelOperator(task_id="d", model_id="").execute(make_context()) is False
    assert [m["modelArn"] for m in aws.bedrock.list_imported_models()["modelSummaries"]] == [
        theirs["imported_model_arn"]
    ]


# ------------------------------------------------------------------------------------------------ waiter, sensor


def test_waiter_json_and_sensor_states_agree():
    from bedrock_customization.hooks.bedrock import WAITERS_FILE, BedrockCustomizationHook
    from bedrock_customization.sensors.bedrock import BedrockModelImportJobSensor

    waiter = json.loads(WAITERS_FILE.read_text())["waiters"][BedrockModelImportJobSensor.WAITER_NAME]
    assert waiter["operation"] == "GetModelImportJob"
    acceptors = waiter["acceptors"]
    by_state = {
        state: {a["expected"] for a in acceptors if a["state"] == state}
        for state in ("retry", "success", "failure")
    }
    assert by_state == {
        "retry": set(BedrockModelImportJobSensor.INTERMEDIATE_STATES),
        "success": set(BedrockModelImportJobSensor.SUCCESS_STATES),
        "failure": set(BedrockModelImportJobSensor.FAILURE_STATES),
    }
    assert by_state == {"retry": {"InProgress"}, "success": {"Completed"}, "failure": {"Failed"}}
    assert all(a["matcher"] == "path" and a["argument"] == "status" for a in acceptors)
    hook = BedrockCustomizationHook(aws_conn_id=None, region_name="us-east-1")
    assert "model_import_job_complete" in hook.list_waiters()


def test_sensor_pokes_until_completed_and_fails_with_the_reason(aws):
    from airflow.providers.common.compat.sdk import AirflowException

    from bedrock_customization.sensors.bedrock import BedrockModelImportJobSensor
    from include.local_aws import CONFIG
    from tests.local_aws.helpers import wait_for

    # 4 s: the first poke must come while the job is in progress, also on a loaded machine (1 s was flaky).
    CONFIG.update(import_seconds=4)
    good = import_op(upload_model(aws.s3, "models/llama"), wait_for_completion=False).execute(make_context())
    sensor = BedrockModelImportJobSensor(task_id="s", job_identifier=good["job_arn"], deferrable=False)
    assert sensor.poke({}) is False
    bad = import_op(upload_model(aws.s3, "models/bert", BERT), wait_for_completion=False).execute(
        make_context(run_id="manual__bad")
    )
    wait_for(lambda: sensor.poke({}), bool, timeout=30)
    failing = BedrockModelImportJobSensor(task_id="s", job_identifier=bad["job_arn"], deferrable=False)
    with pytest.raises(AirflowException, match="unsupported model architecture"):
        wait_for(lambda: failing.poke({}), bool, timeout=30)


def test_trigger_waits_with_aiobotocore_against_the_server(use_endpoint):
    """The deferred half: our trigger finds our waiter and reports Completed (and Failed) over HTTP."""
    import boto3

    from bedrock_customization.triggers.bedrock import BedrockModelImportJobCompletedTrigger
    from include.local_aws.config import CONFIG
    from include.local_aws.server import LocalAwsServer

    with LocalAwsServer(port=0) as server:
        use_endpoint(server.endpoint_url)
        _reset(server.endpoint_url)
        CONFIG.update(import_seconds=0.5)
        try:
            kwargs = {"region_name": "us-east-1", "endpoint_url": server.endpoint_url}
            s3, bedrock = boto3.client("s3", **kwargs), boto3.client("bedrock", **kwargs)
            s3.create_bucket(Bucket=BUCKET)
            events, arns = {}, {}
            for name, config in (("good", LLAMA), ("bad", BERT)):
                arn = bedrock.create_model_import_job(
                    jobName=name,
                    importedModelName=f"{name}-model",
                    roleArn=ROLE,
                    modelDataSource={"s3DataSource": {"s3Uri": upload_model(s3, name, config)}},
                )["jobArn"]
                arns[name] = arn
                trigger = BedrockModelImportJobCompletedTrigger(
                    job_arn=arn, waiter_delay=0.2, waiter_max_attempts=50, aws_conn_id="aws_default"
                )
                events[name] = asyncio.run(_first_event(trigger))
        finally:
            CONFIG.reset()
    assert events["good"] == {"status": "success", "job_arn": arns["good"]}
    assert events["bad"]["status"] == "error" and "unsupported model architecture" in events["bad"]["message"]


async def _first_event(trigger):
    async for event in trigger.run():
        return event.payload


def _reset(endpoint_url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST"))


# ------------------------------------------------------------------------------------------------ smoke test


def test_smoke_test_passes_when_the_stop_sequence_is_honoured(aws):
    imported = import_op(upload_model(aws.s3, "models/llama")).execute(make_context())
    result = BedrockImportedModelSmokeTestOperator(
        task_id="smoke_test", model_id=imported["imported_model_arn"]
    ).execute(make_context("smoke_test"))
    assert result["ok"] and result["problems"] == []
    assert result["generation"] and "\n\n" not in result["generation"]
    assert result["stop_reason"] == "stop" and result["generation_token_count"] > 0


def test_smoke_test_fails_clearly_when_the_model_ignores_stop(aws, monkeypatch):
    from airflow.providers.common.compat.sdk import AirflowFailException

    from include.local_aws import answers

    imported = import_op(upload_model(aws.s3, "models/llama")).execute(make_context())
    original = answers.finish
    monkeypatch.setattr(
        answers,
        "finish",
        lambda text, request: original(text, dataclasses.replace(request, stop_sequences=[])),
    )
    smoke = BedrockImportedModelSmokeTestOperator(
        task_id="smoke_test", model_id=imported["imported_model_arn"]
    )
    with pytest.raises(AirflowFailException, match=r"stop sequence '\\n\\n' was not honoured"):
        smoke.execute(make_context("smoke_test"))


def test_smoke_response_checks():
    ok = model_import.check_smoke_response({"generation": "One paragraph.", "stop_reason": "stop"})
    assert ok.ok
    trailing = model_import.check_smoke_response({"generation": "One paragraph.\n\n", "stop_reason": "stop"})
    assert trailing.ok  # the matched sequence echoed at the very end still means it stopped there
    ignored = model_import.check_smoke_response(
        {"generation": "One.\n\nTwo.\n\nThree.", "stop_reason": "stop"}
    )
    assert (
        not ignored.ok and "was not honoured" in ignored.problems[0] and "character 4" in ignored.problems[0]
    )
    length = model_import.check_smoke_response({"generation": "A long paragraph", "stop_reason": "length"})
    assert not length.ok and "raise max_gen_len" in length.problems[0]
    empty = model_import.check_smoke_response({"generation": "", "stop_reason": "stop"})
    assert not empty.ok and "empty generation" in empty.problems[0]
    wrong_shape = model_import.check_smoke_response({"outputs": [{"text": "x"}]})
    assert not wrong_shape.ok and "no 'generation'" in wrong_shape.problems[0]
    body = model_import.smoke_test_body("Hi", ["\n\n"], max_gen_len=64)
    assert body == {"prompt": "Hi", "max_gen_len": 64, "temperature": 0.1, "top_p": 0.9, "stop": ["\n\n"]}


@pytest.mark.parametrize(
    ("architecture", "api_format"),
    [
        (None, model_import.BEDROCK_COMPLETION),
        ("LlamaForCausalLM", model_import.BEDROCK_COMPLETION),
        ("mistral", model_import.BEDROCK_COMPLETION),
        ("Qwen2ForCausalLM", model_import.BEDROCK_COMPLETION),
        ("qwen3", model_import.BEDROCK_COMPLETION),
        ("GptOssForCausalLM", model_import.OPENAI_CHAT_COMPLETION),
        ("gpt_oss", model_import.OPENAI_CHAT_COMPLETION),
        ("GPT-OSS", model_import.OPENAI_CHAT_COMPLETION),
        ("something-else", model_import.BEDROCK_COMPLETION),
    ],
)
def test_invoke_format_per_architecture(architecture, api_format):
    assert model_import.invoke_format(architecture) == api_format


def test_smoke_body_per_architecture():
    llama = model_import.smoke_test_body("Hi", ["\n\n"], max_gen_len=64, architecture="llama")
    assert llama == model_import.smoke_test_body("Hi", ["\n\n"], max_gen_len=64)
    assert set(llama) == {"prompt", "max_gen_len", "temperature", "top_p", "stop"}
    gpt = model_import.smoke_test_body("Hi", ["\n\n"], max_gen_len=64, architecture="GptOssForCausalLM")
    assert gpt == {
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 64,
        "temperature": 0.1,
        "top_p": 0.9,
        "stop": ["\n\n"],
    }


def test_parse_invoke_response_reads_every_format():
    chat = {
        "choices": [{"message": {"role": "assistant", "content": "One."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2},
    }
    parsed = model_import.parse_invoke_response(chat, "gpt_oss")
    assert (parsed.text, parsed.stop_reason, parsed.prompt_tokens, parsed.generation_tokens) == ("One.", "stop", 5, 2)
    assert parsed.api_format == model_import.OPENAI_CHAT_COMPLETION
    text = model_import.parse_invoke_response({"choices": [{"text": "Two.", "finish_reason": "length"}]})
    assert (text.text, text.stop_reason, text.api_format) == ("Two.", "length", model_import.OPENAI_COMPLETION)
    bedrock = model_import.parse_invoke_response({"generation": "Three.", "stop_reason": "stop"}, "gpt_oss")
    assert bedrock.api_format == model_import.BEDROCK_COMPLETION  # any Custom Model Import format is read
    assert model_import.parse_invoke_response({"outputs": [{"text": "x"}]}) is None
    ignored = model_import.check_smoke_response(
        {"choices": [{"message": {"content": "A.\n\nB."}, "finish_reason": "stop"}]}, architecture="gpt_oss"
    )
    assert not ignored.ok and "was not honoured" in ignored.problems[0]
    missing = model_import.check_smoke_response({"outputs": []}, architecture="gpt_oss")
    assert not missing.ok and "choices[0].message.content" in missing.problems[0]


@pytest.mark.parametrize(
    ("config", "api_format"),
    [
        ({"architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss"}, model_import.OPENAI_CHAT_COMPLETION),
        ({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}, model_import.BEDROCK_COMPLETION),
        ({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3"}, model_import.BEDROCK_COMPLETION),
    ],
)
def test_smoke_test_sends_the_architectures_body(aws, config, api_format):
    prefix = f"models/{config['model_type']}"
    imported = import_op(upload_model(aws.s3, prefix, config)).execute(make_context())
    result = BedrockImportedModelSmokeTestOperator(
        task_id="smoke_test", model_id=imported["imported_model_arn"]
    ).execute(make_context("smoke_test"))
    assert result["ok"] and result["api_format"] == api_format and result["architecture"]
    assert result["generation"] and "\n\n" not in result["generation"] and result["generation_token_count"] > 0
    # Given explicitly, the architecture is not read from GetImportedModel.
    given = BedrockImportedModelSmokeTestOperator(
        task_id="smoke_test", model_id=imported["imported_model_arn"], architecture=config["model_type"]
    ).execute(make_context("smoke_test"))
    assert given["ok"] and given["api_format"] == api_format


# ------------------------------------------------------------------------------------------------ the DAG

_days = iter(range(1, 1000))


@pytest.fixture
def model_import_dag(airflow_db, use_endpoint, monkeypatch):
    """A LocalAwsServer with the landing zone bootstrapped; yields ``(landing_zone, run(conf), clients)``."""
    import boto3

    from include.bootstrap import bootstrap
    from include.local_aws.config import CONFIG
    from include.local_aws.server import LocalAwsServer
    from include.local_stack import REGION, run_dag

    with LocalAwsServer(port=0) as server:
        use_endpoint(server.endpoint_url)
        _reset(server.endpoint_url)  # moto's state is process-wide: start from an empty account
        CONFIG.update(import_seconds=1)
        try:
            landing_zone = bootstrap(REGION)
            monkeypatch.setenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps(landing_zone))
            clients = dataclasses.make_dataclass("Clients", ["s3", "bedrock"])(
                boto3.client("s3", region_name=REGION), boto3.client("bedrock", region_name=REGION)
            )

            def run(conf: dict):
                logical_date = pendulum.datetime(2026, 2, 1, tz="UTC").add(days=next(_days))
                return run_dag(
                    "bedrock_model_import", run_conf=conf, logical_date=logical_date, retry_delay=0.2
                )

            yield landing_zone, run, clients
        finally:
            CONFIG.reset()


@pytest.mark.slow
def test_dag_imports_smoke_tests_and_deletes_a_supported_model(model_import_dag):
    from include.local_stack import xcom_values

    landing_zone, run, aws = model_import_dag
    kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": landing_zone["kms_key_arn"]}
    uri = upload_model(aws.s3, "models/tiny-llama", bucket=landing_zone["bucket"], **kms)

    dag_run = run({"model_data_uri": uri, "imported_model_name": "tiny-llama"})

    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", states
    assert set(states.values()) == {"success"}
    values = xcom_values(dag_run)
    assert values["smoke_test"]["ok"] and "\n\n" not in values["smoke_test"]["generation"]
    assert values["delete_imported_model"] is True
    assert values["summarize"]["deleted"] is True and values["summarize"]["smoke_test"]["ok"] is True
    [summary] = import_jobs(aws)
    job = aws.bedrock.get_model_import_job(jobIdentifier=summary["jobArn"])
    assert job["status"] == "Completed" and job["importedModelName"] == "tiny-llama"
    assert job["importedModelKmsKeyArn"] == landing_zone["kms_key_arn"]
    assert sorted(job["vpcConfig"]["subnetIds"]) == sorted(landing_zone["subnet_ids"])
    assert aws.bedrock.list_imported_models()["modelSummaries"] == []  # deleted at the end, as asked


@pytest.mark.slow
def test_dag_succeeds_as_shipped_on_the_bootstrapped_demo_model(model_import_dag):
    """No conf at all: the default folder s3://<bucket>/models/import/ holds the demo model the bootstrap
    uploaded, so a trigger with the defaults imports, smoke-tests and deletes it, leaving nothing billable."""
    from include.bootstrap import DEMO_MODEL_PREFIX
    from include.local_stack import serving_resources_alive, xcom_values

    landing_zone, run, aws = model_import_dag

    dag_run = run(None)

    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", states
    assert set(states.values()) == {"success"}, states
    values = xcom_values(dag_run)
    default_uri = f"s3://{landing_zone['bucket']}/{DEMO_MODEL_PREFIX}"
    assert values["plan"]["model_data_uri"] == default_uri
    assert values["preflight"]["ok"] and values["preflight"]["failed"] == []
    assert values["smoke_test"]["ok"] and values["smoke_test"]["stop_reason"] == "stop"
    assert values["summarize"]["deleted"] is True and values["summarize"]["kept"] is False
    [summary] = import_jobs(aws)
    job = aws.bedrock.get_model_import_job(jobIdentifier=summary["jobArn"])
    assert job["status"] == "Completed"
    assert job["modelDataSource"]["s3DataSource"]["s3Uri"] == default_uri
    assert job["importedModelName"] == values["plan"]["imported_model_name"]
    # Nothing billable left: the imported model was deleted (delete_after_smoke_test defaults to true) and
    # no throughput or deployment exists.
    assert aws.bedrock.list_imported_models()["modelSummaries"] == []
    assert serving_resources_alive() == []  # no throughput, no deployment


@pytest.mark.slow
def test_dag_stops_at_preflight_for_an_unsupported_architecture(model_import_dag):
    landing_zone, run, aws = model_import_dag
    uri = upload_model(aws.s3, "models/bert", BERT, bucket=landing_zone["bucket"])

    dag_run = run({"model_data_uri": uri, "use_vpc": False})

    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "failed"
    assert states["preflight"] == "failed" and states["import_model"] == "upstream_failed"
    assert states["summarize"] == "upstream_failed"
    assert states["delete_imported_model"] == "success"  # the teardown ran and found nothing to delete
    assert aws.bedrock.list_model_import_jobs()["modelImportJobSummaries"] == []


@pytest.mark.slow
def test_dag_still_deletes_the_model_when_the_smoke_test_fails(model_import_dag, monkeypatch):
    from include.local_aws import answers

    landing_zone, run, aws = model_import_dag
    uri = upload_model(aws.s3, "models/llama", bucket=landing_zone["bucket"])
    original = answers.finish  # the in-process server's models now ignore stop sequences
    monkeypatch.setattr(
        answers,
        "finish",
        lambda text, request: original(text, dataclasses.replace(request, stop_sequences=[])),
    )

    dag_run = run({"model_data_uri": uri, "use_vpc": False})

    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "failed"
    assert states["import_model"] == "success" and states["smoke_test"] == "failed"
    assert states["delete_imported_model"] == "success" and states["summarize"] == "upstream_failed"
    assert len(import_jobs(aws)) == 1
    assert aws.bedrock.list_imported_models()["modelSummaries"] == []
