"""What no cleanup may delete: the ARNs the model registries name. Pure, no AWS.

A registry (``registry/<name>.json``, see :mod:`bedrock_customization.promotion`) protects

* the champion: its serving resource (``serving_arn``, a provisioned throughput or an on-demand custom model
  deployment) and its model (``serving_model_arn``);
* the previous champion's model (``previous.serving_model_arn``), kept on purpose with
  ``champion_retention=keep``; not its serving resource, which the promotion deletes when it is not the
  champion's;
* a pending in-place switch (``pending``): its throughput and both models, ``from_model`` and ``to_model``.

A promotion's result (``serving_arn``, ``serving_model_arn``) has the champion's keys, so it can be given as
one more registry: what a run has just promoted is protected before the registry is read again. Registries
are read with :func:`bedrock_customization.promotion.load_registry`, which reads a schema-1 record's
``serving_throughput_arn`` as ``serving_arn``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The champion's keys in a registry (and in a promotion's result).
SERVING_KEYS = ("serving_arn", "serving_model_arn")
#: The keys of a pending in-place switch (``registry["pending"]``) that name resources.
PENDING_KEYS = ("throughput", "from_model", "to_model")


def serving_arns(registry: Mapping[str, Any] | None) -> set[str]:
    """The champion's serving resource and model ARNs (empty for no registry)."""
    return {arn for arn in (registry.get(key) for key in SERVING_KEYS) if arn} if registry else set()


def protected_arns(*registries: Mapping[str, Any] | None) -> set[str]:
    """Every ARN the given registries name, which no teardown, janitor or sweep cleanup may delete (see the
    module docstring); None stands for a registry that does not exist yet."""
    protected: set[str] = set()
    for registry in registries:
        if not registry:
            continue
        previous = registry.get("previous") or {}
        pending = registry.get("pending") or {}
        named = [previous.get("serving_model_arn"), *(pending.get(key) for key in PENDING_KEYS)]
        protected |= serving_arns(registry) | {arn for arn in named if arn}
    return protected
