"""The identity of a Bedrock resource a task creates: its names, idempotency token, tags and ownership test.

A retried or re-run task must find the resource its first try created instead of creating a twin, so every
name and ``clientRequestToken`` derives from what identifies the work, never from the clock: by default the
task instance (dag_id, run_id, task_id, map_index); with an ``idempotency_key``, (dag_id, task_id, key), so
runs with other run ids that render the same key (a backfill, a re-run of the same logical date) share the
resource. The tags still record the real run id.

Pure standard library (plus :mod:`naming` and :mod:`tagging`): usable from operators, DAG files and tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bedrock_customization import tagging
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.naming import client_request_token, resource_name

#: Bedrock's limit of tags per resource (``jobTags``, ``customModelTags``, ``tags``...).
MAX_TAGS = 200
#: An idempotency key is stored as a tag value.
MAX_IDEMPOTENCY_KEY_LENGTH = 256

TagInput = Mapping[str, Any] | Iterable[Mapping[str, Any]] | None


@dataclass(frozen=True)
class ResourceIdentity:
    """The work a Bedrock resource belongs to; every name, token and tag of the resource derives from it."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    idempotency_key: str | None = None

    @classmethod
    def from_context(cls, context: Mapping[str, Any], idempotency_key: str | None = None) -> ResourceIdentity:
        """The identity of the running task instance (``context["ti"]``), optionally keyed."""
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return cls(
            ti.dag_id,
            ti.run_id,
            ti.task_id,
            -1 if map_index is None else int(map_index),
            check_idempotency_key(idempotency_key),
        )

    @property
    def parts(self) -> tuple[object, ...]:
        """What the names and tokens are derived from."""
        if self.idempotency_key:
            return self.dag_id, self.task_id, "idempotency-key", self.idempotency_key
        return self.dag_id, self.run_id, self.task_id, self.map_index

    def name(self, kind: str, prefix: str | None = None) -> str:
        """A Bedrock-safe name: ``prefix`` (default ``<dag_id>-<task_id>``) plus a digest of the identity and
        ``kind`` (``"job"``, ``"model"``, ...), at most 63 characters."""
        return resource_name(prefix or f"{self.dag_id}-{self.task_id}", *self.parts, kind)

    def token(self, kind: str) -> str:
        """The ``clientRequestToken`` of the create call of ``kind`` (stable across retries)."""
        return client_request_token(*self.parts, kind)

    def tags(self, **extra: str) -> dict[str, str]:
        """The provider's ownership tags (managed-by, dag-id, run-id, task-id, idempotency-key) plus ``extra``
        (``role="serving"`` -> ``bedrock-customization:role=serving``)."""
        tags = tagging.run_tags(self.dag_id, self.run_id, self.task_id, **extra)
        if self.idempotency_key:
            tags[tagging.IDEMPOTENCY_KEY] = tagging.clean_value(self.idempotency_key)
        return tags

    def aws_tags(self, *user_tags: TagInput, what: str = "tags", **extra: str) -> list[dict[str, str]]:
        """User tags merged with ours (ours win), as Bedrock's ``[{"key", "value"}]``, at most 200 of them.

        Each of ``user_tags`` is a mapping or Bedrock's key/value list; ``what`` names the parameter in the
        error a malformed or too long tag set raises.
        """
        ours = self.tags(**extra)
        merged: dict[str, str] = {}
        for tag_set in user_tags:
            merged.update(_flat(tag_set, what))
        merged.update(ours)
        if len(merged) > MAX_TAGS:
            raise BedrockCustomizationError(
                f"{what}: {len(merged)} tags including the provider's {len(ours)}; Bedrock allows {MAX_TAGS}"
            )
        return tagging.to_aws(merged)

    def owns(self, token: str | None, tags: Mapping[str, str] | None, kind: str) -> bool:
        """Whether a resource with this ``clientRequestToken`` (None when the describe call shows none) and
        these tags was created for this identity.

        True when the token is this identity's token of ``kind``, or when the tags name this DAG and task and
        either this run or, with an idempotency key, the same key (whatever run created it).
        """
        if token and token == self.token(kind):
            return True
        if not tags:
            return False
        expected = self.tags()
        if self.idempotency_key:
            del expected[tagging.RUN_ID]
        return all(tags.get(key) == value for key, value in expected.items())

    def describe_owner(self) -> str:
        """Who this identity is, for error messages."""
        if self.idempotency_key:
            return f"dag_id={self.dag_id} task_id={self.task_id} idempotency_key={self.idempotency_key}"
        return f"dag_id={self.dag_id} run_id={self.run_id} task_id={self.task_id}"


def check_idempotency_key(key: object) -> str | None:
    """The stripped key, None when empty; raises when it cannot be stored as a tag value."""
    if key is None or not str(key).strip():
        return None
    key = str(key).strip()
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise BedrockCustomizationError(
            f"idempotency_key is {len(key)} characters long; use at most {MAX_IDEMPOTENCY_KEY_LENGTH} "
            "(it is stored as a tag value)"
        )
    return key


def _flat(tag_set: TagInput, what: str) -> dict[str, str]:
    if tag_set is None:
        return {}
    if isinstance(tag_set, Mapping):
        return {str(key): str(value) for key, value in tag_set.items()}
    flat = {}
    for item in tag_set:
        if not isinstance(item, Mapping) or "key" not in item:
            raise BedrockCustomizationError(
                f"{what}: expected a mapping or a list of {{'key': ..., 'value': ...}}, got {item!r}"
            )
        flat[str(item["key"])] = str(item.get("value", ""))
    return flat
