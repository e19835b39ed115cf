"""Triggers for Amazon Bedrock model customization: waits declared over the waiters in ``waiters/bedrock.json``."""

from __future__ import annotations

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

from bedrock_customization.hooks.bedrock import BedrockCustomizationHook


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


class BedrockModelImportJobCompletedTrigger(AwsBaseWaiterTrigger):
    """
    Fire when a Custom Model Import job is Completed; error (with its failureMessage) when it is Failed.

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
