"""The model registry as Bedrock serves it, for the promotion, the janitor and the baseline choice.

A promotion that switches a serving throughput in place records its intent in the registry first
(:func:`bedrock_customization.promotion.with_intent`); one abandoned half-way (the worker died) is rolled back
here before anyone reads the registry: the throughput serves the registry's model again and the intent goes.
The registry itself (read, compare-and-swap write, the promotion plan) is the pure
:mod:`bedrock_customization.promotion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bedrock_customization import catalog, promotion
from bedrock_customization.exceptions import RegistryConflictError
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.operators.wait import ProvisionedThroughputWait


def undo_switch(conn: Any, pending: Mapping[str, Any], settle: Any, log: Any) -> None:
    """Point the intent's throughput back at the model it served before (waiting until it is InService)."""
    hook = BedrockCustomizationHook.for_client(conn)
    arn, status = hook.update_throughput_model(pending["throughput"], pending["from_model"], settle)
    if status != "InService":
        settle(arn)


def repair_abandoned_intent(
    conn: Any,
    s3: Any,
    bucket: str,
    name: str,
    registry: Mapping[str, Any],
    etag: str | None,
    settle: Any,
    log: Any,
    kms_key_id: str | None = None,
) -> bool:
    """Roll back an abandoned in-place switch: the throughput serves the registry's model again and the intent
    is removed (a conditional write: if the registry changed meanwhile, nothing is written). True if repaired."""
    pending = registry.get("pending")
    if not pending:
        return False
    log.warning(
        "Rolling back an abandoned promotion intent of %s run %s (since %s): %s serves %s again.",
        pending.get("dag_id"),
        pending.get("run_id"),
        pending.get("started_at"),
        pending.get("throughput"),
        pending.get("from_model"),
    )
    if BedrockCustomizationHook.for_client(conn).get_throughput(pending["throughput"]) is not None:
        undo_switch(conn, pending, settle, log)
    promotion.save_registry(s3, bucket, name, promotion.without_intent(registry), etag, kms_key_id)
    return True


def intent_max_age(waiter_delay: float | None = None, waiter_max_attempts: int | None = None) -> float:
    """Seconds after which a recorded intent is abandoned: the longest a promotion waits for its throughput
    switch (default: the provider's ``poll_interval`` x ``throughput_timeout`` attempts) plus 10 minutes."""
    from bedrock_customization import settings

    delay = waiter_delay if waiter_delay is not None else settings.poll_interval()
    attempts = (
        waiter_max_attempts
        if waiter_max_attempts is not None
        else settings.max_attempts("throughput_timeout")
    )
    return float(delay) * float(attempts) + 600.0


def load_settled_registry(
    conn: Any,
    s3: Any,
    bucket: str,
    name: str,
    *,
    settle: Any,
    log: Any,
    max_age_seconds: float | None = None,
    own_run: tuple[str, str] | None = None,
    kms_key_id: str | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """
    The registry and its ETag once no other promotion's in-place switch is half-applied.

    An abandoned intent (older than ``max_age_seconds``) is rolled back first; one of ``own_run`` is returned
    as it is (its promotion carries on); one that may still be running raises ``RegistryConflictError`` (a
    retry comes after it finished).
    """
    registry, etag = promotion.load_registry(s3, bucket, name)
    pending = (registry or {}).get("pending")
    if not pending:
        return registry, etag
    if own_run is not None and (pending.get("dag_id"), pending.get("run_id")) == tuple(own_run):
        log.info("Carrying on with this run's recorded promotion intent: %s", pending)
        return registry, etag
    max_age = intent_max_age() if max_age_seconds is None else max_age_seconds
    if not promotion.intent_abandoned(pending, datetime.now(UTC), max_age):
        raise RegistryConflictError(
            f"Another promotion is switching {pending.get('throughput')} to {pending.get('to_model')} "
            f"({pending.get('dag_id')} run {pending.get('run_id')}, since {pending.get('started_at')}); this "
            "try stops without changing anything, and a retry reads the registry again once it has finished."
        )
    repair_abandoned_intent(conn, s3, bucket, name, registry, etag, settle, log, kms_key_id)
    return promotion.load_registry(s3, bucket, name)


def waiter_settle(hook: Any) -> Any:
    """``settle(arn)`` for code outside an operator: wait with our waiter until the throughput is InService."""
    from bedrock_customization import settings

    def settle(arn: str) -> None:
        hook.get_waiter(ProvisionedThroughputWait.trigger_class.waiter_name).wait(
            provisionedModelId=arn,
            WaiterConfig={
                "Delay": settings.poll_interval(),
                "MaxAttempts": settings.max_attempts("throughput_timeout"),
            },
        )

    return settle


def select_baseline(
    aws_conn_id: str, bucket: str, registry_name: str, base_model_id: str, base_inference_id: str
) -> dict[str, Any]:
    """What a candidate of ``base_model_id`` must beat (``promotion.choose_baseline``), read from the registry
    after rolling back any abandoned half-applied promotion, so the baseline is what really serves."""
    import logging

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    log = logging.getLogger(__name__)
    hook = BedrockCustomizationHook(aws_conn_id=aws_conn_id)
    s3 = S3Hook(aws_conn_id=aws_conn_id).get_conn()
    registry, _ = load_settled_registry(
        hook.conn, s3, bucket, registry_name, settle=waiter_settle(hook), log=log
    )
    # Llama 3.2 and Nova 2 Lite are invoked on demand through an inference profile, not their bare id.
    inference_id = catalog.resolve_inference_id(base_model_id, base_inference_id)
    if inference_id != base_inference_id:
        log.info("Invoking base model %s through inference profile %s.", base_model_id, inference_id)
    baseline = promotion.choose_baseline(registry, base_model_id, inference_id)
    if baseline.get("other_base_model_id"):
        log.info(
            "The champion is a %s model; comparing with the base model instead.",
            baseline["other_base_model_id"],
        )
    log.info("Baseline: %s", baseline)
    return baseline
