"""Shared helpers for the throughput, promotion, janitor and notification tests (in-process emulator)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.local_aws.helpers import BUCKET, NOVA, REGION, create_job, put_jsonl, wait_job
from tests.records import NOVA_MICRO, conversation

__all__ = [
    "BUCKET",
    "NOVA",
    "NOVA_MICRO",
    "REGION",
    "Clients",
    "FakeTI",
    "completed_job",
    "emulator",
    "make_context",
    "qa_conversations",
    "trained_model",
]

FAST = {"job_seconds": 0.1, "throughput_seconds": 0.2, "deployment_seconds": 0.2, "stop_seconds": 0.1}
#: Wait knobs for operators under test: poll every 0.1 s.
QUICK = {"waiter_delay": 0.1, "waiter_max_attempts": 100, "deferrable": False}


@dataclass
class FakeTI:
    """The attributes of a task instance the operators read."""

    dag_id: str = "bedrock_retraining"
    run_id: str = "manual__2026-03-01T00:00:00+00:00"
    task_id: str = "task"
    map_index: int = -1


def make_context(task_id: str = "task", run_id: str = FakeTI.run_id, dag_id: str = FakeTI.dag_id) -> dict:
    """A minimal task context: ``ti`` and ``outlet_events``."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return {"ti": FakeTI(dag_id, run_id, task_id), "outlet_events": OutletEventAccessors()}


@dataclass
class Clients:
    bedrock: Any
    s3: Any
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def emulator(monkeypatch: Any) -> Iterator[Clients]:
    """In-process emulator (moto + our Bedrock) with short delays and the ``data`` bucket."""
    import boto3

    from include import local_aws
    from include.local_aws import CONFIG

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    CONFIG.reset()
    CONFIG.update(**FAST)
    try:
        with local_aws.mock():
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(Bucket=BUCKET)
            yield Clients(bedrock=boto3.client("bedrock", region_name=REGION), s3=s3)
    finally:
        CONFIG.reset()


def qa_conversations(n: int) -> list[dict]:
    """Nova training records with distinct, recognisable answers."""
    return [
        conversation(f"What is the storage quota of plan {i}?", f"Plan {i} includes {10 * i} GB of storage.")
        for i in range(n)
    ]


def completed_job(
    s3_client: Any,
    bedrock_client: Any,
    name: str,
    records: int = 20,
    base: str = NOVA_MICRO,
    validation: bool = True,
    **extra: Any,
) -> dict:
    """Fine-tune ``base`` (a Nova model: bedrock-conversation-2024 records) on ``records`` QA records, with 5
    validation records unless ``validation`` is False (Nova 2 Lite takes none); returns the completed job."""
    training = put_jsonl(s3_client, f"{name}/train.jsonl", qa_conversations(records))
    held_out = put_jsonl(s3_client, f"{name}/validation.jsonl", qa_conversations(5)) if validation else None
    arn = create_job(bedrock_client, name, base=base, training=training, validation=held_out, **extra)
    job = wait_job(bedrock_client, arn)
    assert job["status"] == "Completed", job
    return job


def trained_model(
    clients: Clients,
    name: str,
    base: str = NOVA_MICRO,
    tags: dict[str, str] | None = None,
    validation: bool = True,
) -> str:
    """A completed customization job's custom model ARN (``base``, Nova Micro by default, on 20 QA records)."""
    extra: dict[str, Any] = {"base": base, "validation": validation}
    if tags:
        aws_tags = [{"key": k, "value": v} for k, v in tags.items()]
        extra.update(jobTags=aws_tags, customModelTags=aws_tags)
    return completed_job(clients.s3, clients.bedrock, name, records=20, **extra)["outputModelArn"]


def tags_of(clients: Clients, arn: str) -> dict[str, str]:
    return {t["key"]: t["value"] for t in clients.bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}


def alive_throughputs(clients: Clients) -> list[dict]:
    return clients.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
