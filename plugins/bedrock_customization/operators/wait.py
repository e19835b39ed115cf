"""The wait every Bedrock resource operator shares: deferred, polled from the worker, or not at all.

:class:`BedrockWaitMixin` waits as the four knobs of the Amazon provider's operators say
(``wait_for_completion``, ``waiter_delay``, ``waiter_max_attempts``, ``deferrable``, the last defaulting to
the one setting ``[bedrock_customization] deferrable``); the resource's own status decides the outcome.
:class:`BedrockWaitOperator` takes the knobs; :class:`ProvisionedThroughputWait` declares the wait for a
provisioned throughput, which the throughput create and update and the promotion share. The re-attaching
create on top of it is :class:`~bedrock_customization.operators.base.BedrockResourceOperator`.
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
from bedrock_customization.links.bedrock import BedrockProvisionedThroughputLink
from bedrock_customization.triggers.bedrock import BedrockProvisionedThroughputInServiceTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


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
