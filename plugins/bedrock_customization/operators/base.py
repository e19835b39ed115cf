"""The one lifecycle of every Bedrock resource this provider creates: re-attaching create, wait, stop on kill.

:class:`BedrockWaitMixin` is the wait: ``defer`` to the resource's trigger, or poll its waiter, or return at
once, as the four knobs of the Amazon provider's operators say (``wait_for_completion``, ``waiter_delay``,
``waiter_max_attempts``, ``deferrable``, the last defaulting to the one setting ``[bedrock_customization]
deferrable``; :class:`BedrockWaitOperator` takes them); the resource's own status decides the outcome.

:class:`BedrockResourceOperator` is the create: look the resource up by the name its
:class:`~bedrock_customization.lifecycle.ResourceIdentity` derives (or the user gave), re-attach to it when it
is ours, delete and create again one that failed (where Bedrock allows), else create it with the identity's
``clientRequestToken`` and tags; then wait. ``on_kill`` and a deferral that ran past ``execution_timeout``
stop what the task created. A concrete operator declares its describe/create/stop calls and its trigger
(which declares the waiter, whose acceptors are the states), nothing else.

:class:`ProvisionedThroughputWait` declares the wait for a provisioned throughput, which the throughput create
and update and the promotion share; :class:`BedrockDeleteOperator` is the delete that counts "already gone"
as done.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from bedrock_customization import settings
from bedrock_customization.exceptions import BedrockCustomizationError, ResourceFailedError
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook, waiter_states
from bedrock_customization.lifecycle import ResourceIdentity, check_idempotency_key
from bedrock_customization.links.bedrock import BedrockProvisionedThroughputLink
from bedrock_customization.naming import client_request_token
from bedrock_customization.triggers.bedrock import BedrockProvisionedThroughputInServiceTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Create errors meaning "a resource with this name exists": another try created it meanwhile.
_NAME_TAKEN = ("ConflictException", "ValidationException", "ResourceInUseException")


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (None for anything else)."""
    response = getattr(error, "response", None)
    return (response or {}).get("Error", {}).get("Code") if isinstance(response, Mapping) else None


def deferral_timeout(context: Context, execution_timeout: timedelta | None) -> timedelta | None:
    """What is left of ``execution_timeout`` for a deferred wait; None without one.

    Airflow 3.3 applies ``execution_timeout`` to ``execute`` only, not to the time a task spends deferred
    (the deferral's own ``timeout`` bounds that), so an operator passes this as ``defer(timeout=...)``.
    """
    if execution_timeout is None:
        return None
    started = getattr(context.get("ti"), "start_date", None)
    if not isinstance(started, datetime):
        return execution_timeout
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return max(execution_timeout - (datetime.now(UTC) - started), timedelta(0))


class BedrockWaitMixin:
    """Wait for a Bedrock resource to settle: deferred, polled from the worker, or not at all.

    Declare ``resource_kind`` (for messages), ``arn_key`` (its ARN in the describe response), the trigger
    (``trigger_class``, which declares the waiter: ``waiter_name``, ``waiter_arg`` and ``return_key``, its
    parameter and event key) and ``timeout_option`` (the setting bounding the wait), and implement
    :meth:`describe`. The waiter's acceptors in ``waiters/bedrock.json`` are the states: success, failure and
    retry (pending).
    """

    resource_kind: ClassVar[str]
    arn_key: ClassVar[str]
    trigger_class: ClassVar[Any]
    status_args: ClassVar[tuple[str, ...]] = ("status", "failureMessage")
    timeout_option: ClassVar[str] = "throughput_timeout"
    #: A failed resource is deleted and created again by a retry (throughputs, deployments): its failure may
    #: be retried. Jobs Bedrock cannot restart fail the task for good.
    recreate_failed: ClassVar[bool] = False

    wait_for_completion: bool
    waiter_delay: int
    waiter_max_attempts: int
    deferrable: bool

    # ------------------------------------------------------------------------------- declared by operators

    def describe(self, identifier: str) -> dict[str, Any] | None:
        """The resource's Get* response, or None when there is none."""
        raise NotImplementedError

    def failure_message(self, resource: Mapping[str, Any]) -> str:
        """A user-facing sentence for a resource in a failure state."""
        reason = resource.get("failureMessage") or "Bedrock gave no failureMessage"
        again = " A retry of this task deletes it and creates it again." if self.recreate_failed else ""
        return (
            f"{self.resource_kind.capitalize()} {self.arn(resource)} ended {resource.get('status')}: "
            f"{reason}.{again}"
        )

    def result(self, resource: Mapping[str, Any]) -> Any:
        """What the task returns (default: the ARN)."""
        return self.arn(resource)

    def persist_links(self, context: Context, resource: Mapping[str, Any]) -> None:
        """Store the task's extra links to the resource (default: none)."""

    # ----------------------------------------------------------------------------------------- the wait

    @property
    def states(self) -> Mapping[str, frozenset[str]]:
        """The resource's ``status`` values by its waiter's acceptor state: success, failure, retry."""
        return waiter_states(self.trigger_class.waiter_name)

    def arn(self, resource: Mapping[str, Any]) -> str:
        return resource[self.arn_key]

    def wait(
        self,
        context: Context,
        resource: Mapping[str, Any],
        method_name: str = "execute_complete",
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Wait for ``resource`` as the knobs say; returns :meth:`finish`'s value (or the result unwaited).

        Deferred, the task resumes in ``method_name`` (with ``kwargs`` besides the event).
        """
        if resource.get("status") not in self.states["retry"]:
            return self.finish(resource)
        arn = self.arn(resource)
        if self.deferrable:
            self.log.info("Deferring until %s %s settles.", self.resource_kind, arn)  # type: ignore[attr-defined]
            self.defer(  # type: ignore[attr-defined]
                trigger=self.trigger(arn),
                method_name=method_name,
                kwargs=kwargs,
                timeout=deferral_timeout(context, self.execution_timeout),  # type: ignore[attr-defined]
            )
        if not self.wait_for_completion:
            return self.result(resource)
        self.poll(arn)
        resource = self.described(arn)
        self.persist_links(context, resource)
        return self.finish(resource)

    def settle(self, arn: str) -> Any:
        """Wait from the worker, whatever the knobs say; :meth:`finish`'s value (raises unless it succeeded).

        For a resource that must settle before the next call (e.g. a throughput busy with another update).
        """
        self.poll(arn)
        return self.finish(self.described(arn))

    def described(self, arn: str) -> dict[str, Any]:
        """:meth:`describe`, failing the task when the resource is gone."""
        resource = self.describe(arn)
        if resource is None:
            raise AirflowFailException(
                f"{self.resource_kind.capitalize()} {arn} is gone (deleted meanwhile)."
            )
        return resource

    def poll(self, arn: str) -> None:
        """Poll the waiter from the worker until the resource settles or the attempts run out."""
        from airflow.providers.amazon.aws.exceptions import WaiterMaxAttemptsError, WaiterTerminalFailure
        from airflow.providers.amazon.aws.utils.waiter_with_logging import wait

        try:
            wait(
                waiter=self.hook.get_waiter(self.trigger_class.waiter_name),  # type: ignore[attr-defined]
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                args={self.trigger_class.waiter_arg: arn},
                failure_message=f"{self.resource_kind} {arn} failed",
                status_message=f"Status of {self.resource_kind} {arn} is",
                status_args=list(self.status_args),
            )
        except (WaiterTerminalFailure, WaiterMaxAttemptsError) as error:
            self.log.info("Waiter stopped: %s", error)  # type: ignore[attr-defined]

    def trigger(self, arn: str) -> Any:
        """The trigger that waits for the resource in the triggerer."""
        return self.trigger_class(
            **{self.trigger_class.return_key: arn},
            waiter_delay=self.waiter_delay,
            waiter_max_attempts=self.waiter_max_attempts,
            aws_conn_id=self.aws_conn_id,  # type: ignore[attr-defined]
            region_name=self.region_name,  # type: ignore[attr-defined]
            verify=self.verify,  # type: ignore[attr-defined]
            botocore_config=self.botocore_config,  # type: ignore[attr-defined]
        )

    def finish(self, resource: Mapping[str, Any]) -> Any:
        """The result of a settled resource; raises for a failed one or one still pending."""
        status = resource.get("status")
        if status in self.states["success"]:
            self.log.info("%s %s is %s.", self.resource_kind.capitalize(), self.arn(resource), status)  # type: ignore[attr-defined]
            return self.result(resource)
        if status in self.states["failure"]:
            message = self.failure_message(resource)
            raise ResourceFailedError(message) if self.recreate_failed else AirflowFailException(message)
        raise AirflowException(
            f"{self.resource_kind.capitalize()} {self.arn(resource)} is still {status} after "
            f"{self.waiter_max_attempts} status checks {self.waiter_delay} s apart; it goes on in Bedrock. A "
            f"retry of this task re-attaches to it; raise [bedrock_customization] {self.timeout_option} to "
            "wait longer."
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger: the resource's own status decides (the event carries no reason)."""
        key = self.trigger_class.return_key
        if not event or key not in event:
            raise BedrockCustomizationError(f"Unexpected trigger event for a {self.resource_kind}: {event!r}")
        if event.get("status") != "success":
            self.log.info("Trigger reported: %s", event.get("message", event))  # type: ignore[attr-defined]
        resource = self.described(event[key])
        self.persist_links(context, resource)
        return self.finish(resource)


class BedrockWaitOperator(BedrockWaitMixin, AwsBaseOperator[BedrockCustomizationHook]):
    """An operator of ours that waits for a Bedrock resource, with the four knobs of the Amazon provider.

    :param wait_for_completion: Wait until the resource settles. (default: True)
    :param waiter_delay: Seconds between status checks. (default: the ``poll_interval`` setting)
    :param waiter_max_attempts: Status checks before the wait gives up (the resource goes on). (default: the
        operator's timeout setting / ``poll_interval``)
    :param deferrable: Wait in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    aws_hook_class = BedrockCustomizationHook

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay if waiter_delay is not None else settings.poll_interval()
        self.waiter_max_attempts = (
            waiter_max_attempts
            if waiter_max_attempts is not None
            else settings.max_attempts(self.timeout_option)
        )
        self.deferrable = settings.deferrable() if deferrable is None else bool(deferrable)


class ProvisionedThroughputWait(BedrockWaitMixin):
    """The wait for a provisioned throughput to be InService (after Creating or an in-place Updating)."""

    resource_kind = "provisioned throughput"
    arn_key = "provisionedModelArn"
    trigger_class = BedrockProvisionedThroughputInServiceTrigger

    def describe(self, identifier: str) -> dict[str, Any] | None:
        return self.hook.get_throughput(identifier)  # type: ignore[attr-defined]

    def persist_links(self, context: Context, resource: Mapping[str, Any]) -> None:
        BedrockProvisionedThroughputLink.persist_arn(context, self, self.arn(resource))  # type: ignore[arg-type]


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
