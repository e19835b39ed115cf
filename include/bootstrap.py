"""Deploy the landing zone, create the notification topic, upload the sample data; idempotent.

Deploys ``include/infra/landing_zone.yaml`` (KMS key, SSE-KMS bucket, VPC with a private subnet per AZ,
S3 gateway and KMS interface endpoints, job security group, Bedrock service role; see
``include/infra/deploy.py``), creates the SNS topic ``bedrock-customization`` for run notifications, and
uploads ``include/sample_data/qa_pairs.jsonl`` as the raw data of today and the seven days before
(``raw/<YYYY-MM-DD>/qa_pairs.jsonl``, the partition the retraining DAG reads for a run of that logical date;
a week covers the weekly schedule's latest tick, which Airflow runs when the DAG is unpaused), and, when
``models/import/`` is empty, a tiny demo Hugging Face model there (:func:`demo_model_files`), the folder the
``bedrock_model_import`` DAG imports when its ``model_data_uri`` param is empty.

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
import random
import struct
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
#: Where ``bedrock_model_import`` looks for the model when ``model_data_uri`` is empty (its DEFAULT_MODEL_PREFIX).
DEMO_MODEL_PREFIX = "models/import/"


def sample_dates(today: date | None = None) -> list[date]:
    """The dates the sample data is uploaded as: ``today`` (default: today, UTC) and the seven days before."""
    today = today or datetime.now(UTC).date()
    return [today - timedelta(days=n) for n in range(SAMPLE_DAYS)]


def bootstrap(
    region: str,
    stack_name: str = DEFAULT_STACK_NAME,
    sample_data: Path = SAMPLE_DATA,
    dates: Iterable[date] | None = None,
    demo_model: bool = True,
) -> dict:
    """Create or update the landing zone, upload the sample data (as of ``dates``, default
    :func:`sample_dates`) and, with ``demo_model``, the demo model (:func:`upload_demo_model`); return the
    Variable value."""
    import boto3

    session = boto3.session.Session(region_name=region)
    outputs = deploy_landing_zone(stack_name, region, session=session)
    bucket, key_arn = outputs["BucketName"], outputs["KmsKeyArn"]
    s3, body = session.client("s3"), sample_data.read_bytes()
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn}
    for day in dates or sample_dates():
        s3.put_object(Bucket=bucket, Key=RAW_KEY.format(date=day.isoformat()), Body=body, **encryption)
    if demo_model:
        upload_demo_model(s3, bucket, key_arn)
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


# ------------------------------------------------------------------------------------------- demo model

#: The demo model: a one-layer Llama (grouped-query attention, as Llama 3) with a byte-level BPE tokenizer of
#: 256 byte tokens and 3 special tokens. Random weights: it exists so that ``bedrock_model_import`` runs as
#: shipped; the emulator answers for it, a real deployment would generate noise.
DEMO_VOCAB = ["<unk>", "<s>", "</s>"]  # ids 0-2; the 256 byte tokens follow
DEMO_LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": len(DEMO_VOCAB) + 256,
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 8,
    "hidden_act": "silu",
    "max_position_embeddings": 256,
    "initializer_range": 0.02,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "mlp_bias": False,
    "pretraining_tp": 1,
    "tie_word_embeddings": False,
    "use_cache": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float16",
    "transformers_version": "4.46.0",
}
DEMO_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n\n"
    "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
)
_SAFETENSORS_DTYPES = {"F16": ("e", 2)}


def demo_model_files(seed: int = 0) -> dict[str, bytes]:
    """The files of the demo Hugging Face model folder (file name -> content), as ``save_pretrained()`` of a
    Llama model and its fast tokenizer would write them: ``config.json``, ``model.safetensors`` (float16,
    random weights from ``seed``; the same bytes every time), ``tokenizer.json``, ``tokenizer_config.json``.
    About 30 KB in all."""
    return {
        "config.json": _json(DEMO_LLAMA),
        "model.safetensors": safetensors_bytes(
            _demo_weights(DEMO_LLAMA, random.Random(seed)),
            metadata={"format": "pt", "source": "include.bootstrap demo model (random weights)"},
        ),
        "tokenizer.json": _json(_demo_tokenizer()),
        "tokenizer_config.json": _json(_demo_tokenizer_config()),
    }


def upload_demo_model(s3, bucket: str, kms_key_arn: str, prefix: str = DEMO_MODEL_PREFIX) -> list[str]:
    """Upload :func:`demo_model_files` under ``prefix`` (SSE-KMS) unless the prefix already holds an object
    (a model of the user's own is never overwritten, nor mixed with the demo's files); the keys written."""
    if s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0):
        return []
    keys = []
    for name, body in demo_model_files().items():
        key = f"{prefix}{name}"
        s3.put_object(
            Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_arn
        )
        keys.append(key)
    return keys


def safetensors_bytes(
    tensors: dict[str, tuple[list[int], list[float]]], metadata: dict | None = None
) -> bytes:
    """A safetensors file of float16 ``tensors`` (name -> (shape, values in row-major order)).

    Written with the ``safetensors`` library when it is installed, else by hand after the format's
    specification (https://github.com/huggingface/safetensors#format): an unsigned 64-bit little-endian header
    length N, an N-byte JSON header (``{"__metadata__": {...}, name: {"dtype", "shape", "data_offsets":
    [begin, end]}}``, offsets relative to the byte buffer, padded with spaces to a multiple of 8 bytes), then
    the byte buffer: the tensors in the order of their names, little endian, without gaps.
    """
    try:
        import numpy as np
        from safetensors.numpy import save
    except ImportError:
        pass
    else:
        arrays = {
            name: np.array(values, dtype="<f2").reshape(shape) for name, (shape, values) in tensors.items()
        }
        return save(arrays, metadata=metadata)
    code, size = _SAFETENSORS_DTYPES["F16"]
    header: dict = {"__metadata__": dict(metadata)} if metadata else {}
    buffer = bytearray()
    for name in sorted(tensors):
        shape, values = tensors[name]
        if len(values) != _product(shape):
            raise ValueError(f"{name}: {len(values)} values for the shape {shape}")
        begin = len(buffer)
        buffer += struct.pack(f"<{len(values)}{code}", *values)
        header[name] = {
            "dtype": "F16",
            "shape": list(shape),
            "data_offsets": [begin, begin + len(values) * size],
        }
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + bytes(buffer)


def _product(shape: Iterable[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _json(value: dict) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def _demo_weights(config: dict, rng: random.Random) -> dict[str, tuple[list[int], list[float]]]:
    """The tensors of a ``LlamaForCausalLM`` of ``config``, with Hugging Face's names and shapes."""
    hidden, inner, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    head_dim = config["head_dim"]
    kv = config["num_key_value_heads"] * head_dim
    std = config["initializer_range"]

    def normal(*shape: int) -> tuple[list[int], list[float]]:
        return list(shape), [rng.gauss(0.0, std) for _ in range(_product(shape))]

    def ones(size: int) -> tuple[list[int], list[float]]:
        return [size], [1.0] * size

    tensors = {"model.embed_tokens.weight": normal(vocab, hidden), "model.norm.weight": ones(hidden)}
    for layer in range(config["num_hidden_layers"]):
        at = f"model.layers.{layer}."
        tensors |= {
            f"{at}input_layernorm.weight": ones(hidden),
            f"{at}self_attn.q_proj.weight": normal(config["num_attention_heads"] * head_dim, hidden),
            f"{at}self_attn.k_proj.weight": normal(kv, hidden),
            f"{at}self_attn.v_proj.weight": normal(kv, hidden),
            f"{at}self_attn.o_proj.weight": normal(hidden, config["num_attention_heads"] * head_dim),
            f"{at}post_attention_layernorm.weight": ones(hidden),
            f"{at}mlp.gate_proj.weight": normal(inner, hidden),
            f"{at}mlp.up_proj.weight": normal(inner, hidden),
            f"{at}mlp.down_proj.weight": normal(hidden, inner),
        }
    if not config["tie_word_embeddings"]:
        tensors["lm_head.weight"] = normal(vocab, hidden)
    return tensors


def _byte_level_alphabet() -> list[str]:
    """The 256 characters byte-level BPE (GPT-2, Llama 3) stands for the bytes 0-255, in byte order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    extra = iter(range(256, 512))
    return [chr(byte if byte in printable else next(extra)) for byte in range(256)]


def _special_token(token_id: int, content: str) -> dict:
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def _demo_tokenizer() -> dict:
    """``tokenizer.json`` (Hugging Face tokenizers): byte-level BPE, one token per byte, no merges, ``<s>``
    prepended."""
    vocab = {token: index for index, token in enumerate(DEMO_VOCAB + _byte_level_alphabet())}
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    bos = DEMO_VOCAB[DEMO_LLAMA["bos_token_id"]]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_special_token(index, token) for index, token in enumerate(DEMO_VOCAB)],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": bos, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": bos, "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {bos: {"id": bos, "ids": [DEMO_LLAMA["bos_token_id"]], "tokens": [bos]}},
        },
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [],
        },
    }


def _demo_tokenizer_config() -> dict:
    """``tokenizer_config.json`` of a ``PreTrainedTokenizerFast``, with a chat template (instruct model)."""
    unk, bos, eos = DEMO_VOCAB
    return {
        "added_tokens_decoder": {
            str(index): {k: v for k, v in _special_token(index, token).items() if k != "id"}
            for index, token in enumerate(DEMO_VOCAB)
        },
        "bos_token": bos,
        "eos_token": eos,
        "unk_token": unk,
        "chat_template": DEMO_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "model_max_length": DEMO_LLAMA["max_position_embeddings"],
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


# ------------------------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", help="default: the connection's region, else us-east-1")
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    parser.add_argument(
        "--aws-conn-id", help="use this Airflow connection's credentials, region and endpoint_url"
    )
    parser.add_argument("--variable", help="store the value as this Airflow Variable")
    parser.add_argument(
        "--no-demo-model",
        dest="demo_model",
        action="store_false",
        help=f"do not upload the demo model to {DEMO_MODEL_PREFIX} (it is uploaded only when that prefix is empty)",
    )
    args = parser.parse_args(argv)
    if args.variable and os.environ.get(f"AIRFLOW_VAR_{args.variable.upper()}"):
        print(f"AIRFLOW_VAR_{args.variable.upper()} is set: using that landing zone, deploying nothing.")
        return 0
    region = args.region or "us-east-1"
    if args.aws_conn_id:
        region = _use_connection(args.aws_conn_id, args.region)
    value = bootstrap(region, args.stack_name, demo_model=args.demo_model)
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
