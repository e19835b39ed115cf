"""The one lifecycle of every Bedrock resource this provider creates: re-attaching create, wait, stop on kill.

:class:`BedrockResourceOperator` looks the resource up by the name its
:class:`~bedrock_customization.lifecycle.ResourceIdentity` derives (or the user gave), re-attaches to it when
it is ours, deletes and creates again one that failed (where Bedrock allows), else creates it with the
identity's ``clientRequestToken`` and tags; then waits (:mod:`~bedrock_customization.operators.wait`).
:class:`BedrockJobOperator` is its refinement for Bedrock jobs (customization, model import);
:class:`BedrockDeleteOperator` is the delete that counts "already gone" as done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.common.compat.sdk import AirflowFailException

from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.lifecycle import ResourceIdentity, check_idempotency_key
from bedrock_customization.naming import client_request_token
from bedrock_customization.operators.wait import BedrockWaitOperator
from bedrock_customization.vpc import vpc_config

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Create errors meaning "a resource with this name exists": another try created it meanwhile.
_NAME_TAKEN = ("ConflictException", "ValidationException", "ResourceInUseException")


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (None for anything else)."""
    response = getattr(error, "response", None)
    return (response or {}).get("Error", {}).get("Code") if isinstance(response, Mapping) else None


def s3_client(operator: AwsBaseOperator) -> Any:
    """An S3 client on the operator's connection, region, TLS verification and botocore config (not its hook's
    parameters, which an operator may adjust for its own service: the runtime calls' retries turned off)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(
        aws_conn_id=operator.aws_conn_id,
        region_name=operator.region_name,
        verify=operator.verify,
        config=operator.botocore_config,
    ).get_conn()


class BedrockResourceOperator(BedrockWaitOperator):
    """Create a Bedrock resource, or re-attach to the one an earlier try created; then wait for it.

    Declare ``token_kind`` (what the ``clientRequestToken`` derives from) and implement
    :meth:`resource_name`, :meth:`create` and, where the resource can be stopped or must be checked,
    :meth:`prepare`, :meth:`stop`, :meth:`check_existing`, :meth:`delete` (with ``recreate_failed``) and
    :meth:`before_create`.

    :param idempotency_key: What identifies the resource instead of the run id and map index, up to 256
        characters; runs that render the same key share it. Default none: the task instance. (templated where
        the operator lists it)

    and the four knobs of :class:`BedrockWaitOperator`.
    """

    token_kind: ClassVar[str]
    #: The parameter to change when a resource under the derived name belongs to someone else.
    name_parameter: ClassVar[str] = "name"

    def __init__(self, *, idempotency_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.idempotency_key = idempotency_key
        self._arn: str | None = None

    # ------------------------------------------------------------------------------- declared by operators

    def resource_name(self, identity: ResourceIdentity) -> str:
        """The name the resource is created under and looked up by."""
        raise NotImplementedError

    def create(self, identity: ResourceIdentity, token: str) -> str:
        """Create the resource (name, ``token`` and ``identity.aws_tags(...)``); returns its ARN."""
        raise NotImplementedError

    def prepare(self, identity: ResourceIdentity) -> None:
        """Checks (and request building) that need no AWS; they run before any call (default: none)."""

    def request_token(self, identity: ResourceIdentity) -> str:
        """The ``clientRequestToken`` of the create (default: the identity's token of ``token_kind``)."""
        return identity.token(self.token_kind)

    def before_create(self, identity: ResourceIdentity) -> None:
        """Checks that need AWS but must pass before a create (default: none)."""

    def check_existing(self, resource: Mapping[str, Any], identity: ResourceIdentity) -> None:
        """Refuse to adopt a resource found under our name that is not ours (default: by token or tags)."""
        arn = self.arn(resource)
        if identity.owns(resource.get("clientRequestToken"), None, self.token_kind) or identity.owns(
            None, self.tags_of(arn), self.token_kind
        ):
            return
        by = "with this idempotency key" if identity.idempotency_key else "by this DAG run"
        raise AirflowFailException(
            f"A {self.resource_kind} named {self.resource_name(identity)} already exists ({arn}, status "
            f"{resource.get('status')}) but was not created {by}: neither its clientRequestToken nor its tags "
            f"match {identity.describe_owner()}. Give the task another {self.name_parameter}."
        )

    def delete(self, arn: str) -> None:
        """Delete a failed resource before creating it again (``recreate_failed`` only)."""
        raise NotImplementedError

    def stop(self, arn: str) -> None:
        """Stop the resource when the task is killed (default: nothing to stop)."""

    # --------------------------------------------------------------------------------------------- run

    def identity(self, context: Context) -> ResourceIdentity:
        return ResourceIdentity.from_context(context, check_idempotency_key(self.idempotency_key))

    def tags_of(self, arn: str) -> dict[str, str] | None:
        """The resource's tags, None when it is gone."""
        return self.hook.resource_tags(arn)

    def execute(self, context: Context) -> Any:
        identity = self.identity(context)
        self.prepare(identity)
        name = self.resource_name(identity)
        token = self.request_token(identity)
        resource = self.describe(name)
        if resource is not None and self.recreate_failed and resource.get("status") in self.states["failure"]:
            arn = self.arn(resource)
            self.log.warning("%s Deleting it to create it again.", self.failure_message(resource))
            self.delete(arn)
            token = client_request_token(token, arn)
            resource = None
        if resource is None:
            resource = self._create(identity, name, token)
        else:
            self.check_existing(resource, identity)
            self.log.info(
                "Re-attaching to %s %s (%s), created by %s; status %s.",
                self.resource_kind,
                name,
                self.arn(resource),
                f"a run with idempotency key {identity.idempotency_key}"
                if identity.idempotency_key
                else "an earlier try",
                resource.get("status"),
            )
        self._arn = self.arn(resource)
        self.persist_links(context, resource)
        return self.wait(context, resource)

    def _create(self, identity: ResourceIdentity, name: str, token: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.before_create(identity)
        try:
            arn = self.create(identity, token)
        except ClientError as error:
            if error_code(error) not in _NAME_TAKEN:
                raise
            existing = self.describe(name)  # another try of this task created it between look-up and create
            if existing is None:
                raise
            self.check_existing(existing, identity)
            return existing
        self.log.info("Created %s %s (%s).", self.resource_kind, name, arn)
        created = self.describe(arn)
        if created is None:
            raise BedrockCustomizationError(
                f"{self.resource_kind.capitalize()} {arn} vanished after its create."
            )
        return created

    def on_kill(self) -> None:
        """Stop what this task created or re-attached to."""
        if self._arn:
            self.stop(self._arn)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Resume after the deferral; when it timed out (``execution_timeout``), stop the resource, then fail."""
        from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

        if (
            next_method == TRIGGER_FAIL_REPR
            and (next_kwargs or {}).get("error") == TriggerFailureReason.TRIGGER_TIMEOUT
        ):
            try:
                resource = self.describe(self.resource_name(self.identity(context)))
                if resource is not None:
                    self.log.warning(
                        "The deferred wait for %s %s ran past execution_timeout (%s); stopping it.",
                        self.resource_kind,
                        self.arn(resource),
                        self.execution_timeout,
                    )
                    self.stop(self.arn(resource))
            except Exception:  # the timeout must still fail the task
                self.log.exception("Could not stop the %s after the timeout.", self.resource_kind)
        return super().resume_execution(next_method, next_kwargs, context)


class BedrockJobOperator(BedrockResourceOperator):
    """A Bedrock job (customization, model import): its request is built, every check run, before any AWS call.

    Declare ``name_kind`` (what the job name derives from), ``get_job`` and ``create_job`` (its Get*/Create*
    calls), ``model_tags_key`` and ``model_kms_key`` (the request keys of the output model's tags and KMS key),
    and implement :meth:`build_request` on :meth:`job_request`.

    :param role_arn: Service role Bedrock assumes for the job. (templated where the operator lists it, as
        every parameter here)
    :param job_name: Prefix of the job name; a digest of the task instance is always appended. Default
        ``<dag_id>-<task_id>``.
    :param kms_key_id: KMS key (id, ARN or alias) encrypting the job's output model. Default: AWS owned.
    :param subnet_ids: Subnets of ``vpcConfig`` (1-16); a list or a comma-separated string. Default none: no
        VPC.
    :param security_group_ids: Security groups of ``vpcConfig`` (1-5); required with ``subnet_ids`` and only
        with it.
    :param job_tags: Extra job tags, a mapping or ``[{"key", "value"}]``; the provider's tags win.
    :param model_tags: Extra tags of the output model, as ``job_tags``.
    :param wait_for_completion: Wait for the job to finish. Default True.
    :param waiter_delay: Seconds between status checks. Default: the ``poll_interval`` setting.
    :param waiter_max_attempts: Status checks before giving up the wait (the job keeps running). Default:
        ``job_timeout`` / ``poll_interval``.
    :param deferrable: Wait in the triggerer instead of a worker slot. Default: ``[bedrock_customization]
        deferrable``.
    """

    arn_key = "jobArn"
    timeout_option = "job_timeout"
    name_parameter = "job_name"
    name_kind: ClassVar[str]
    get_job: ClassVar[str]
    create_job: ClassVar[str]
    model_tags_key: ClassVar[str]
    model_kms_key: ClassVar[str]

    def __init__(
        self,
        *,
        role_arn: str,
        job_name: str | None = None,
        kms_key_id: str | None = None,
        subnet_ids: Sequence[str] | str | None = None,
        security_group_ids: Sequence[str] | str | None = None,
        job_tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        model_tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.role_arn = role_arn
        self.job_name = job_name
        self.kms_key_id = kms_key_id
        self.subnet_ids = subnet_ids
        self.security_group_ids = security_group_ids
        self.job_tags = job_tags
        self.model_tags = model_tags
        self._request: dict[str, Any] = {}

    def build_request(self, identity: ResourceIdentity) -> dict[str, Any]:
        """The Create* call's parameters; every check runs here, before any AWS call."""
        raise NotImplementedError

    def job_request(self, identity: ResourceIdentity) -> dict[str, Any]:
        """What every job's request has: name, role, token, tags, ``vpcConfig`` and the model's KMS key."""
        request: dict[str, Any] = {
            "jobName": self.resource_name(identity),
            "roleArn": self.role_arn,
            "clientRequestToken": self.request_token(identity),
            "jobTags": identity.aws_tags(self.job_tags, what="job_tags"),
            self.model_tags_key: identity.aws_tags(self.model_tags, what="model_tags"),
        }
        vpc = vpc_config(self.subnet_ids, self.security_group_ids)
        if vpc:
            request["vpcConfig"] = vpc
        if self.kms_key_id:
            request[self.model_kms_key] = self.kms_key_id
        return request

    def prepare(self, identity: ResourceIdentity) -> None:
        self._request = self.build_request(identity)

    def resource_name(self, identity: ResourceIdentity) -> str:
        return identity.name(self.name_kind, self.job_name)

    def describe(self, identifier: str) -> dict[str, Any] | None:
        return self.hook.describe(self.get_job, jobIdentifier=identifier)

    def create(self, identity: ResourceIdentity, token: str) -> str:
        request = {**self._request, "clientRequestToken": token}
        return getattr(self.hook.conn, self.create_job)(**request)["jobArn"]


class BedrockDeleteOperator(AwsBaseOperator[BedrockCustomizationHook]):
    """Delete one Bedrock resource; one that is already gone counts as deleted.

    Declare ``resource_kind`` and ``id_parameter`` (the templated parameter naming the resource) and
    implement :meth:`delete`. Returns True when this call deleted the resource, False when there was nothing
    to delete.
    """

    aws_hook_class = BedrockCustomizationHook
    resource_kind: ClassVar[str]
    id_parameter: ClassVar[str]

    def delete(self, identifier: str) -> bool:
        """Delete the resource: True if deleted, False if it was already gone."""
        raise NotImplementedError

    def execute(self, context: Context) -> bool:
        identifier = getattr(self, self.id_parameter)
        if not identifier:
            self.log.info(
                "No %s given (%s is empty); nothing to delete.", self.resource_kind, self.id_parameter
            )
            return False
        if not self.delete(identifier):
            self.log.info("%s %s is already gone.", self.resource_kind.capitalize(), identifier)
            return False
        self.log.info("Deleted %s %s.", self.resource_kind, identifier)
        return True
