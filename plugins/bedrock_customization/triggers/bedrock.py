"""Triggers for Amazon Bedrock model customization: waits declared over the waiters in ``waiters/bedrock.json``.

The job triggers also act when a user kills the deferred task (marks it failed, succeeded or skipped, or clears
it, in the UI or the REST API): Airflow cancels the trigger and calls its ``on_kill``, which stops the
customization job (a model import job cannot be stopped; its ``on_kill`` says so). A triggerer restart or
shutdown only calls ``cleanup()``, which leaves the job alone: the wait resumes in the next triggerer.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, ClassVar

from airflow.providers.amazon.aws.triggers import bedrock as amazon_triggers
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

from bedrock_customization.hooks.bedrock import BedrockCustomizationHook

#: Stop*Job errors meaning the job is not running any more (finished, already stopping, or deleted).
ALREADY_FINISHED = ("ValidationException", "ConflictException", "ResourceNotFoundException")


class StopJobOnKillMixin:
    """
    ``on_kill`` for a trigger that waits on a Bedrock job (``waiter_args["jobIdentifier"]``): :meth:`stop_job`.

    Airflow 3.3 calls ``on_kill`` when it cancels the trigger because its task left the deferred state by a
    user's action (marked failed, succeeded or skipped; cleared), not when the triggerer stops or restarts
    (then only ``cleanup()`` runs, which this mixin leaves alone) nor when the deferral times out. It cannot
    tell apart one more case: a trigger taken over by another triggerer because this one, still running,
    missed its heartbeats for ``[triggerer] health_check_threshold``; that is cancelled as a user action too.
    """

    def hook(self) -> Any:
        """The trigger's hook, creating its aiobotocore client in a plain thread.

        The hook's own ``get_async_conn`` uses asgiref's ``sync_to_async``, which drops the message of a cancel
        arriving meanwhile (the trigger creates its client when it starts), and Airflow 3.3 calls ``on_kill``
        only for a cancel carrying its user-action message; ``asyncio.to_thread`` keeps the message.
        """
        hook = super().hook()  # type: ignore[misc]
        hook.get_async_conn = functools.partial(asyncio.to_thread, hook._get_async_conn)
        return hook

    async def on_kill(self) -> None:
        await self.stop_job(self.waiter_args["jobIdentifier"])  # type: ignore[attr-defined]

    async def stop_job(self, job_id: str) -> None:
        """Stop the job, or log why it cannot be stopped."""
        raise NotImplementedError


class BedrockCustomizeModelCompletedTrigger(
    StopJobOnKillMixin, amazon_triggers.BedrockCustomizeModelCompletedTrigger
):
    """
    The Amazon provider's customization job trigger; killing the deferred task also stops the job.

    Same parameters, waiter and event as the Amazon provider's trigger (only the class path differs). Its
    ``on_kill`` calls StopModelCustomizationJob (see :class:`StopJobOnKillMixin` for when); a job that already
    finished or is stopping is logged and left alone.

    :param job_name: Name or ARN of the model customization job.
    :param waiter_delay: Seconds between status checks. (default: 120)
    :param waiter_max_attempts: Maximum number of status checks. (default: 75)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region of the job.
    :param verify: Whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (key-values).
    """

    # What the upstream ``__init__`` passes, declared as on :class:`BedrockWaiterTrigger`.
    waiter_name = "model_customization_job_complete"
    waiter_arg = "jobIdentifier"
    return_key = "job_name"

    async def stop_job(self, job_id: str) -> None:
        from botocore.exceptions import ClientError

        async with await self.hook().get_async_conn() as client:
            try:
                await client.stop_model_customization_job(jobIdentifier=job_id)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ALREADY_FINISHED:
                    raise
                self.log.info("Customization job %s is not running any more: %s", job_id, error)
                return
        self.log.info("Stopped customization job %s: its task was killed.", job_id)


class BedrockWaiterTrigger(AwsBaseWaiterTrigger):
    """
    A wait over one waiter of ``waiters/bedrock.json``, declared by class attributes: ``waiter_name``,
    ``waiter_arg`` (the waiter's identifier argument), ``return_key`` (the parameter naming the resource, also
    the key of the event) and ``resource_kind`` (for messages). Fires when the resource reaches a success
    state; errors (with its ``failureMessage``) in a failure state.

    :param <return_key>: Name or ARN of the resource, e.g. ``provisioned_model_id=...``.
    :param waiter_delay: Seconds between status checks. (default: 60)
    :param waiter_max_attempts: Maximum number of status checks. (default: ``default_max_attempts``)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region of the resource.
    :param verify: Whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (key-values).
    """

    aws_hook_class = BedrockCustomizationHook
    waiter_name: ClassVar[str]
    waiter_arg: ClassVar[str]
    return_key: ClassVar[str]
    resource_kind: ClassVar[str]
    default_max_attempts: ClassVar[int] = 120

    def __init__(
        self,
        *,
        waiter_delay: int = 60,
        waiter_max_attempts: int | None = None,
        aws_conn_id: str | None = None,
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
        **resource: str,
    ) -> None:
        if set(resource) != {self.return_key}:
            raise TypeError(f"{type(self).__name__} takes {self.return_key}=..., not {', '.join(resource)}")
        identifier = resource[self.return_key]
        attempts = self.default_max_attempts if waiter_max_attempts is None else waiter_max_attempts
        super().__init__(
            serialized_fields={self.return_key: identifier},
            waiter_name=self.waiter_name,
            waiter_args={self.waiter_arg: identifier},
            failure_message=f"Bedrock {self.resource_kind} failed.",
            status_message=f"Status of Bedrock {self.resource_kind} is",
            status_queries=["status", "failureMessage"],
            return_key=self.return_key,
            return_value=identifier,
            waiter_delay=waiter_delay,
            waiter_max_attempts=attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )


class BedrockProvisionedThroughputInServiceTrigger(BedrockWaiterTrigger):
    """
    Fire when a provisioned throughput is InService (after Creating or Updating); error when it is Failed.

    :param provisioned_model_id: Name or ARN of the provisioned throughput. Other parameters: see
        :class:`BedrockWaiterTrigger` (``waiter_max_attempts`` default 120).
    """

    waiter_name = "provisioned_model_throughput_in_service"
    waiter_arg = "provisionedModelId"
    return_key = "provisioned_model_id"
    resource_kind = "provisioned throughput"


class BedrockCustomModelDeploymentActiveTrigger(BedrockWaiterTrigger):
    """
    Fire when an on-demand custom model deployment is Active; error when it is Failed.

    :param deployment_id: Name or ARN of the custom model deployment. Other parameters: see
        :class:`BedrockWaiterTrigger` (``waiter_max_attempts`` default 120).
    """

    waiter_name = "custom_model_deployment_active"
    waiter_arg = "customModelDeploymentIdentifier"
    return_key = "deployment_id"
    resource_kind = "custom model deployment"


class BedrockModelImportJobCompletedTrigger(StopJobOnKillMixin, BedrockWaiterTrigger):
    """
    Fire when a Custom Model Import job is Completed; error (with its failureMessage) when it is Failed.

    Bedrock has no API to stop a model import job (botocore has no StopModelImportJob): when a user kills the
    deferred task, ``on_kill`` logs a warning naming the job, which runs to its end and leaves its imported
    model behind.

    :param job_arn: ARN (or name) of the model import job. Other parameters: see :class:`BedrockWaiterTrigger`
        (``waiter_max_attempts`` default 240).
    """

    waiter_name = "model_import_job_complete"
    waiter_arg = "jobIdentifier"
    return_key = "job_arn"
    resource_kind = "model import job"
    default_max_attempts = 240

    async def stop_job(self, job_id: str) -> None:
        self.log.warning(
            "The task was killed, but Bedrock cannot stop model import job %s: it runs to its end and leaves "
            "an imported model. Delete that model with BedrockDeleteImportedModelOperator once the job has "
            "finished, or leave it to the bedrock_janitor DAG.",
            job_id,
        )


class BedrockEvaluationJobCompletedTrigger(StopJobOnKillMixin, BedrockWaiterTrigger):
    """
    Fire when a model evaluation job is Completed; error (with its failureMessages) when it failed or stopped.

    Killing the deferred task stops the job (StopEvaluationJob; see :class:`StopJobOnKillMixin` for when); a
    job that already finished or is stopping is logged and left alone.

    :param job_arn: ARN of the evaluation job (GetEvaluationJob takes no name). Other parameters: see
        :class:`BedrockWaiterTrigger` (``waiter_max_attempts`` default 240).
    """

    waiter_name = "evaluation_job_complete"
    waiter_arg = "jobIdentifier"
    return_key = "job_arn"
    resource_kind = "evaluation job"
    default_max_attempts = 240

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status_queries = ["status", "failureMessages"]  # an evaluation job has a list of reasons

    async def stop_job(self, job_id: str) -> None:
        from botocore.exceptions import ClientError

        async with await self.hook().get_async_conn() as client:
            try:
                await client.stop_evaluation_job(jobIdentifier=job_id)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ALREADY_FINISHED:
                    raise
                self.log.info("Evaluation job %s is not running any more: %s", job_id, error)
                return
        self.log.info("Stopped evaluation job %s: its task was killed.", job_id)
