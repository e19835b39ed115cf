"""The one lifecycle of our Bedrock resources: ``lifecycle.ResourceIdentity`` (names, tokens, tags, ownership)
and ``operators/base.py`` (re-attaching create, wait, stop), the latter on an in-memory resource service."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bedrock_customization import tagging
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.lifecycle import MAX_TAGS, ResourceIdentity, check_idempotency_key

RUN = "scheduled__2026-03-01T00:00:00+00:00"
NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*")


# ------------------------------------------------------------------------------------------ ResourceIdentity


def test_names_are_stable_valid_and_at_most_63_characters():
    identity = ResourceIdentity("bedrock_retraining", RUN, "training.customize_model", 3)
    again = ResourceIdentity("bedrock_retraining", RUN, "training.customize_model", 3)
    names = [identity.name("job"), identity.name("model"), identity.name("job", "x" * 200)]
    assert names[:2] == [again.name("job"), again.name("model")]
    assert names[0] != names[1]  # the kind is part of the digest
    assert names[0].startswith("bedrock-retraining-training-customize-model-")
    for name in names:
        assert len(name) <= 63 and NAME.fullmatch(name), name
    others = [
        ResourceIdentity("bedrock_retraining", RUN, "training.customize_model", 4),
        ResourceIdentity("bedrock_retraining", "manual__2", "training.customize_model", 3),
        ResourceIdentity("other_dag", RUN, "training.customize_model", 3),
    ]
    assert len({names[0], *(other.name("job") for other in others)}) == 4


def test_the_token_differs_by_kind_and_is_stable():
    identity = ResourceIdentity("dag", RUN, "task")
    assert identity.token("throughput") == ResourceIdentity("dag", RUN, "task").token("throughput")
    assert identity.token("throughput") != identity.token("deployment")
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", identity.token("model-customization-job"))


def test_an_idempotency_key_replaces_run_id_and_map_index_but_the_tags_keep_the_run():
    first = ResourceIdentity("sweep", "scheduled__1", "customize", 0, "sweep/2026-01-02/abc")
    rerun = ResourceIdentity("sweep", "backfill__2", "customize", 5, "sweep/2026-01-02/abc")
    plain = ResourceIdentity("sweep", "scheduled__1", "customize", 0)
    assert (first.name("job"), first.token("job")) == (rerun.name("job"), rerun.token("job"))
    assert first.name("job") != plain.name("job") and first.token("job") != plain.token("job")
    assert first.tags()[tagging.RUN_ID] == "scheduled__1"
    assert first.tags()[tagging.IDEMPOTENCY_KEY] == "sweep/2026-01-02/abc"
    assert tagging.IDEMPOTENCY_KEY not in plain.tags()


def test_tags_merge_once_ours_win_and_the_limit_names_the_parameter():
    identity = ResourceIdentity("dag", "run~1", "task")
    merged = tagging.from_aws(
        identity.aws_tags(
            {"team": "ml", tagging.RUN_ID: "spoofed"}, [{"key": "stage", "value": "a"}], role="x"
        )
    )
    assert merged == {
        "team": "ml",
        "stage": "a",
        tagging.MANAGED_BY: "airflow",
        tagging.DAG_ID: "dag",
        tagging.RUN_ID: "run_1",  # "~" is not allowed in Bedrock tag values
        tagging.TASK_ID: "task",
        tagging.ROLE: "x",
    }
    ours = len(identity.tags())
    identity.aws_tags({f"k{i}": "v" for i in range(MAX_TAGS - ours)}, what="job_tags")  # exactly 200
    with pytest.raises(
        BedrockCustomizationError, match=rf"^model_tags: 201 tags including the provider's {ours}"
    ):
        identity.aws_tags({f"k{i}": "v" for i in range(MAX_TAGS - ours + 1)}, what="model_tags")
    with pytest.raises(BedrockCustomizationError, match=r"^job_tags: expected a mapping or a list"):
        identity.aws_tags(["team=ml"], what="job_tags")


def test_owns_by_token_by_tags_or_by_idempotency_key_across_runs():
    identity = ResourceIdentity("dag", RUN, "task")
    assert identity.owns(identity.token("job"), None, "job")
    assert not identity.owns(identity.token("job"), None, "model")  # another kind's token
    assert identity.owns("lost", identity.tags(), "job")
    assert not identity.owns("lost", {**identity.tags(), tagging.RUN_ID: "manual__2"}, "job")
    assert not identity.owns("lost", {**identity.tags(), tagging.TASK_ID: "other"}, "job")
    assert not identity.owns(None, None, "job")

    keyed = ResourceIdentity("dag", "manual__1", "task", idempotency_key="k1")
    other_run = ResourceIdentity("dag", "backfill__9", "task", 2, idempotency_key="k1")
    assert other_run.owns("lost", keyed.tags(), "job")  # same key, whatever run created it
    assert not ResourceIdentity("dag", "manual__1", "task", idempotency_key="k2").owns(
        "lost", keyed.tags(), "job"
    )
    assert not other_run.owns("lost", identity.tags(), "job")  # a resource made without a key
    assert "idempotency_key=k1" in keyed.describe_owner() and RUN in identity.describe_owner()


def test_idempotency_key_is_stripped_and_bounded():
    assert check_idempotency_key("  ") is None and check_idempotency_key(None) is None
    assert check_idempotency_key(" k ") == "k"
    with pytest.raises(BedrockCustomizationError, match="at most 256"):
        check_idempotency_key("k" * 257)


def test_from_context_reads_the_task_instance():
    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=None)
    assert ResourceIdentity.from_context({"ti": ti}, " key ") == ResourceIdentity("d", "r", "t", -1, "key")


# ------------------------------------------------------------------------------------------ the base operator


class Gone(Exception):
    pass


def client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": code}}, "CreateThing")


class Service:
    """An in-memory Bedrock-like resource API: things by name and ARN, with tokens, tags and statuses."""

    def __init__(self) -> None:
        self.things: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []
        self.status_after_create = "Creating"
        self.lose_race = False

    def find(self, identifier: str) -> dict[str, Any] | None:
        for thing in self.things.values():
            if identifier in (thing["name"], thing["arn"]):
                return dict(thing)
        return None

    def add(self, name: str, token: str | None, tags: dict[str, str], status: str) -> str:
        arn = f"arn:aws:bedrock:us-east-1:123456789012:thing/{name}-{len(self.things)}"
        self.things[arn] = {"name": name, "arn": arn, "clientRequestToken": token, "status": status}
        self.tags[arn] = tags
        return arn

    def create(self, name: str, token: str, tags: list[dict[str, str]]) -> str:
        self.calls.append("create")
        if self.lose_race:  # another try created it between our look-up and our create
            self.add(name, token, tagging.from_aws(tags), "Creating")
            raise client_error("ConflictException")
        return self.add(name, token, tagging.from_aws(tags), self.status_after_create)

    def hook(self) -> Any:
        return SimpleNamespace(
            resource_tags=lambda arn: self.tags.get(arn) if arn in self.things else None,
            conn_region_name="us-east-1",
            conn_partition="aws",
        )


@pytest.fixture
def service() -> Service:
    return Service()


def thing_operator(service: Service, **kwargs: Any) -> Any:
    from bedrock_customization.operators.base import BedrockResourceOperator

    class Trigger:
        waiter_name, waiter_arg, return_key = "thing_ready", "thingId", "thing_id"

        def __init__(self, **params: Any) -> None:
            self.params = params

    class CreateThingOperator(BedrockResourceOperator):
        resource_kind = "thing"
        arn_key = "arn"
        trigger_class = Trigger
        states = {"success": {"Ready"}, "failure": {"Failed"}, "retry": {"Creating"}}  # no waiter of ours
        token_kind = "thing"
        recreate_failed = kwargs.pop("recreate_failed", False)

        def prepare(self, identity):
            service.calls.append("prepare")

        def resource_name(self, identity):
            return identity.name("thing")

        def describe(self, identifier):
            return service.find(identifier)

        def create(self, identity, token):
            return service.create(self.resource_name(identity), token, identity.aws_tags())

        def delete(self, arn):
            service.calls.append("delete")
            del service.things[arn]

        def stop(self, arn):
            service.calls.append(f"stop {arn}")

        def poll(self, arn):  # the waiter: the thing becomes Ready
            service.things[arn]["status"] = "Ready"

    op = CreateThingOperator(task_id="make_thing", **{"deferrable": False, "waiter_delay": 1, **kwargs})
    op.__dict__["hook"] = service.hook()  # the operator's hook is a cached property
    return op


def context(run_id: str = RUN, map_index: int = -1, started: datetime | None = None) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="dag", run_id=run_id, task_id="make_thing", map_index=map_index)
    ti.start_date = started
    return {"ti": ti}


def test_create_waits_and_a_retry_re_attaches_instead_of_creating_a_twin(service):
    arn = thing_operator(service).execute(context())
    assert service.things[arn]["status"] == "Ready"
    assert service.things[arn]["clientRequestToken"] == ResourceIdentity("dag", RUN, "make_thing").token(
        "thing"
    )
    assert tagging.same_run(service.tags[arn], "dag", RUN)
    assert thing_operator(service).execute(context()) == arn  # the retry
    assert service.calls == ["prepare", "create", "prepare"]
    # Another run, or another map index, is another resource.
    assert thing_operator(service).execute(context(map_index=0)) != arn


def test_a_create_that_loses_the_race_adopts_what_the_other_try_created(service):
    service.lose_race = True
    arn = thing_operator(service).execute(context())
    assert list(service.things) == [arn] and service.things[arn]["status"] == "Ready"


def test_a_resource_of_someone_else_under_our_name_is_not_adopted(service):
    from airflow.providers.common.compat.sdk import AirflowFailException

    name = ResourceIdentity("dag", RUN, "make_thing").name("thing")
    service.add(name, "someone-else", {"team": "theirs"}, "Ready")
    with pytest.raises(
        AirflowFailException, match=r"not created by this DAG run: .* run_id=" + re.escape(RUN)
    ):
        thing_operator(service).execute(context())
    # Adopted by tags alone (a token the describe call does not show).
    service.tags[next(iter(service.things))] = ResourceIdentity("dag", RUN, "make_thing").tags()
    assert thing_operator(service).execute(context()) == next(iter(service.things))


def test_a_failed_resource_fails_for_good_or_is_recreated_with_a_new_token(service):
    from airflow.providers.common.compat.sdk import AirflowFailException

    from bedrock_customization.exceptions import ResourceFailedError

    service.status_after_create = "Failed"
    with pytest.raises(AirflowFailException, match="ended Failed"):
        thing_operator(service).execute(context())
    with pytest.raises(ResourceFailedError, match="A retry of this task deletes it"):
        thing_operator(service, recreate_failed=True).execute(context(run_id="manual__2"))
    failed = service.find(ResourceIdentity("dag", "manual__2", "make_thing").name("thing"))
    service.status_after_create = "Creating"
    arn = thing_operator(service, recreate_failed=True).execute(context(run_id="manual__2"))
    assert "delete" in service.calls and service.things[arn]["status"] == "Ready"
    token = ResourceIdentity("dag", "manual__2", "make_thing").token("thing")
    assert service.things[arn]["clientRequestToken"] not in (token, failed["clientRequestToken"])


def test_no_wait_returns_at_once_and_a_deferral_gets_what_is_left_of_execution_timeout(service):
    from airflow.providers.common.compat.sdk import TaskDeferred

    arn = thing_operator(service, wait_for_completion=False).execute(context())
    assert service.things[arn]["status"] == "Creating"

    started = datetime.now(UTC) - timedelta(minutes=30)
    op = thing_operator(service, deferrable=True, execution_timeout=timedelta(hours=1))
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(started=started))
    assert deferred.value.trigger.params["thing_id"] == arn
    assert deferred.value.method_name == "execute_complete"
    assert timedelta(minutes=29) < deferred.value.timeout <= timedelta(minutes=30)
    service.things[arn]["status"] = "Ready"
    assert op.execute_complete(context(), {"status": "success", "thing_id": arn}) == arn
    with pytest.raises(BedrockCustomizationError, match="Unexpected trigger event"):
        op.execute_complete(context(), {"status": "success"})


def test_on_kill_and_a_deferral_timeout_stop_the_resource_a_trigger_failure_does_not(service):
    from airflow.sdk.exceptions import TaskDeferralError, TaskDeferralTimeout

    thing_operator(service).on_kill()  # nothing created yet: nothing to stop
    op = thing_operator(service, wait_for_completion=False)
    arn = op.execute(context())
    op.on_kill()
    assert service.calls[-1] == f"stop {arn}"

    resumed = thing_operator(service)  # a fresh instance, as the worker that resumes has
    with pytest.raises(TaskDeferralError):
        resumed.resume_execution("__fail__", {"error": "Trigger failure"}, context())
    assert service.calls.count(f"stop {arn}") == 1
    with pytest.raises(TaskDeferralTimeout):
        resumed.resume_execution("__fail__", {"error": "Trigger timeout"}, context())
    assert service.calls.count(f"stop {arn}") == 2


def test_deferrable_defaults_to_the_one_setting(service, monkeypatch):
    monkeypatch.setenv("AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE", "False")
    assert thing_operator(service, deferrable=None).deferrable is False
    monkeypatch.setenv("AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE", "True")
    assert thing_operator(service, deferrable=None).deferrable is True
    assert thing_operator(service, deferrable=False).deferrable is False


def test_every_operator_and_sensor_of_ours_defaults_deferrable_to_the_setting():
    import inspect

    from bedrock_customization.operators.wait import BedrockWaitMixin
    from bedrock_customization.sensors import bedrock as sensors
    from tests.test_links import _operator_classes

    waiting = [cls for cls in _operator_classes() if issubclass(cls, BedrockWaitMixin)]
    assert len(waiting) >= 6, waiting
    sensor_classes = [
        cls for cls in vars(sensors).values() if isinstance(cls, type) and cls.__module__ == sensors.__name__
    ]
    assert len(sensor_classes) == 4
    for cls in [*waiting, *sensor_classes]:
        defaults = [
            parameter.default
            for klass in cls.__mro__
            if "__init__" in vars(klass)
            for name, parameter in inspect.signature(vars(klass)["__init__"]).parameters.items()
            if name == "deferrable"
        ]
        assert defaults and defaults[0] is None, cls


def test_each_waiting_operator_waits_on_a_waiter_of_ours_that_its_trigger_declares():
    """The trigger declares the waiter (name, identifier argument, event key); the waiter's acceptors are the
    operator's success, failure and pending states; the customization job's waiter is the Amazon provider's
    (its trigger, the Amazon one, polls that one in the triggerer)."""
    from pathlib import Path

    from airflow.providers.amazon.aws import waiters as amazon_waiters

    from bedrock_customization.hooks.bedrock import WAITERS_FILE, waiter_states
    from tests.test_links import _operator_classes

    ours = json.loads(WAITERS_FILE.read_text())["waiters"]
    names = set()
    for cls in _operator_classes():
        trigger_class = getattr(cls, "trigger_class", None)
        if trigger_class is None:
            continue  # the bases declare no resource
        trigger = trigger_class(**{trigger_class.return_key: "arn:x"})
        assert trigger.waiter_name == trigger_class.waiter_name in ours, cls
        assert trigger.waiter_args == {trigger_class.waiter_arg: "arn:x"}, cls
        assert trigger.serialize()[1][trigger_class.return_key] == "arn:x"
        assert all(waiter_states(trigger_class.waiter_name).values()), (
            cls
        )  # success, failure and retry states
        names.add(trigger_class.waiter_name)
    assert {
        "model_customization_job_complete",
        "model_import_job_complete",
        "provisioned_model_throughput_in_service",
        "custom_model_deployment_active",
    } <= names
    amazon = json.loads((Path(amazon_waiters.__path__[0]) / "bedrock.json").read_text())["waiters"]
    key = "model_customization_job_complete"
    assert sorted(map(str, amazon[key]["acceptors"])) == sorted(map(str, ours[key]["acceptors"]))
