"""The model registry and the promotion decision: pure functions, plus S3 read/write of the registry object.

The registry is one JSON object per registry name, ``s3://<bucket>/registry/<name>.json``, recording what
serves traffic now (the *champion*)::

    {
      "schema": 2,
      "name": "qa-assistant",
      "version": 3,                                  # +1 per promotion
      "serving_arn": "arn:aws:bedrock:…:provisioned-model/…"       # what to invoke: a provisioned
                   | "arn:aws:bedrock:…:custom-model-deployment/…",  # throughput or an on-demand deployment
      "serving_kind": "provisioned" | "on_demand",   # serving_kind_of(serving_arn)
      "serving_model_arn": "arn:aws:bedrock:…:custom-model/…",
      "base_model_id": "amazon.nova-micro-v1:0:128k",
      "promoted_at": "2026-03-01T12:00:00+00:00",
      "dag_id": "bedrock_retraining",
      "run_id": "manual__2026-03-01T00:00:00+00:00",
      "figures": {"metric": "chrf", "baseline": {...}, "candidate": {...}},
      "previous": {… the same keys of the champion this one replaced, without "previous" …} | null
    }

Schema 1 named the serving resource ``serving_throughput_arn`` (always a throughput); :func:`load_registry`
reads such a record as ``serving_arn`` of kind ``provisioned`` (:func:`upgraded`), so nothing else reads the
old key, and the next promotion writes schema 2.

A champion is served by a provisioned throughput or by an on-demand custom model deployment
(CreateCustomModelDeployment). A promotion either **updates in place** (only a live provisioned throughput
of the same base model, and only when the candidate was evaluated on a throughput or on nothing) or makes
**the candidate's evaluation resource the serving one** (``evaluation_became_serving``: a throughput or a
deployment) and deletes the replaced champion's serving resource. So an on-demand champion is *replaced* by
the candidate's deployment, and a provisioned champion replaced by an on-demand candidate loses its
throughput (it stops being billed by the hour). UpdateCustomModelDeployment could point a deployment at
another model in place; it is not used: replacing keeps the commit point one conditional registry write,
with no intent to roll back, and consumers read the new ARN from the registry or the asset event.

An in-place promotion (the serving throughput switched to the candidate) is a small state machine, so that
registry and serving resource never disagree for good::

    recorded  -- the registry gains ``"pending": {throughput, from_model, to_model, dag_id, run_id, started_at}``
    applied   -- the throughput is switched to ``to_model`` and InService
    committed -- the registry names ``to_model``; ``pending`` is gone (one conditional write)

A failure after *recorded* and before *committed* rolls back (the throughput back to ``from_model``, the
intent removed) and the task fails saying so. If even the roll-back fails, or the worker dies, the intent
stays in the registry: the same task's retry carries on from it, and any later promotion, baseline choice or
the janitor rolls an abandoned intent back before doing anything else (:func:`intent_abandoned`).

``plan_promotion`` turns a decision and the registry into ordered steps that ``BedrockPromoteModelOperator``
carries out; ``read_champion`` picks the baseline an evaluation compares against. Writes are conditional
(``IfMatch`` on the ETag read, ``IfNoneMatch: "*"`` for the first write), so two promotions racing on the
same registry cannot both win: the loser gets ``RegistryConflictError`` and its retry re-plans from the
new registry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bedrock_customization import artifacts, protection
from bedrock_customization.exceptions import BedrockCustomizationError, RegistryConflictError

SCHEMA = 2
REGISTRY_PREFIX = "registry/"
#: What an evaluation decides (``evaluation.significance``); ``inconclusive`` keeps the champion and handles the
#: candidate like a rejected one (its model is tagged ``decision=reject``).
DECISIONS = ("promote", "reject", "inconclusive")
RETENTIONS = ("delete", "keep")
#: How a champion is served: a provisioned throughput, or an on-demand custom model deployment.
PROVISIONED, ON_DEMAND = "provisioned", "on_demand"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_RECORD_KEYS = (
    "version",
    "serving_arn",
    "serving_kind",
    "serving_model_arn",
    "base_model_id",
    "promoted_at",
    "dag_id",
    "run_id",
    "figures",
)


def is_valid_name(name: object) -> bool:
    """Whether ``name`` can name a registry (see :func:`check_name`)."""
    return isinstance(name, str) and bool(_NAME.match(name))


def check_name(name: str) -> str:
    """A registry name: 1-128 of ``[A-Za-z0-9._-]``, starting alphanumeric."""
    if not is_valid_name(name):
        raise BedrockCustomizationError(
            f"Invalid registry name {name!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it becomes the S3 key registry/<name>.json and the asset bedrock://registry/<name>)."
        )
    return name


def registry_key(name: str) -> str:
    """S3 key of the registry object: ``registry/<name>.json``."""
    return f"{REGISTRY_PREFIX}{check_name(name)}.json"


def registry_uri(bucket: str, name: str) -> str:
    """``s3://<bucket>/registry/<name>.json``."""
    return artifacts.s3_uri(bucket, registry_key(name))


def asset_uri(name: str) -> str:
    """URI of the Airflow Asset updated by each promotion: ``bedrock://registry/<name>``."""
    return f"bedrock://registry/{check_name(name)}"


def serving_kind_of(arn: str | None) -> str:
    """How ``arn`` serves: ``on_demand`` for a custom model deployment ARN, else ``provisioned``."""
    return ON_DEMAND if ":custom-model-deployment/" in str(arn or "") else PROVISIONED


_LEGACY_SERVING_KEY = "serving_throughput_arn"


def _upgraded_record(record: Mapping[str, Any]) -> dict[str, Any]:
    record = dict(record)
    legacy = record.pop(_LEGACY_SERVING_KEY, None)
    if legacy and not record.get("serving_arn"):
        record["serving_arn"], record["serving_kind"] = legacy, PROVISIONED  # schema 1 had only throughputs
    return record


def upgraded(registry: Mapping[str, Any]) -> dict[str, Any]:
    """A registry object with a schema-1 champion (``serving_throughput_arn``, in it or in ``previous``) read
    as ``serving_arn`` and ``serving_kind`` (``provisioned``), and ``schema`` 2; a schema-2 object is returned
    as it is."""
    record = _upgraded_record(registry)
    if _LEGACY_SERVING_KEY in registry:
        record["schema"] = SCHEMA
    if isinstance(record.get("previous"), Mapping):
        record["previous"] = _upgraded_record(record["previous"])
    return record


#: Kept until ``dags/bedrock_hparam_sweep.py`` uses :func:`.protection.protected_arns`, where the rule is.
serving_arns = protection.serving_arns


def read_champion(registry: Mapping[str, Any] | None, base_inference_id: str) -> dict[str, Any]:
    """
    The model an evaluation must beat: the registry's serving resource if it has one, else the base model.

    Returns ``{"model_id": <id to invoke>, "source": "registry" | "base", "serving_kind": ..., "model_arn": ...,
    "base_model_id": ..., "version": ...}``; ``model_id`` goes straight to InvokeModel/Converse (a
    provisioned throughput ARN, or a custom model deployment ARN, which is invoked directly as well).
    ``serving_kind`` is ``provisioned``, ``on_demand`` or None (the base model).
    """
    if registry and registry.get("serving_arn"):
        return {
            "model_id": registry["serving_arn"],
            "source": "registry",
            "serving_kind": registry.get("serving_kind") or serving_kind_of(registry["serving_arn"]),
            "model_arn": registry.get("serving_model_arn"),
            "base_model_id": registry.get("base_model_id"),
            "version": registry.get("version"),
        }
    return {
        "model_id": base_inference_id,
        "source": "base",
        "serving_kind": None,
        "model_arn": None,
        "base_model_id": None,
        "version": registry.get("version") if registry else None,
    }


def choose_baseline(
    registry: Mapping[str, Any] | None, base_model_id: str, base_inference_id: str
) -> dict[str, Any]:
    """
    The model a candidate of ``base_model_id`` must beat: the registry's champion when it shares that base
    model, else the base model itself. ``registry_version`` is the registry version this choice was made on
    (None: no registry yet); the promotion checks it is still current (:func:`champion_changed`).
    """
    champion = read_champion(registry, base_inference_id)
    if champion["source"] == "registry" and champion["base_model_id"] != base_model_id:
        champion = {
            **read_champion(None, base_inference_id),
            "other_base_model_id": champion["base_model_id"],
        }
    return {**champion, "registry_version": (registry or {}).get("version")}


def champion_changed(
    registry: Mapping[str, Any] | None, baseline_version: int | None, candidate_model_arn: str
) -> str | None:
    """
    Why promoting ``candidate_model_arn`` would be blind, or None when it would not.

    The candidate was compared with the champion of registry version ``baseline_version``. If another run
    promoted a model since, the candidate was never compared with what serves now, and promoting it could
    replace a better model. A registry that already names the candidate (a retry after this promotion's own
    write) is not a change.
    """
    registry = registry or {}
    version = registry.get("version")
    if version == baseline_version or registry.get("serving_model_arn") == candidate_model_arn:
        return None
    compared = (
        f"registry version {baseline_version}" if baseline_version else "the base model (no champion yet)"
    )
    return (
        f"The champion changed while this run evaluated its candidate: the registry is now at version {version} "
        f"({registry.get('serving_model_arn')}, promoted by {registry.get('dag_id')} run {registry.get('run_id')} "
        f"at {registry.get('promoted_at')}), but {candidate_model_arn} was compared with {compared}. It was not "
        "promoted, since it was never compared with the model that serves now; it was handled as a rejected "
        "candidate (per retention). Trigger a new run to train and evaluate against the current champion."
    )


# --------------------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Step:
    """One thing the promotion operator does, in order.

    ``action`` is one of ``record_intent`` (write the registry's ``pending`` intent to switch ``target`` from
    ``detail`` to ``model``), ``update_serving`` (point ``target`` throughput at ``model``), ``tag_serving``
    (re-tag ``target``, a throughput or a deployment, ``role=serving``), ``delete_throughput``,
    ``delete_deployment`` (a custom model deployment), ``tag_decision`` (tag ``target`` model
    ``decision=<detail>``), ``write_registry``, ``delete_model``, ``keep_model``.
    """

    action: str
    target: str | None = None
    model: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "model": self.model, "detail": self.detail}


@dataclass(frozen=True)
class PromotionPlan:
    """The outcome of :func:`plan_promotion`. ``serving_arn`` is what serves after it (None: nothing alive)."""

    decision: str
    outcome: str  # updated_in_place | evaluation_became_serving | already_promoted | rejected | inconclusive
    steps: tuple[Step, ...]
    serving_arn: str | None
    serving_model_arn: str | None
    replaced: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def serving_kind(self) -> str | None:
        return serving_kind_of(self.serving_arn) if self.serving_arn else None

    @property
    def writes_registry(self) -> bool:
        return any(step.action == "write_registry" for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "outcome": self.outcome,
            "steps": [step.to_dict() for step in self.steps],
            "serving_arn": self.serving_arn,
            "serving_kind": self.serving_kind,
            "serving_model_arn": self.serving_model_arn,
            "replaced": dict(self.replaced) if self.replaced else None,
        }


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise BedrockCustomizationError(f"{name} must be one of {', '.join(allowed)}; got {value!r}.")
    return value


def _delete_serving(arn: str, detail: str) -> Step:
    """Delete a throughput or a deployment, by the kind its ARN names."""
    action = "delete_deployment" if serving_kind_of(arn) == ON_DEMAND else "delete_throughput"
    return Step(action, arn, detail=detail)


def _replaced_detail(old_arn: str, new_arn: str) -> str:
    """Why a replaced champion's serving resource goes instead of serving the candidate in place."""
    if serving_kind_of(new_arn) == ON_DEMAND:
        return "replaced champion (served on demand now)"
    if serving_kind_of(old_arn) == ON_DEMAND:
        return "replaced champion (was served on demand)"
    return "replaced champion (other base model)"


def _champion_retention(previous_model: str | None, candidate: str, champion_retention: str) -> list[Step]:
    if not previous_model or previous_model == candidate:
        return []
    if champion_retention == "delete":
        return [Step("delete_model", previous_model, detail="replaced champion")]
    return [Step("keep_model", previous_model, detail="replaced champion")]


def plan_promotion(
    *,
    decision: str,
    registry: Mapping[str, Any] | None,
    candidate_model_arn: str,
    evaluation_serving_arn: str | None,
    base_model_id: str,
    serving_alive: bool = True,
    retention: str = "delete",
    champion_retention: str = "keep",
) -> PromotionPlan:
    """
    Decide the steps of a promotion or a rejection.

    :param decision: ``promote``, ``reject`` or ``inconclusive`` (planned like ``reject``: the champion stays,
        the candidate's evaluation resource is deleted and its model tagged ``decision=reject`` and deleted
        or kept per ``retention``; only the plan's ``decision`` and ``outcome`` say ``inconclusive``). When the
        registry already names the candidate (a re-run of the run that promoted it compared it with itself),
        the champion that stays *is* the candidate: ``inconclusive`` finishes that promotion
        (``already_promoted``).
    :param registry: The registry object as read (None: no champion yet), schema 2 (see :func:`upgraded`).
    :param candidate_model_arn: ARN of the custom model that was evaluated.
    :param evaluation_serving_arn: ARN of the provisioned throughput or custom model deployment it was
        evaluated on (None if none, or gone).
    :param base_model_id: Base model of the candidate; a throughput is updated in place only when the serving
        model shares it.
    :param serving_alive: Whether the registry's serving resource still exists (the operator checks).
    :param retention: What happens to a rejected candidate model: ``delete`` or ``keep``.
    :param champion_retention: What happens to the champion model a promotion replaces: ``keep`` or ``delete``.

    A promotion updates the serving throughput in place only when the champion is served by a live
    provisioned throughput of the same base model and the candidate was evaluated on a throughput or on
    nothing; otherwise the evaluation resource becomes the serving one and the champion's is deleted (see
    the module docstring).
    """
    _check_choice("decision", decision, DECISIONS)
    _check_choice("retention", retention, RETENTIONS)
    _check_choice("champion_retention", champion_retention, RETENTIONS)
    registry = registry or {}
    serving = registry.get("serving_arn") if serving_alive else None
    serving_model = registry.get("serving_model_arn")
    evaluation = evaluation_serving_arn

    already_champion = bool(serving_model) and serving_model == candidate_model_arn
    if decision == "reject" or (decision == "inconclusive" and not already_champion):
        if candidate_model_arn and candidate_model_arn == serving_model:
            raise BedrockCustomizationError(
                f"Refusing to drop {candidate_model_arn} (evaluation: {decision}): the registry records it as "
                "the serving model."
            )
        why = "rejected candidate" if decision == "reject" else "inconclusive candidate"
        steps: list[Step] = []
        if evaluation and evaluation not in (serving, registry.get("serving_arn")):
            steps.append(_delete_serving(evaluation, why))
        steps.append(Step("tag_decision", candidate_model_arn, detail="reject"))
        if retention == "delete":
            steps.append(Step("delete_model", candidate_model_arn, detail=why))
        else:
            steps.append(Step("keep_model", candidate_model_arn, detail=why))
        outcome = "rejected" if decision == "reject" else "inconclusive"
        return PromotionPlan(decision, outcome, tuple(steps), serving, serving_model)

    if already_champion:
        # A retry after the registry was written: finish what may be left after the write.
        previous = registry.get("previous") or {}
        steps = []
        if evaluation and evaluation not in (serving, registry.get("serving_arn")):
            steps.append(_delete_serving(evaluation, "evaluation copy"))
        steps.append(Step("tag_decision", candidate_model_arn, detail="promote"))
        if serving:
            steps.append(Step("tag_serving", serving))
        old = previous.get("serving_arn")
        if old and old not in (serving, registry.get("serving_arn")):
            steps.append(_delete_serving(old, _replaced_detail(old, registry.get("serving_arn") or "")))
        steps += _champion_retention(
            previous.get("serving_model_arn"), candidate_model_arn, champion_retention
        )
        return PromotionPlan(
            decision, "already_promoted", tuple(steps), serving, serving_model, previous or None
        )

    replaced = {key: registry.get(key) for key in _RECORD_KEYS} if registry else None
    same_base = registry.get("base_model_id") in (None, base_model_id)
    provisioned = bool(serving) and serving_kind_of(serving) == PROVISIONED
    on_throughput = not evaluation or serving_kind_of(evaluation) == PROVISIONED
    steps = []
    in_place = provisioned and same_base and on_throughput and serving != evaluation
    if in_place:
        outcome, new_serving = "updated_in_place", serving
        # recorded -> applied -> committed (write_registry below): see the module docstring.
        steps.append(Step("record_intent", serving, model=candidate_model_arn, detail=serving_model or ""))
        steps.append(Step("update_serving", serving, model=candidate_model_arn))
    elif evaluation:
        outcome, new_serving = "evaluation_became_serving", evaluation
    else:
        served = ""
        if serving:
            served = (
                f" with the same base model ({registry.get('base_model_id')} is served)"
                if provisioned
                else f" ({serving} is a custom model deployment)"
            )
        raise BedrockCustomizationError(
            f"Cannot promote {candidate_model_arn}: there is no serving throughput to update in place{served} "
            "and no evaluation throughput or deployment to make the serving one. Pass evaluation_serving_arn."
        )
    # The registry is written before the serving tag: a resource tagged serving but missing from the
    # registry would be spared by the teardown and the janitor forever; one in the registry is protected.
    steps.append(Step("write_registry", new_serving, model=candidate_model_arn))
    if in_place and evaluation:
        steps.append(_delete_serving(evaluation, "evaluation copy"))
    steps.append(Step("tag_decision", candidate_model_arn, detail="promote"))
    steps.append(Step("tag_serving", new_serving))
    if serving and serving != new_serving:
        steps.append(_delete_serving(serving, _replaced_detail(serving, new_serving)))
    steps += _champion_retention(serving_model, candidate_model_arn, champion_retention)
    return PromotionPlan("promote", outcome, tuple(steps), new_serving, candidate_model_arn, replaced)


def with_intent(
    registry: Mapping[str, Any],
    *,
    throughput: str,
    from_model: str,
    to_model: str,
    dag_id: str,
    run_id: str,
    started_at: str,
) -> dict[str, Any]:
    """The registry with an in-place switch recorded as ``pending`` (nothing else changes, not the version)."""
    pending = {
        "throughput": throughput,
        "from_model": from_model,
        "to_model": to_model,
        "dag_id": dag_id,
        "run_id": run_id,
        "started_at": started_at,
    }
    return {**registry, "pending": pending}


def without_intent(registry: Mapping[str, Any]) -> dict[str, Any]:
    """The registry as it was before an intent was recorded."""
    return {key: value for key, value in registry.items() if key != "pending"}


def intent_abandoned(pending: Mapping[str, Any], now: datetime, max_age_seconds: float) -> bool:
    """Whether a recorded intent's promotion can no longer be running: older than the longest a promotion
    waits for its throughput switch (``throughput_timeout``) plus a margin for the write around it."""
    started = datetime.fromisoformat(str(pending.get("started_at")))
    return (now - started).total_seconds() > max_age_seconds


def next_registry(
    registry: Mapping[str, Any] | None,
    *,
    name: str,
    serving_arn: str,
    serving_model_arn: str,
    base_model_id: str,
    promoted_at: str,
    dag_id: str,
    run_id: str,
    figures: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The registry object after a promotion (the current champion moves to ``previous``); ``serving_arn`` is
    a provisioned throughput or a custom model deployment (``serving_kind`` follows from it)."""
    registry = registry or {}
    previous = {key: registry.get(key) for key in _RECORD_KEYS} if registry else None
    return {
        "schema": SCHEMA,
        "name": check_name(name),
        "version": int(registry.get("version") or 0) + 1,
        "serving_arn": serving_arn,
        "serving_kind": serving_kind_of(serving_arn),
        "serving_model_arn": serving_model_arn,
        "base_model_id": base_model_id,
        "promoted_at": promoted_at,
        "dag_id": dag_id,
        "run_id": run_id,
        "figures": dict(figures or {}),
        "previous": previous,
    }


# --------------------------------------------------------------------------------------------- S3 I/O


def registry_names(s3: Any, bucket: str) -> list[str]:
    """The names of the registries in ``bucket`` (every valid ``registry/<name>.json``)."""
    names = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=REGISTRY_PREFIX):
        for item in page.get("Contents", []):
            key = item["Key"]
            name = key.removeprefix(REGISTRY_PREFIX).removesuffix(".json")
            if key.endswith(".json") and is_valid_name(name):
                names.append(name)
    return names


def load_registry(s3: Any, bucket: str, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """(registry, ETag) from ``s3://bucket/registry/<name>.json``; (None, None) when there is none yet.

    A schema-1 record is returned as schema 2 (:func:`upgraded`); the ETag is the stored object's."""
    from botocore.exceptions import ClientError

    key = registry_key(name)
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None, None
        raise
    body = response["Body"].read()
    try:
        registry = json.loads(body)
    except ValueError as error:
        raise BedrockCustomizationError(
            f"The model registry s3://{bucket}/{key} is not valid JSON ({error}); fix or delete the object."
        ) from error
    if not isinstance(registry, dict):
        raise BedrockCustomizationError(f"The model registry s3://{bucket}/{key} must hold a JSON object.")
    return upgraded(registry), response.get("ETag")


def save_registry(
    s3: Any,
    bucket: str,
    name: str,
    registry: Mapping[str, Any],
    etag: str | None,
    kms_key_id: str | None = None,
) -> str:
    """
    Write the registry only if it is unchanged since it was read (``etag``; None: only if absent), with SSE-KMS
    (``kms_key_id``, else the AWS managed key ``aws/s3``).

    Returns the new ETag; raises ``RegistryConflictError`` when another writer got there first.
    """
    from botocore.exceptions import ClientError

    uri = registry_uri(bucket, name)
    try:
        response = artifacts.put_object(
            s3,
            uri,
            json.dumps(registry, indent=2, sort_keys=True).encode(),
            content_type="application/json",
            kms_key_id=kms_key_id,
            if_match=etag or None,
            if_none_match=None if etag else "*",
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
            raise RegistryConflictError(
                f"The model registry {uri} changed while this promotion ran ({code}); another "
                "promotion won. Retry the task: it re-reads the registry and plans again."
            ) from error
        raise
    return response.get("ETag", "")
