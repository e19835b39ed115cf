"""``python -m include.bootstrap`` as docker-compose's ``airflow-init`` runs it (through the Airflow connection),
and the demo Hugging Face model it uploads for ``bedrock_model_import``."""

from __future__ import annotations

import json
import struct
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
    assert bootstrap.sample_dates() == [today - timedelta(days=n) for n in range(8)]

    # The folder bedrock_model_import imports by default holds a model its preflight accepts.
    from bedrock_customization.model_import import run_import_preflight

    demo = s3.list_objects_v2(Bucket=stored["bucket"], Prefix=bootstrap.DEMO_MODEL_PREFIX)["Contents"]
    assert {o["Key"].removeprefix(bootstrap.DEMO_MODEL_PREFIX) for o in demo} == {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    }
    assert sum(o["Size"] for o in demo) < 64 * 1024
    head = s3.head_object(Bucket=stored["bucket"], Key=demo[0]["Key"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == stored["kms_key_arn"]
    report = run_import_preflight(s3, f"s3://{stored['bucket']}/{bootstrap.DEMO_MODEL_PREFIX}")
    assert report.ok, report.render()


def test_the_demo_model_never_overwrites_or_joins_a_model_of_your_own(emulator):
    import boto3

    s3 = boto3.client("s3", endpoint_url=emulator, region_name="us-east-1")
    s3.create_bucket(Bucket="own-models")
    s3.put_object(Bucket="own-models", Key="models/import/config.json", Body=b'{"model_type": "mistral"}')

    assert bootstrap.upload_demo_model(s3, "own-models", "alias/aws/s3") == []
    listed = s3.list_objects_v2(Bucket="own-models", Prefix="models/import/")["Contents"]
    assert [o["Key"] for o in listed] == ["models/import/config.json"]
    assert s3.get_object(Bucket="own-models", Key="models/import/config.json")["Body"].read() == (
        b'{"model_type": "mistral"}'
    )
    # Elsewhere (an empty prefix) it is written, and only once.
    assert len(bootstrap.upload_demo_model(s3, "own-models", "alias/aws/s3", prefix="demo/")) == 4
    assert bootstrap.upload_demo_model(s3, "own-models", "alias/aws/s3", prefix="demo/") == []


def _read_safetensors(data: bytes) -> tuple[dict, dict[str, tuple[list[int], list[float]]]]:
    """(metadata, name -> (shape, values)) of an F16 safetensors file, checked against the format's rules."""
    (length,) = struct.unpack("<Q", data[:8])
    raw = data[8 : 8 + length]
    assert raw.startswith(b"{") and length % 8 == 0 and raw.rstrip(b" ").endswith(b"}")
    header = json.loads(raw)
    buffer = data[8 + length :]
    metadata = header.pop("__metadata__", {})
    assert all(isinstance(v, str) for v in metadata.values())  # the format allows string values only
    tensors, end = {}, 0
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, stop = info["data_offsets"]
        assert info["dtype"] == "F16" and begin == end, f"{name}: gap or overlap in the byte buffer"
        count = 1
        for dim in info["shape"]:
            count *= dim
        assert stop - begin == 2 * count, f"{name}: {stop - begin} bytes for shape {info['shape']}"
        tensors[name] = (info["shape"], list(struct.unpack(f"<{count}e", buffer[begin:stop])))
        end = stop
    assert end == len(buffer), "the byte buffer holds more than the tensors"
    return metadata, tensors


def test_demo_model_files_are_a_real_small_llama_with_its_tokenizer():
    files = bootstrap.demo_model_files()
    assert files == bootstrap.demo_model_files()  # deterministic: re-uploads are byte-identical
    assert sum(map(len, files.values())) < 64 * 1024

    config = json.loads(files["config.json"])
    assert config["architectures"] == ["LlamaForCausalLM"] and config["model_type"] == "llama"
    hidden, inner, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    heads, kv_heads, head_dim = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    assert hidden == heads * head_dim and heads % kv_heads == 0

    metadata, tensors = _read_safetensors(files["model.safetensors"])
    assert metadata["format"] == "pt"  # what transformers expects of a PyTorch checkpoint
    layer = "model.layers.0."
    expected = {
        "model.embed_tokens.weight": [vocab, hidden],
        "lm_head.weight": [vocab, hidden],
        "model.norm.weight": [hidden],
        f"{layer}input_layernorm.weight": [hidden],
        f"{layer}post_attention_layernorm.weight": [hidden],
        f"{layer}self_attn.q_proj.weight": [heads * head_dim, hidden],
        f"{layer}self_attn.k_proj.weight": [kv_heads * head_dim, hidden],
        f"{layer}self_attn.v_proj.weight": [kv_heads * head_dim, hidden],
        f"{layer}self_attn.o_proj.weight": [hidden, heads * head_dim],
        f"{layer}mlp.gate_proj.weight": [inner, hidden],
        f"{layer}mlp.up_proj.weight": [inner, hidden],
        f"{layer}mlp.down_proj.weight": [hidden, inner],
    }
    assert config["num_hidden_layers"] == 1
    assert {name: shape for name, (shape, _) in tensors.items()} == expected
    assert set(tensors["model.norm.weight"][1]) == {1.0}
    weights = tensors["model.embed_tokens.weight"][1]
    assert 0 < max(map(abs, weights)) < 0.2 and len(set(weights)) > 100  # small random values, not zeros

    tokenizer = json.loads(files["tokenizer.json"])
    token_ids = tokenizer["model"]["vocab"]
    assert tokenizer["model"]["type"] == "BPE" and tokenizer["pre_tokenizer"]["type"] == "ByteLevel"
    assert sorted(token_ids.values()) == list(range(vocab))  # one embedding row per token
    special = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    assert special["<s>"] == config["bos_token_id"] and special["</s>"] == config["eos_token_id"]
    tokenizer_config = json.loads(files["tokenizer_config.json"])
    assert tokenizer_config["bos_token"] == "<s>" and tokenizer_config["eos_token"] == "</s>"
    assert tokenizer_config["chat_template"]  # an instruct model for Bedrock


def test_safetensors_bytes_follow_the_format():
    tensors = {"b": ([2, 3], [0.5, -1.0, 2.0, 0.0, 1e-3, 65504.0]), "a": ([1], [3.0])}
    data = bootstrap.safetensors_bytes(tensors, metadata={"format": "pt"})
    metadata, read = _read_safetensors(data)
    assert metadata == {"format": "pt"}
    assert read["a"] == ([1], [3.0]) and read["b"][0] == [2, 3] and read["b"][1][:4] == [0.5, -1.0, 2.0, 0.0]
    try:
        from safetensors.numpy import load
    except ImportError:
        return  # not in requirements.txt: the hand-written layout above is what bootstrap uploads
    loaded = load(data)
    assert loaded["b"].shape == (2, 3) and float(loaded["a"][0]) == 3.0


def test_a_landing_zone_of_your_own_deploys_nothing(monkeypatch, capsys):
    own = {"bucket": "mine", "role_arn": "arn:aws:iam::123456789012:role/mine"}
    monkeypatch.setenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps(own))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws", "extra": {"endpoint_url": "http://127.0.0.1:9"}}')
    # Port 9 refuses connections: any AWS call would fail this test.
    assert bootstrap.main(["--aws-conn-id", "aws_default", "--variable", "bedrock_customization"]) == 0
    assert "deploying nothing" in capsys.readouterr().out
