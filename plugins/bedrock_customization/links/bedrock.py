"""Operator extra links: Amazon Bedrock resources in the AWS console, and the run's page in our UI plugin.

Console links follow the Amazon provider's pattern: one :class:`BaseAwsLink` per resource kind, stored in
XCom by ``persist`` (region and partition of the task's connection) as soon as the ARN is known, so a task
waiting in the triggerer already shows it. Pages with an ARN in the URL were checked against AWS's own
samples; for the kinds whose console detail page has no documented URL the link opens the console's list of
that kind in the run's region (the ARN is stored with the link all the same).
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink
from airflow.providers.amazon.aws.utils.suppress import return_on_error
from airflow.providers.common.compat.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models import BaseOperator
    from airflow.providers.common.compat.sdk import TaskInstanceKey
    from airflow.sdk import Context

#: The Bedrock console of the run's region; a page's route follows the ``#``.
BEDROCK_CONSOLE = BASE_AWS_CONSOLE_LINK + "/bedrock/home?region={region_name}#"
#: The run's page of the provider's UI plugin, relative to the Airflow UI.
#: The run's "Bedrock results" tab (the UI plugin's dag_run view, url_route ``bedrock-results``), inside the
#: Airflow UI with its navigation.
RUN_RESULTS_PATH = "/dags/{dag_id}/runs/{run_id}/plugin/bedrock-results"


class BedrockConsoleLink(BaseAwsLink):
    """A Bedrock resource in the console of the run's region; ``arn_field`` names the ARN in ``format_str``."""

    arn_field: ClassVar[str] = "arn"

    @staticmethod
    def quote_arn(arn: str) -> str:
        """The ARN escaped for the URL fragment (``:`` and ``/`` included)."""
        return urllib.parse.quote(arn, safe="")

    @classmethod
    @return_on_error(None)
    def persist_arn(
        cls, context: Context, operator: BaseOperator, arn: str | None, hook: Any = None, **extra: Any
    ) -> None:
        """Store the link to ``arn`` for this task instance; ``hook`` (default the operator's) gives the region.

        Nothing is stored without an ARN, and a failure never fails the task (the link is a convenience).
        """
        if not arn:
            return
        hook = hook if hook is not None else operator.hook  # type: ignore[attr-defined]
        cls.persist(
            context=context,
            operator=operator,
            region_name=hook.conn_region_name,
            aws_partition=hook.conn_partition,
            **{cls.arn_field: cls.quote_arn(arn)},
            **extra,
        )


class BedrockCustomizationJobLink(BedrockConsoleLink):
    """The model customization job's page in the Amazon Bedrock console."""

    name = "Bedrock Customization Job"
    key = "bedrock_customization_job"
    arn_field = "job_arn"
    format_str = BEDROCK_CONSOLE + "/custom-models/item?arn={job_arn}"


class BedrockCustomModelLink(BedrockConsoleLink):
    """The custom model's page in the Amazon Bedrock console."""

    name = "Bedrock Custom Model"
    key = "bedrock_custom_model"
    format_str = BEDROCK_CONSOLE + "/custom-models/item?arn={arn}"


class BedrockProvisionedThroughputLink(BedrockConsoleLink):
    """The provisioned throughput's page in the Amazon Bedrock console."""

    name = "Bedrock Provisioned Throughput"
    key = "bedrock_provisioned_throughput"
    format_str = BEDROCK_CONSOLE + "/provisioned-throughput/details?arn={arn}"


class BedrockCustomModelDeploymentLink(BedrockConsoleLink):
    """The custom models page of the Amazon Bedrock console, where on-demand deployments are managed."""

    name = "Bedrock Custom Model Deployment"
    key = "bedrock_custom_model_deployment"
    format_str = BEDROCK_CONSOLE + "/custom-models"


class BedrockModelImportJobLink(BedrockConsoleLink):
    """The imported models page of the Amazon Bedrock console, which lists the model import jobs."""

    name = "Bedrock Model Import Job"
    key = "bedrock_model_import_job"
    format_str = BEDROCK_CONSOLE + "/imported-models"


class BedrockImportedModelLink(BedrockConsoleLink):
    """The imported models page of the Amazon Bedrock console."""

    name = "Bedrock Imported Model"
    key = "bedrock_imported_model"
    format_str = BEDROCK_CONSOLE + "/imported-models"


class BedrockEvaluationJobLink(BedrockConsoleLink):
    """The model evaluation page of the Amazon Bedrock console, which lists the evaluation jobs."""

    name = "Bedrock Evaluation Jobs"
    key = "bedrock_evaluation_job"
    format_str = BEDROCK_CONSOLE + "/model-evaluation"


#: Every console link class, for provider_info and the tests.
CONSOLE_LINKS: tuple[type[BedrockConsoleLink], ...] = (
    BedrockCustomizationJobLink,
    BedrockCustomModelLink,
    BedrockProvisionedThroughputLink,
    BedrockCustomModelDeploymentLink,
    BedrockModelImportJobLink,
    BedrockImportedModelLink,
    BedrockEvaluationJobLink,
)


def run_results_url(dag_id: str, run_id: str) -> str:
    """The run's page of the provider's UI plugin (relative URL; ids escaped, ``/`` included)."""
    return RUN_RESULTS_PATH.format(
        dag_id=urllib.parse.quote(dag_id, safe=""), run_id=urllib.parse.quote(run_id, safe="")
    )


class BedrockRunResultsLink(BaseOperatorLink):
    """The run's results page in the provider's UI plugin; derived from the task instance, nothing stored."""

    name = "Run results"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return run_results_url(ti_key.dag_id, ti_key.run_id)
