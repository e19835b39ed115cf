"""Operators for Amazon Bedrock model customization, built on the Amazon provider's Bedrock operators.

Customization job, provisioned throughput (create / update in place / delete), custom model delete, on-demand
custom model deployment (create / delete) and the run teardown that deletes every throughput a DAG run left.

Every operator is safe to retry: creates re-attach to the resource their first try made (found by name, and
by a ``clientRequestToken`` derived from dag_id/run_id/task_id/map_index), deletes treat "already gone" as
done, and an update to the model a throughput already serves is a no-op.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators import bedrock as amazon_bedrock
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from bedrock_customization import settings, tagging
from bedrock_customization.exceptions import (
    BedrockCustomizationError,
    ResourceFailedError,
    ResourceInUseError,
)
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.links.bedrock import (
    BedrockCustomizationJobLink,
    BedrockCustomModelDeploymentLink,
    BedrockProvisionedThroughputLink,
)
from bedrock_customization.naming import client_request_token
from bedrock_customization.triggers.bedrock import (
    BedrockCustomModelDeploymentActiveTrigger,
    BedrockProvisionedThroughputInServiceTrigger,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

THROUGHPUT_WAITER = "provisioned_model_throughput_in_service"
DEPLOYMENT_WAITER = "custom_model_deployment_active"
DEFAULT_DEFERRABLE = conf.getboolean("operators", "default_deferrable", fallback=False)


class BedrockCustomizeModelOperator(amazon_bedrock.BedrockCustomizeModelOperator):
    """
    The Amazon provider's customization operator with templated S3 locations.

    The upstream operator wraps ``training_data_uri`` and ``output_data_uri`` in dicts in ``__init__`` and does
    not template them, so they cannot come from XCom or Jinja; here the wrapped dicts are template fields.
    """

    template_fields: Sequence[str] = (
        *amazon_bedrock.BedrockCustomizeModelOperator.template_fields,
        "training_data_config",
        "output_data_config",
    )
    operator_extra_links = (BedrockCustomizationJobLink(),)

    def execute(self, context: Context) -> str:
        from airflow.providers.common.compat.sdk import TaskDeferred

        try:
            job_arn = super().execute(context)
        except TaskDeferred:
            # The upstream operator defers right after the create call: link the job it created first.
            job = self.hook.conn.get_model_customization_job(jobIdentifier=self.job_name)
            BedrockCustomizationJobLink.persist_arn(context, self, job["jobArn"])
            raise
        BedrockCustomizationJobLink.persist_arn(context, self, job_arn)
        return job_arn


# --------------------------------------------------------------------------------------------- helpers


def run_identity(context: Context) -> tuple[str, str, str, int]:
    """(dag_id, run_id, task_id, map_index) of the running task instance."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    return ti.dag_id, ti.run_id, ti.task_id, -1 if map_index is None else map_index


def default_token(context: Context, *purpose: str) -> str:
    """The ``clientRequestToken`` of this task instance's create call (stable across retries)."""
    return client_request_token(*run_identity(context), *purpose)


def _paginate(conn: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict]:
    for page in conn.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def list_throughputs(conn: Any) -> list[dict]:
    """Every provisioned throughput of the account and region (ListProvisionedModelThroughputs)."""
    return list(_paginate(conn, "list_provisioned_model_throughputs", "provisionedModelSummaries"))


def resource_tags(conn: Any, arn: str) -> dict[str, str] | None:
    """The tags of a Bedrock resource as a flat dict, or None when it is gone."""
    try:
        return tagging.from_aws(conn.list_tags_for_resource(resourceARN=arn).get("tags"))
    except conn.exceptions.ResourceNotFoundException:
        return None


def model_users(conn: Any, model_id: str) -> list[str]:
    """Descriptions of the throughputs and deployments that serve (or are switching to) a custom model."""
    try:
        model_arn = conn.get_custom_model(modelIdentifier=model_id)["modelArn"]
    except conn.exceptions.ResourceNotFoundException:
        return []
    users = [
        f"provisioned throughput {t['provisionedModelName']} ({t['provisionedModelArn']}, {t['status']})"
        for t in list_throughputs(conn)
        if model_arn in (t.get("modelArn"), t.get("desiredModelArn"))
    ]
    users += [
        f"custom model deployment {d['customModelDeploymentName']} ({d['customModelDeploymentArn']})"
        for d in _paginate(
            conn, "list_custom_model_deployments", "modelDeploymentSummaries", modelArnEquals=model_arn
        )
    ]
    return users


def get_throughput(conn: Any, identifier: str) -> dict | None:
    """GetProvisionedModelThroughput by name or ARN, or None when there is none."""
    try:
        return conn.get_provisioned_model_throughput(provisionedModelId=identifier)
    except conn.exceptions.ResourceNotFoundException:
        return None


def throughput_failure(throughput: Mapping[str, Any]) -> str:
    """A user-facing sentence for a throughput that ended Failed."""
    return (
        f"Provisioned throughput {throughput.get('provisionedModelName')} ({throughput.get('provisionedModelArn')}) "
        f"ended Failed: {throughput.get('failureMessage') or 'no failureMessage given'}. A retry of the creating "
        "task deletes the failed throughput and creates it again."
    )


def delete_throughput(conn: Any, identifier: str, log: Any = None, wait: tuple[int, int] = (10, 60)) -> bool:
    """
    Delete a throughput; True if deleted, False if it was already gone.

    A throughput that refuses deletion while Creating or Updating is waited for (``wait`` = delay, attempts)
    and deleted once it settles, whatever its final status.
    """
    log = log or logging.getLogger(__name__)
    try:
        conn.delete_provisioned_model_throughput(provisionedModelId=identifier)
        return True
    except conn.exceptions.ResourceNotFoundException:
        return False
    except (conn.exceptions.ValidationException, conn.exceptions.ConflictException) as error:
        log.info(
            "Provisioned throughput %s cannot be deleted yet (%s); waiting for it to settle.",
            identifier,
            error,
        )
    _wait_until_settled(conn, identifier, *wait)
    try:
        conn.delete_provisioned_model_throughput(provisionedModelId=identifier)
        return True
    except conn.exceptions.ResourceNotFoundException:
        return False


def _wait_until_settled(conn: Any, identifier: str, delay: float, attempts: int) -> None:
    """Poll until the throughput is no longer Creating/Updating (or is gone), at most ``attempts`` times."""
    for _ in range(attempts):
        throughput = get_throughput(conn, identifier)
        if throughput is None or throughput["status"] not in ("Creating", "Updating"):
            return
        time.sleep(delay)


# --------------------------------------------------------------------------------------------- waiting


class WaitingMixin:
    """The four wait knobs and the sync/deferred wait on one of our waiters."""

    wait_for_completion: bool
    waiter_delay: int
    waiter_max_attempts: int
    deferrable: bool

    def _init_wait(
        self,
        wait_for_completion: bool,
        waiter_delay: int | None,
        waiter_max_attempts: int | None,
        deferrable: bool,
        timeout_option: str,
    ) -> None:
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay if waiter_delay is not None else settings.poll_interval()
        self.waiter_max_attempts = (
            waiter_max_attempts if waiter_max_attempts is not None else settings.max_attempts(timeout_option)
        )
        self.deferrable = deferrable

    def _sync_wait(self, waiter_name: str, args: dict[str, str], what: str) -> bool:
        """Block until the waiter succeeds; False when it reached a failure state."""
        from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
        from airflow.providers.amazon.aws.utils.waiter_with_logging import wait

        try:
            wait(
                waiter=self.hook.get_waiter(waiter_name),  # type: ignore[attr-defined]
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                args=args,
                failure_message=f"{what} failed",
                status_message=f"Status of {what} is",
                status_args=["status", "failureMessage"],
            )
        except WaiterTerminalFailure:
            return False
        return True


class ThroughputWaitMixin(WaitingMixin):
    """Wait for a provisioned throughput to be InService; fail with its failureMessage when it is Failed."""

    def _wait_in_service(self, arn: str, status: str | None = None) -> str:
        conn = self.hook.conn  # type: ignore[attr-defined]
        if status is None:
            status = conn.get_provisioned_model_throughput(provisionedModelId=arn)["status"]
        if status == "InService":
            return arn
        if status == "Failed":
            raise ResourceFailedError(
                throughput_failure(conn.get_provisioned_model_throughput(provisionedModelId=arn))
            )
        if self.deferrable:
            self.log.info("Deferring until provisioned throughput %s is InService.", arn)  # type: ignore[attr-defined]
            self.defer(  # type: ignore[attr-defined]
                trigger=BedrockProvisionedThroughputInServiceTrigger(
                    provisioned_model_id=arn,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,  # type: ignore[attr-defined]
                    region_name=self.region_name,  # type: ignore[attr-defined]
                    verify=self.verify,  # type: ignore[attr-defined]
                    botocore_config=self.botocore_config,  # type: ignore[attr-defined]
                ),
                method_name="execute_complete",
            )
        elif self.wait_for_completion:
            if not self._sync_wait(THROUGHPUT_WAITER, {"provisionedModelId": arn}, "provisioned throughput"):
                raise ResourceFailedError(
                    throughput_failure(conn.get_provisioned_model_throughput(provisionedModelId=arn))
                )
        return arn

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        if not event or "provisioned_model_id" not in event:
            raise BedrockCustomizationError(
                f"Unexpected trigger event for a provisioned throughput: {event!r}"
            )
        arn = event["provisioned_model_id"]
        if event.get("status") != "success":
            throughput = get_throughput(self.hook.conn, arn)  # type: ignore[attr-defined]
            if throughput is not None and throughput.get("status") == "Failed":
                raise ResourceFailedError(throughput_failure(throughput))
            raise BedrockCustomizationError(
                f"Waiting for provisioned throughput {arn} failed: {event.get('message', event)}"
            )
        self.log.info("Provisioned throughput %s is InService.", arn)  # type: ignore[attr-defined]
        return arn


# --------------------------------------------------------------------------------------------- throughput


class BedrockCreateProvisionedModelThroughputOperator(
    ThroughputWaitMixin, amazon_bedrock.BedrockCreateProvisionedModelThroughputOperator
):
    """
    Create a provisioned throughput for a model, tagged as ours, and wait until it is InService.

    Idempotent: a retry finds the throughput by name and re-attaches to it (a Failed one is deleted and created
    again), and the create call carries a deterministic ``clientRequestToken``. No commitment is bought
    unless ``commitment_duration`` is given. Returns the throughput ARN.

    :param model_units: Number of model units. (templated)
    :param provisioned_model_name: Name of the throughput, 1-63 characters. (templated)
    :param model_id: Name or ARN of the (custom) model to serve. (templated)
    :param commitment_duration: ``OneMonth`` or ``SixMonths``; default None: no commitment, billed hourly
        until deleted. (templated)
    :param client_request_token: Idempotency token; default derived from dag_id, run_id, task_id and
        map_index. (templated)
    :param tags: Extra tags ``{"key": "value"}`` on top of ours (managed-by, dag-id, run-id, task-id,
        role). (templated)
    :param throughput_role: Value of the ``bedrock-customization:role`` tag. (default: ``evaluation``)
    :param create_throughput_kwargs: Other CreateProvisionedModelThroughput parameters; a
        ``clientRequestToken`` or ``tags`` list given here is honoured too. (templated)
    :param wait_for_completion: Wait until InService. (default: True)
    :param waiter_delay: Seconds between status checks. (default: the provider's ``poll_interval``)
    :param waiter_max_attempts: Maximum status checks. (default: ``throughput_timeout`` / ``poll_interval``)
    :param deferrable: Wait in the triggerer. (default: ``[operators] default_deferrable``)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields(
        "model_units",
        "provisioned_model_name",
        "model_id",
        "commitment_duration",
        "client_request_token",
        "tags",
        "create_throughput_kwargs",
    )
    operator_extra_links = (BedrockProvisionedThroughputLink(),)

    def __init__(
        self,
        *,
        model_units: int,
        provisioned_model_name: str,
        model_id: str,
        commitment_duration: str | None = None,
        client_request_token: str | None = None,
        tags: dict[str, str] | None = None,
        throughput_role: str = tagging.ROLE_EVALUATION,
        create_throughput_kwargs: dict[str, Any] | None = None,
        wait_for_completion: bool = True,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        deferrable: bool = DEFAULT_DEFERRABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model_units=model_units,
            provisioned_model_name=provisioned_model_name,
            model_id=model_id,
            create_throughput_kwargs=create_throughput_kwargs,
            deferrable=deferrable,
            **kwargs,
        )
        self.commitment_duration = commitment_duration
        self.client_request_token = client_request_token
        self.tags = tags or {}
        self.throughput_role = throughput_role
        self._init_wait(
            wait_for_completion, waiter_delay, waiter_max_attempts, deferrable, "throughput_timeout"
        )

    def execute(self, context: Context) -> str:
        conn = self.hook.conn
        extra = dict(self.create_throughput_kwargs or {})
        token = (
            self.client_request_token
            or extra.pop("clientRequestToken", None)
            or default_token(context, "throughput")
        )
        dag_id, run_id, task_id, _ = run_identity(context)
        all_tags = tagging.merge(
            tagging.run_tags(dag_id, run_id, task_id, role=self.throughput_role),
            extra.pop("tags", None),
            self.tags,
        )
        if self.commitment_duration:
            extra["commitmentDuration"] = self.commitment_duration

        existing = get_throughput(conn, self.provisioned_model_name)
        if existing is not None and existing["status"] == "Failed":
            self.log.warning("%s Deleting it to create it again.", throughput_failure(existing))
            delete_throughput(conn, existing["provisionedModelArn"], self.log)
            token = client_request_token(token, existing["provisionedModelArn"])
            existing = None
        if existing is not None:
            self._check_serves_model(existing)
            arn = existing["provisionedModelArn"]
            self.log.info("Re-attaching to provisioned throughput %s (%s).", arn, existing["status"])
            BedrockProvisionedThroughputLink.persist_arn(context, self, arn)
            return self._wait_in_service(arn, existing["status"])

        try:
            arn = conn.create_provisioned_model_throughput(
                modelUnits=int(self.model_units),
                provisionedModelName=self.provisioned_model_name,
                modelId=self.model_id,
                clientRequestToken=token,
                tags=tagging.to_aws(all_tags),
                **extra,
            )["provisionedModelArn"]
        except conn.exceptions.ValidationException:
            # Another try of this task created it between our look-up and our create.
            existing = get_throughput(conn, self.provisioned_model_name)
            if existing is None:
                raise
            self._check_serves_model(existing)
            arn = existing["provisionedModelArn"]
        commitment = (
            f"a {self.commitment_duration} commitment" if self.commitment_duration else "no commitment"
        )
        self.log.info(
            "Created provisioned throughput %s (%s model units, %s) for %s.",
            arn,
            self.model_units,
            commitment,
            self.model_id,
        )
        BedrockProvisionedThroughputLink.persist_arn(context, self, arn)
        return self._wait_in_service(arn)

    def _check_serves_model(self, throughput: Mapping[str, Any]) -> None:
        served = {
            throughput.get("modelArn"),
            throughput.get("desiredModelArn"),
            throughput.get("foundationModelArn"),
        }
        served.discard(None)
        if self.model_id in served or any(str(arn).endswith(f"/{self.model_id}") for arn in served):
            return
        conn = self.hook.conn
        try:
            if conn.get_custom_model(modelIdentifier=self.model_id)["modelArn"] in served:
                return
        except (conn.exceptions.ResourceNotFoundException, conn.exceptions.ValidationException):
            pass
        raise BedrockCustomizationError(
            f"A provisioned throughput named {self.provisioned_model_name} already exists "
            f"({throughput['provisionedModelArn']}) but serves {throughput.get('modelArn')}, not {self.model_id}. "
            "Choose another provisioned_model_name, or delete that throughput first."
        )


class BedrockUpdateProvisionedThroughputOperator(
    ThroughputWaitMixin, AwsBaseOperator[BedrockCustomizationHook]
):
    """
    Swap the model a provisioned throughput serves, in place (same base model), and wait until InService.

    Idempotent: a throughput already serving (or already switching to) ``desired_model_id`` is not updated
    again. Returns the throughput ARN.

    :param provisioned_model_id: Name or ARN of the throughput. (templated)
    :param desired_model_id: Name or ARN of the custom model to serve; it must share the base model of the
        model served now. (templated)
    :param wait_for_completion: Wait until InService. (default: True)
    :param waiter_delay: Seconds between status checks. (default: the provider's ``poll_interval``)
    :param waiter_max_attempts: Maximum status checks. (default: ``throughput_timeout`` / ``poll_interval``)
    :param deferrable: Wait in the triggerer. (default: ``[operators] default_deferrable``)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields("provisioned_model_id", "desired_model_id")
    operator_extra_links = (BedrockProvisionedThroughputLink(),)

    def __init__(
        self,
        *,
        provisioned_model_id: str,
        desired_model_id: str,
        wait_for_completion: bool = True,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        deferrable: bool = DEFAULT_DEFERRABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.provisioned_model_id = provisioned_model_id
        self.desired_model_id = desired_model_id
        self._init_wait(
            wait_for_completion, waiter_delay, waiter_max_attempts, deferrable, "throughput_timeout"
        )

    def execute(self, context: Context) -> str:
        arn, status = update_throughput_model(
            self.hook.conn, self.provisioned_model_id, self.desired_model_id, self.log, self._settle_wait
        )
        BedrockProvisionedThroughputLink.persist_arn(context, self, arn)
        return self._wait_in_service(arn, status)

    def _settle_wait(self, arn: str) -> None:
        if not self._sync_wait(THROUGHPUT_WAITER, {"provisionedModelId": arn}, "provisioned throughput"):
            raise ResourceFailedError(
                throughput_failure(self.hook.conn.get_provisioned_model_throughput(provisionedModelId=arn))
            )


def custom_model_arn(conn: Any, model_id: str) -> str:
    """The ARN of a custom model given by name or ARN."""
    if model_id.startswith("arn:"):
        return model_id
    return conn.get_custom_model(modelIdentifier=model_id)["modelArn"]


def update_throughput_model(
    conn: Any, throughput_id: str, model_id: str, log: Any, settle: Any
) -> tuple[str, str]:
    """
    Point a throughput at ``model_id`` unless it already serves or is switching to it.

    ``settle(arn)`` is called to wait for a throughput that is busy (Creating/Updating towards another
    model) before the update. Returns (throughput ARN, status after the call).
    """
    throughput = conn.get_provisioned_model_throughput(provisionedModelId=throughput_id)
    arn = throughput["provisionedModelArn"]
    if throughput["status"] == "Failed":
        raise ResourceFailedError(throughput_failure(throughput))
    desired_arn = custom_model_arn(conn, model_id)
    if throughput.get("desiredModelArn", throughput.get("modelArn")) == desired_arn:
        log.info("Provisioned throughput %s already serves %s (%s).", arn, desired_arn, throughput["status"])
        return arn, throughput["status"]
    if throughput["status"] != "InService":
        log.info("Provisioned throughput %s is %s; waiting before the update.", arn, throughput["status"])
        settle(arn)
    conn.update_provisioned_model_throughput(provisionedModelId=arn, desiredModelId=desired_arn)
    log.info(
        "Provisioned throughput %s: switching from %s to %s.", arn, throughput.get("modelArn"), desired_arn
    )
    return arn, conn.get_provisioned_model_throughput(provisionedModelId=arn)["status"]


class BedrockDeleteProvisionedThroughputOperator(AwsBaseOperator[BedrockCustomizationHook]):
    """
    Delete a provisioned model throughput; a throughput that is already gone counts as deleted.

    Returns True when this call deleted it, False when there was nothing to delete.

    :param provisioned_model_id: Name or ARN of the provisioned throughput; empty means nothing was
        created. (templated)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields("provisioned_model_id")

    def __init__(self, *, provisioned_model_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.provisioned_model_id = provisioned_model_id

    def execute(self, context: Context) -> bool:
        if not self.provisioned_model_id:
            self.log.info("No provisioned throughput was created; nothing to delete.")
            return False
        if not delete_throughput(self.hook.conn, self.provisioned_model_id, self.log):
            self.log.info("Provisioned throughput %s is already gone.", self.provisioned_model_id)
            return False
        self.log.info("Deleted provisioned throughput %s.", self.provisioned_model_id)
        return True


class BedrockDeleteRunThroughputsOperator(AwsBaseOperator[BedrockCustomizationHook]):
    """
    Teardown: delete every provisioned throughput this DAG run created that is not serving.

    Finds throughputs by their tags (``managed-by=airflow``, this ``dag-id`` and ``run-id``) plus any named in
    ``provisioned_model_ids``, and spares those tagged ``role=serving`` or recorded as serving in the model
    registry. Robust to partial state: nothing created, already deleted, still Creating (waited for, then
    deleted). Returns ``{"deleted": [arn...], "spared": [arn...], "already_gone": [id...]}``.

    :param dag_id: DAG whose throughputs to delete. (templated; default: this task's DAG)
    :param run_id: Run whose throughputs to delete. (templated; default: this task's run)
    :param provisioned_model_ids: Names or ARNs to delete as well when not serving, e.g. a throughput whose
        create call may have happened without tags. (templated)
    :param registry_bucket: Bucket of the model registry; with ``registry_name``, its serving throughput is
        spared whatever its tags say. (templated)
    :param registry_name: Name of the model registry (``registry/<name>.json``). (templated)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields(
        "dag_id_to_clean", "run_id", "provisioned_model_ids", "registry_bucket", "registry_name"
    )

    def __init__(
        self,
        *,
        dag_id: str | None = None,
        run_id: str | None = None,
        provisioned_model_ids: Sequence[str] | None = None,
        registry_bucket: str | None = None,
        registry_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dag_id_to_clean = dag_id
        self.run_id = run_id
        self.provisioned_model_ids = provisioned_model_ids or []
        self.registry_bucket = registry_bucket
        self.registry_name = registry_name

    def execute(self, context: Context) -> dict[str, list[str]]:
        conn = self.hook.conn
        dag_id, run_id, _, _ = run_identity(context)
        dag_id, run_id = self.dag_id_to_clean or dag_id, self.run_id or run_id
        serving = self._registry_serving()
        named = {i for i in self.provisioned_model_ids if i}
        result: dict[str, list[str]] = {"deleted": [], "spared": [], "already_gone": []}
        seen: set[str] = set()
        for throughput in list_throughputs(conn):
            arn, name = throughput["provisionedModelArn"], throughput["provisionedModelName"]
            resource = resource_tags(conn, arn)
            if resource is None:
                continue
            if not (tagging.same_run(resource, dag_id, run_id) or arn in named or name in named):
                continue
            seen.update((arn, name))
            if arn in serving or resource.get(tagging.ROLE) == tagging.ROLE_SERVING:
                self.log.info("Sparing provisioned throughput %s (%s): it is serving.", name, arn)
                result["spared"].append(arn)
                continue
            if delete_throughput(conn, arn, self.log, wait=(self.poll_delay, self.poll_attempts)):
                self.log.info(
                    "Deleted provisioned throughput %s (%s, was %s).", name, arn, throughput["status"]
                )
                result["deleted"].append(arn)
            else:
                result["already_gone"].append(arn)
        for identifier in sorted(named - seen):
            result["already_gone"].append(identifier)
        if not any(result.values()):
            self.log.info("Run %s of %s left no provisioned throughput.", run_id, dag_id)
        return result

    @property
    def poll_delay(self) -> int:
        return settings.poll_interval()

    @property
    def poll_attempts(self) -> int:
        return settings.max_attempts("throughput_timeout")

    def _registry_serving(self) -> set[str]:
        if not (self.registry_bucket and self.registry_name):
            return set()
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from bedrock_customization import promotion

        s3 = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify).get_conn()
        registry, _ = promotion.load_registry(s3, self.registry_bucket, self.registry_name)
        return promotion.serving_arns(registry)


def delete_deployment(conn: Any, identifier: str) -> bool:
    """Delete a custom model deployment: True if deleted, False if it was already gone."""
    try:
        conn.delete_custom_model_deployment(customModelDeploymentIdentifier=identifier)
    except conn.exceptions.ResourceNotFoundException:
        return False
    return True


class BedrockDeleteRunModelsOperator(AwsBaseOperator[BedrockCustomizationHook]):
    """
    Teardown: delete the custom model deployments and custom models this DAG run made and did not promote.

    Runs after :class:`BedrockDeleteRunThroughputsOperator`. Finds deployments and models by their tags
    (``managed-by=airflow``, this ``dag-id`` and ``run-id``), not by XCom, so it works whatever task failed.
    Never touches what the model registry names (champion, previous champion, a pending switch) or what is
    tagged ``role=serving`` or ``decision=keep``, and never deletes a model a throughput or deployment still
    uses (one just deleted is waited for; a model still used after that is left to the janitor). Each model's
    fate follows ``janitor.teardown_fate``: one of a failed run, a rejected one and one whose promotion never
    committed are deleted with ``retention="delete"``, or tagged ``decision=failed`` and kept with
    ``retention="keep"`` (the janitor deletes them after its ``retention_days``); one the run finished
    without deciding on is kept on purpose and tagged ``decision=keep``. The run failed when one of its tasks
    other than teardowns is failed or upstream_failed. Returns ``{"deleted_deployments": [arn...],
    "spared_deployments": [...], "deleted": [...], "kept": [...], "spared": [...]}``.

    :param retention: ``delete`` or ``keep``: the fate of a model this run did not promote. (templated;
        default delete)
    :param dag_id: DAG whose models to clean. (templated; default: this task's DAG)
    :param run_id: Run whose models to clean. (templated; default: this task's run)
    :param registry_bucket: Bucket of the model registry. (templated)
    :param registry_name: Name of the model registry (``registry/<name>.json``); without it (or
        ``registry_bucket``) a model tagged ``decision=promote`` is never deleted. (templated)
    :param waiter_delay: Seconds between checks whether a model is still used. (default: the provider's
        ``poll_interval``)
    :param waiter_max_attempts: Checks before a model still used is left to the janitor. (default: 5)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields(
        "retention", "dag_id_to_clean", "run_id", "registry_bucket", "registry_name"
    )

    def __init__(
        self,
        *,
        retention: str = "delete",
        dag_id: str | None = None,
        run_id: str | None = None,
        registry_bucket: str | None = None,
        registry_name: str | None = None,
        waiter_delay: int | None = None,
        waiter_max_attempts: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retention = retention
        self.dag_id_to_clean = dag_id
        self.run_id = run_id
        self.registry_bucket = registry_bucket
        self.registry_name = registry_name
        self.waiter_delay = waiter_delay if waiter_delay is not None else settings.poll_interval()
        self.waiter_max_attempts = max(1, waiter_max_attempts)

    def execute(self, context: Context) -> dict[str, list[str]]:
        from bedrock_customization import janitor

        conn = self.hook.conn
        retention = str(self.retention).strip().lower()
        if retention not in ("delete", "keep"):
            raise BedrockCustomizationError(f"retention must be delete or keep; got {self.retention!r}.")
        dag_id, run_id, _, _ = run_identity(context)
        dag_id, run_id = self.dag_id_to_clean or dag_id, self.run_id or run_id
        registry_read = bool(self.registry_bucket and self.registry_name)
        protected = self._registry_protected()
        result: dict[str, list[str]] = {
            "deleted_deployments": [],
            "spared_deployments": [],
            "deleted": [],
            "kept": [],
            "spared": [],
        }
        for deployment in list(_paginate(conn, "list_custom_model_deployments", "modelDeploymentSummaries")):
            arn, name = deployment["customModelDeploymentArn"], deployment["customModelDeploymentName"]
            tags = resource_tags(conn, arn)
            if tags is None or not tagging.same_run(tags, dag_id, run_id):
                continue
            if (
                arn in protected
                or tags.get(tagging.ROLE) == tagging.ROLE_SERVING
                or tags.get(tagging.DECISION) == tagging.DECISION_KEEP
            ):
                self.log.info(
                    "Sparing custom model deployment %s (%s): serving or kept on purpose.", name, arn
                )
                result["spared_deployments"].append(arn)
            elif delete_deployment(conn, arn):
                self.log.info("Deleted custom model deployment %s (%s).", name, arn)
                result["deleted_deployments"].append(arn)

        run_failed: bool | None = None
        checked = False
        for model in list(_paginate(conn, "list_custom_models", "modelSummaries")):
            arn, name = model["modelArn"], model["modelName"]
            tags = resource_tags(conn, arn)
            if tags is None or not tagging.same_run(tags, dag_id, run_id):
                continue
            if not checked:
                run_failed, checked = self._run_failed(context, dag_id, run_id), True
            fate = janitor.teardown_fate(
                arn=arn,
                tags=tags,
                protected=protected,
                retention=retention,
                run_failed=run_failed,
                registry_read=registry_read,
            )
            if fate.action == janitor.TEARDOWN_SPARE:
                self.log.info("Sparing custom model %s (%s): %s.", name, arn, fate.reason)
                result["spared"].append(arn)
                continue
            if fate.tag and not self._tag_decision(conn, arn, fate.tag):
                continue
            if fate.action == janitor.TEARDOWN_KEEP:
                self.log.info("Keeping custom model %s (%s): %s.", name, arn, fate.reason)
                result["kept"].append(arn)
                continue
            self._delete_model(conn, arn, name, fate.reason, result)
        if not any(result.values()):
            self.log.info("Run %s of %s left no custom model nor deployment.", run_id, dag_id)
        return result

    def _delete_model(
        self, conn: Any, arn: str, name: str, reason: str, result: dict[str, list[str]]
    ) -> None:
        """Delete a model once nothing uses it (a throughput just deleted may hold it for a moment)."""
        users: list[str] = []
        for attempt in range(self.waiter_max_attempts):
            users = model_users(conn, arn)
            if not users or attempt == self.waiter_max_attempts - 1:
                break
            self.log.info(
                "Custom model %s is still used by %s; checking again in %s s.", arn, users, self.waiter_delay
            )
            time.sleep(self.waiter_delay)
        try:
            if users:
                raise ResourceInUseError(f"still used by {'; '.join(users)}")
            deleted = delete_custom_model(conn, arn)
        except ResourceInUseError as error:
            self.log.warning(
                "Not deleting custom model %s (%s) although %s: %s. It keeps its decision tag, so the "
                "janitor deletes it once nothing uses it.",
                name,
                arn,
                reason,
                error,
            )
            result["kept"].append(arn)
            return
        if deleted:
            self.log.info("Deleted custom model %s (%s): %s.", name, arn, reason)
            result["deleted"].append(arn)

    def _tag_decision(self, conn: Any, arn: str, decision: str) -> bool:
        """Tag a model ``decision=<decision>``; False when it is already gone."""
        try:
            conn.tag_resource(resourceARN=arn, tags=tagging.to_aws({tagging.DECISION: decision}))
        except conn.exceptions.ResourceNotFoundException:
            self.log.info("Custom model %s is already gone.", arn)
            return False
        return True

    def _run_failed(self, context: Context, dag_id: str, run_id: str) -> bool | None:
        """Whether a task of the run (teardowns aside) failed; None when that cannot be read."""
        ti = context["ti"]
        if (ti.dag_id, ti.run_id) != (dag_id, run_id) or not hasattr(ti, "get_ti_count"):
            return None
        task_ids = [t.task_id for t in self.dag.tasks if not t.is_teardown] if self.has_dag() else None
        try:
            failed = ti.get_ti_count(
                dag_id=dag_id, run_ids=[run_id], task_ids=task_ids, states=["failed", "upstream_failed"]
            )
        except Exception as error:  # the outcome is only needed for models without a decision
            self.log.warning("Could not read the task states of run %s (%s).", run_id, error)
            return None
        self.log.info("Run %s of %s %s.", run_id, dag_id, "failed" if failed else "did not fail")
        return failed > 0

    def _registry_protected(self) -> set[str]:
        if not (self.registry_bucket and self.registry_name):
            return set()
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from bedrock_customization import janitor, promotion

        s3 = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify).get_conn()
        registry, _ = promotion.load_registry(s3, self.registry_bucket, self.registry_name)
        return janitor.protected_arns(registry)


# --------------------------------------------------------------------------------------------- custom model


class BedrockDeleteCustomModelOperator(AwsBaseOperator[BedrockCustomizationHook]):
    """
    Delete a custom model; a model that is already gone counts as deleted.

    Raises ``ResourceInUseError`` naming the throughputs and deployments that still use the model. Returns
    True when this call deleted it, False when there was nothing to delete.

    :param model_id: Name or ARN of the custom model; empty means nothing to delete. (templated)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields("model_id")

    def __init__(self, *, model_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id

    def execute(self, context: Context) -> bool:
        if not self.model_id:
            self.log.info("No custom model given; nothing to delete.")
            return False
        deleted = delete_custom_model(self.hook.conn, self.model_id)
        self.log.info(
            "Deleted custom model %s." if deleted else "Custom model %s is already gone.", self.model_id
        )
        return deleted


def delete_custom_model(conn: Any, model_id: str) -> bool:
    """Delete a custom model: True if deleted, False if already gone, ``ResourceInUseError`` if still used."""
    try:
        conn.delete_custom_model(modelIdentifier=model_id)
        return True
    except conn.exceptions.ResourceNotFoundException:
        return False
    except (
        conn.exceptions.ValidationException,
        conn.exceptions.ConflictException,
        conn.exceptions.ResourceInUseException,
    ) as error:
        users = model_users(conn, model_id)
        if not users:
            raise
        raise ResourceInUseError(
            f"Custom model {model_id} cannot be deleted: it is still used by {'; '.join(users)}. Delete those "
            "(BedrockDeleteProvisionedThroughputOperator / BedrockDeleteCustomModelDeploymentOperator) or point "
            "them at another model (BedrockUpdateProvisionedThroughputOperator), then retry."
        ) from error


# --------------------------------------------------------------------------------------------- deployment


def deployment_failure(deployment: Mapping[str, Any]) -> str:
    """A user-facing sentence for a custom model deployment that ended Failed."""
    return (
        f"Custom model deployment {deployment.get('modelDeploymentName')} "
        f"({deployment.get('customModelDeploymentArn')}) ended Failed: "
        f"{deployment.get('failureMessage') or 'no failureMessage given'}. A retry of the creating task deletes "
        "it and creates it again."
    )


def get_deployment(conn: Any, identifier: str) -> dict | None:
    """GetCustomModelDeployment by name or ARN, or None when there is none."""
    try:
        return conn.get_custom_model_deployment(customModelDeploymentIdentifier=identifier)
    except conn.exceptions.ResourceNotFoundException:
        return None


def check_on_demand_support(conn: Any, model_arn: str, log: Any) -> None:
    """Raise when the catalog says the custom model's base model cannot be deployed on demand."""
    from bedrock_customization import catalog
    from bedrock_customization.exceptions import UnknownModelError

    base_arn = conn.get_custom_model(modelIdentifier=model_arn)["baseModelArn"]
    try:
        base = catalog.get_model(base_arn)
    except UnknownModelError:
        log.warning("Base model %s is not in the catalog; trying an on-demand deployment anyway.", base_arn)
        return
    if not base.supports_on_demand_deployment:
        supported = ", ".join(m.id for m in catalog.list_models() if m.supports_on_demand_deployment)
        raise BedrockCustomizationError(
            f"Custom models of {base.id} cannot be deployed on demand (CreateCustomModelDeployment); serve it with "
            f"BedrockCreateProvisionedModelThroughputOperator instead. On-demand deployment is available for "
            f"custom models of: {supported}."
        )


class BedrockCreateCustomModelDeploymentOperator(WaitingMixin, AwsBaseOperator[BedrockCustomizationHook]):
    """
    Deploy a custom model for on-demand inference (no throughput purchase) and wait until it is Active.

    For base models the catalog marks ``supports_on_demand_deployment`` (Nova models customized after
    2025-07-16). Idempotent like the throughput create: re-attaches by name, deterministic token, tagged as
    ours. Returns the deployment ARN, which InvokeModel/Converse accept as ``modelId``.

    :param model_arn: ARN (or name) of the custom model. (templated)
    :param deployment_name: Name of the deployment, 1-63 characters. (templated)
    :param description: Description of the deployment. (templated)
    :param client_request_token: Idempotency token; default derived from dag_id, run_id, task_id and
        map_index. (templated)
    :param tags: Extra tags ``{"key": "value"}`` on top of ours. (templated)
    :param check_catalog: Refuse base models the catalog says cannot be deployed on demand. (default: True)
    :param wait_for_completion: Wait until Active. (default: True)
    :param waiter_delay: Seconds between status checks. (default: the provider's ``poll_interval``)
    :param waiter_max_attempts: Maximum status checks. (default: ``throughput_timeout`` / ``poll_interval``)
    :param deferrable: Wait in the triggerer. (default: ``[operators] default_deferrable``)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields(
        "model_arn", "deployment_name", "description", "client_request_token", "tags"
    )
    operator_extra_links = (BedrockCustomModelDeploymentLink(),)

    def __init__(
        self,
        *,
        model_arn: str,
        deployment_name: str,
        description: str | None = None,
        client_request_token: str | None = None,
        tags: dict[str, str] | None = None,
        check_catalog: bool = True,
        wait_for_completion: bool = True,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        deferrable: bool = DEFAULT_DEFERRABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_arn = model_arn
        self.deployment_name = deployment_name
        self.description = description
        self.client_request_token = client_request_token
        self.tags = tags or {}
        self.check_catalog = check_catalog
        self._init_wait(
            wait_for_completion, waiter_delay, waiter_max_attempts, deferrable, "throughput_timeout"
        )

    def execute(self, context: Context) -> str:
        conn = self.hook.conn
        if self.check_catalog:
            check_on_demand_support(conn, self.model_arn, self.log)
        token = self.client_request_token or default_token(context, "deployment")
        existing = get_deployment(conn, self.deployment_name)
        if existing is not None and existing["status"] == "Failed":
            self.log.warning("%s Deleting it to create it again.", deployment_failure(existing))
            self._delete(existing["customModelDeploymentArn"])
            token = client_request_token(token, existing["customModelDeploymentArn"])
            existing = None
        if existing is not None:
            if custom_model_arn(conn, self.model_arn) != existing["modelArn"]:
                raise BedrockCustomizationError(
                    f"A custom model deployment named {self.deployment_name} already exists "
                    f"({existing['customModelDeploymentArn']}) for {existing['modelArn']}, not {self.model_arn}. "
                    "Choose another deployment_name, or delete that deployment first."
                )
            arn = existing["customModelDeploymentArn"]
            self.log.info("Re-attaching to custom model deployment %s (%s).", arn, existing["status"])
        else:
            dag_id, run_id, task_id, _ = run_identity(context)
            request: dict[str, Any] = {
                "modelDeploymentName": self.deployment_name,
                "modelArn": self.model_arn,
                "clientRequestToken": token,
                "tags": tagging.to_aws(tagging.merge(tagging.run_tags(dag_id, run_id, task_id), self.tags)),
            }
            if self.description:
                request["description"] = self.description
            arn = conn.create_custom_model_deployment(**request)["customModelDeploymentArn"]
            self.log.info("Created custom model deployment %s for %s.", arn, self.model_arn)
        BedrockCustomModelDeploymentLink.persist_arn(context, self, arn)
        return self._wait_active(arn)

    def _delete(self, arn: str) -> None:
        conn = self.hook.conn
        try:
            conn.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
        except conn.exceptions.ResourceNotFoundException:
            pass

    def _wait_active(self, arn: str) -> str:
        deployment = self.hook.conn.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
        if deployment["status"] == "Active":
            return arn
        if deployment["status"] == "Failed":
            raise ResourceFailedError(deployment_failure(deployment))
        if self.deferrable:
            self.defer(
                trigger=BedrockCustomModelDeploymentActiveTrigger(
                    deployment_id=arn,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        elif self.wait_for_completion:
            if not self._sync_wait(DEPLOYMENT_WAITER, {"customModelDeploymentIdentifier": arn}, "deployment"):
                raise ResourceFailedError(
                    deployment_failure(
                        self.hook.conn.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
                    )
                )
        return arn

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        if not event or "deployment_id" not in event:
            raise BedrockCustomizationError(
                f"Unexpected trigger event for a custom model deployment: {event!r}"
            )
        arn = event["deployment_id"]
        if event.get("status") != "success":
            deployment = get_deployment(self.hook.conn, arn)
            if deployment is not None and deployment.get("status") == "Failed":
                raise ResourceFailedError(deployment_failure(deployment))
            raise BedrockCustomizationError(
                f"Waiting for deployment {arn} failed: {event.get('message', event)}"
            )
        self.log.info("Custom model deployment %s is Active.", arn)
        return arn


class BedrockDeleteCustomModelDeploymentOperator(AwsBaseOperator[BedrockCustomizationHook]):
    """
    Delete an on-demand custom model deployment; one that is already gone counts as deleted.

    Returns True when this call deleted it, False when there was nothing to delete.

    :param deployment_id: Name or ARN of the deployment; empty means nothing to delete. (templated)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields("deployment_id")

    def __init__(self, *, deployment_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployment_id = deployment_id

    def execute(self, context: Context) -> bool:
        conn = self.hook.conn
        if not self.deployment_id:
            self.log.info("No custom model deployment given; nothing to delete.")
            return False
        try:
            conn.delete_custom_model_deployment(customModelDeploymentIdentifier=self.deployment_id)
        except conn.exceptions.ResourceNotFoundException:
            self.log.info("Custom model deployment %s is already gone.", self.deployment_id)
            return False
        self.log.info("Deleted custom model deployment %s.", self.deployment_id)
        return True
