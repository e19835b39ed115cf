"""Operator running the customization preflight checks before anything billable starts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization.preflight import Clients, PreflightSpec, run_preflight

if TYPE_CHECKING:
    from airflow.sdk import Context


class BedrockCustomizationPreflightOperator(AwsBaseOperator[AwsBaseHook]):
    """
    Check a customization job's setup and fail, listing every failed check, when anything is wrong.

    Read-only: S3 objects and bucket encryption, the KMS key, the service role's trust and policies, and with
    a VPC the subnets (one VPC, every Availability Zone), security groups (self-referencing rules), routes to
    S3 and the KMS endpoint; plus the base model, customization type and hyperparameters against the catalog.
    Returns the report (``{"ok", "failed", "checks"}``) for XCom when every check passes.

    :param base_model_id: The ``baseModelIdentifier`` of the job. (templated)
    :param role_arn: The Bedrock service role. (templated)
    :param training_data_uri: ``s3://`` URI of the training JSON Lines file. (templated)
    :param output_data_uri: ``s3://`` URI of the output folder. (templated)
    :param validation_data_uris: ``s3://`` URIs of validation files; a list or a comma-separated string.
        Default none. (templated)
    :param customization_type: Default ``FINE_TUNING``. (templated)
    :param hyperparameters: The job's ``hyperParameters``. Default none. (templated)
    :param kms_key_id: Customer-managed key of the bucket and custom model (id, ARN or alias). Default none.
        (templated)
    :param subnet_ids: Subnets of the job's ``vpcConfig``; a list or a comma-separated string. Default none:
        the VPC checks are skipped. (templated)
    :param security_group_ids: Security groups of ``vpcConfig``; required with ``subnet_ids``. (templated)
    :param require_all_azs: Fail unless the subnets cover every Availability Zone. Default True. (templated)
    :param evaluation_metrics: The evaluation's metrics; a list or a comma-separated string. With ``semantic``
        its embedding model must answer a probe. Default none. (templated)
    :param judge_model_id: The evaluation's LLM judge, which must answer a probe judgement. Default none.
        (templated)
    :param grader_lambda_arn: The Lambda grader of a ``REINFORCEMENT_FINE_TUNING`` job: it must exist in the
        region and the role must be allowed to invoke it. Default none. (templated)
    :param invocation_logs_config: The job's ``invocationLogsConfig`` when it trains on model invocation logs:
        its prefix must hold objects and the role must be allowed to read them. Default none. (templated)
    """

    aws_hook_class = AwsBaseHook
    template_fields: Sequence[str] = aws_template_fields(
        "base_model_id",
        "role_arn",
        "training_data_uri",
        "output_data_uri",
        "validation_data_uris",
        "customization_type",
        "hyperparameters",
        "kms_key_id",
        "subnet_ids",
        "security_group_ids",
        "require_all_azs",
        "evaluation_metrics",
        "judge_model_id",
        "grader_lambda_arn",
        "invocation_logs_config",
    )
    template_fields_renderers = {"hyperparameters": "json"}
    ui_color = "#f0e4ec"

    def __init__(
        self,
        *,
        base_model_id: str,
        role_arn: str,
        training_data_uri: str,
        output_data_uri: str,
        validation_data_uris: Sequence[str] | str | None = None,
        customization_type: str = "FINE_TUNING",
        hyperparameters: dict[str, Any] | None = None,
        kms_key_id: str | None = None,
        subnet_ids: Sequence[str] | str | None = None,
        security_group_ids: Sequence[str] | str | None = None,
        require_all_azs: bool = True,
        evaluation_metrics: Sequence[str] | str | None = None,
        judge_model_id: str | None = None,
        grader_lambda_arn: str | None = None,
        invocation_logs_config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.invocation_logs_config = invocation_logs_config
        self.base_model_id = base_model_id
        self.role_arn = role_arn
        self.training_data_uri = training_data_uri
        self.output_data_uri = output_data_uri
        self.validation_data_uris = validation_data_uris
        self.customization_type = customization_type
        self.hyperparameters = hyperparameters
        self.kms_key_id = kms_key_id
        self.subnet_ids = subnet_ids
        self.security_group_ids = security_group_ids
        self.require_all_azs = require_all_azs
        self.evaluation_metrics = evaluation_metrics
        self.judge_model_id = judge_model_id
        self.grader_lambda_arn = grader_lambda_arn

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "client_type": "ec2"}

    def execute(self, context: Context) -> dict[str, Any]:
        region = self.hook.conn_region_name
        spec = PreflightSpec(
            region=region,
            base_model=self.base_model_id,
            role_arn=self.role_arn,
            training_uri=self.training_data_uri,
            output_uri=self.output_data_uri,
            validation_uris=self.validation_data_uris or (),
            customization_type=self.customization_type,
            hyperparameters=self.hyperparameters or {},
            kms_key=self.kms_key_id or None,
            subnet_ids=self.subnet_ids or (),
            security_group_ids=self.security_group_ids or (),
            require_all_azs=_flag(self.require_all_azs),
            evaluation_metrics=self.evaluation_metrics or (),
            judge_model_id=self.judge_model_id or None,
            grader_lambda_arn=self.grader_lambda_arn or None,
            invocation_logs_uri=((self.invocation_logs_config or {}).get("invocationLogSource") or {}).get("s3Uri"),
        )
        clients = Clients(
            ec2=self.hook.conn,
            s3=self._client("s3"),
            iam=self._client("iam"),
            kms=self._client("kms"),
            bedrock=self._client("bedrock"),
            runtime=self._client("bedrock-runtime"),
            lambda_=self._client("lambda"),
        )
        return run_preflight(spec, clients).task_result(self.log)

    def _client(self, service: str) -> Any:
        """A client of ``service`` from the same connection, region, verify and botocore config."""
        return AwsBaseHook(**{**self._hook_parameters, "client_type": service}).conn


def _flag(value: Any) -> bool:
    """A templated boolean may arrive as the string ``"False"``."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "")
    return bool(value)
