"""Triggers for Amazon Bedrock model customization: waits declared over the waiters in ``waiters/bedrock.json``.

The job triggers also act when a user kills the deferred task (marks it failed, succeeded or skipped, or clears
it, in the UI or the REST API): Airflow cancels the trigger and calls its ``on_kill``, which stops the
customization job (a model import job cannot be stopped; its ``on_kill`` says so). A triggerer restart or
shutdown only calls ``cleanup()``, which leaves the job alone: the wait resumes in the next triggerer.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

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


class BedrockProvisionedThroughputInServiceTrigger(AwsBaseWaiterTrigger):
    """
    Fire when a provisioned throughput is InService (after Creating or Updating); error when it is Failed.

    :param provisioned_model_id: Name or ARN of the provisioned throughput.
    :param waiter_delay: Seconds between status checks. (default: 60)
    :param waiter_max_attempts: Maximum number of status checks. (default: 120)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region of the throughput.
    :param verify: Whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (key-values).
    """

    aws_hook_class = BedrockCustomizationHook

    def __init__(
        self,
        *,
        provisioned_model_id: str,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 120,
        aws_conn_id: str | None = None,
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"provisioned_model_id": provisioned_model_id},
            waiter_name="provisioned_model_throughput_in_service",
            waiter_args={"provisionedModelId": provisioned_model_id},
            failure_message="Bedrock provisioned throughput failed.",
            status_message="Status of Bedrock provisioned throughput is",
            status_queries=["status", "failureMessage"],
            return_key="provisioned_model_id",
            return_value=provisioned_model_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )


class BedrockCustomModelDeploymentActiveTrigger(AwsBaseWaiterTrigger):
    """
    Fire when an on-demand custom model deployment is Active; error when it is Failed.

    :param deployment_id: Name or ARN of the custom model deployment.
    :param waiter_delay: Seconds between status checks. (default: 60)
    :param waiter_max_attempts: Maximum number of status checks. (default: 120)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region of the deployment.
    :param verify: Whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (key-values).
    """

    aws_hook_class = BedrockCustomizationHook

    def __init__(
        self,
        *,
        deployment_id: str,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 120,
        aws_conn_id: str | None = None,
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"deployment_id": deployment_id},
            waiter_name="custom_model_deployment_active",
            waiter_args={"customModelDeploymentIdentifier": deployment_id},
            failure_message="Bedrock custom model deployment failed.",
            status_message="Status of Bedrock custom model deployment is",
            status_queries=["status", "failureMessage"],
            return_key="deployment_id",
            return_value=deployment_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )


class BedrockModelImportJobCompletedTrigger(StopJobOnKillMixin, AwsBaseWaiterTrigger):
    """
    Fire when a Custom Model Import job is Completed; error (with its failureMessage) when it is Failed.

    Bedrock has no API to stop a model import job (botocore has no StopModelImportJob): when a user kills the
    deferred task, ``on_kill`` logs a warning naming the job, which runs to its end and leaves its imported
    model behind.

    :param job_arn: ARN (or name) of the model import job.
    :param waiter_delay: Seconds between status checks. (default: 60)
    :param waiter_max_attempts: Maximum number of status checks. (default: 240)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region of the job.
    :param verify: Whether to verify SSL certificates.
    :param botocore_config: botocore client configuration (key-values).
    """

    aws_hook_class = BedrockCustomizationHook

    def __init__(
        self,
        *,
        job_arn: str,
        waiter_delay: int = 60,
        waiter_max_attempts: int = 240,
        aws_conn_id: str | None = None,
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"job_arn": job_arn},
            waiter_name="model_import_job_complete",
            waiter_args={"jobIdentifier": job_arn},
            failure_message="Bedrock model import job failed.",
            status_message="Status of Bedrock model import job is",
            status_queries=["status", "failureMessage"],
            return_key="job_arn",
            return_value=job_arn,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )

    async def stop_job(self, job_id: str) -> None:
        self.log.warning(
            "The task was killed, but Bedrock cannot stop model import job %s: it runs to its end and leaves "
            "an imported model. Delete that model with BedrockDeleteImportedModelOperator once the job has "
            "finished, or leave it to the bedrock_janitor DAG.",
            job_id,
        )
