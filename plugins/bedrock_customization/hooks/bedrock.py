"""Hook for Amazon Bedrock model customization: the Amazon provider's BedrockHook with this package's waiters
and the service helpers several operators, the teardown and the janitor share."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

from bedrock_customization import promotion, tagging
from bedrock_customization.exceptions import ResourceFailedError, ResourceInUseError

WAITERS_FILE = Path(__file__).resolve().parents[1] / "waiters" / "bedrock.json"


@cache
def waiter_states(waiter_name: str) -> dict[str, frozenset[str]]:
    """The ``status`` values a waiter of ``waiters/bedrock.json`` accepts, by acceptor state (``success``,
    ``failure``, ``retry``): what a resource's operator treats as done, failed and still pending."""
    acceptors = json.loads(WAITERS_FILE.read_text())["waiters"][waiter_name]["acceptors"]
    return {
        state: frozenset(a["expected"] for a in acceptors if a["state"] == state)
        for state in ("success", "failure", "retry")
    }


class BedrockCustomizationHook(BedrockHook):
    """
    ``boto3.client("bedrock")`` with the custom waiters of ``bedrock_customization/waiters/bedrock.json``.

    ``AwsGenericHook.waiter_path`` points into the Amazon package; this hook points it at our file, so
    ``get_waiter`` finds our waiters (``provisioned_model_throughput_in_service``,
    ``custom_model_deployment_active``, ...) and, for other names, botocore's own waiters.

    The methods below are the service helpers: look-ups that return None for what is gone, and deletes that
    return False for what is already gone (so every caller is safe to retry).
    """

    @cached_property
    def waiter_path(self) -> Path:
        return WAITERS_FILE

    @classmethod
    def for_client(cls, client: Any) -> BedrockCustomizationHook:
        """A hook around an existing ``bedrock`` client (for code that holds only the client)."""
        hook = cls(aws_conn_id=None)
        hook.__dict__["conn"] = client  # ``conn`` is a cached property
        return hook

    # ---------------------------------------------------------------------------------------- generic

    def paginate(self, operation: str, key: str, **kwargs: Any) -> Iterator[dict]:
        """The items under ``key`` of every page of a List* call."""
        for page in self.conn.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])

    def describe(self, operation: str, **kwargs: Any) -> dict | None:
        """The response of a call on one resource (Get*, List*ForResource...), None when it does not exist."""
        try:
            return getattr(self.conn, operation)(**kwargs)
        except self.conn.exceptions.ResourceNotFoundException:
            return None

    def delete(self, operation: str, **kwargs: Any) -> bool:
        """A Delete* call: True if it deleted the resource, False if it was already gone."""
        try:
            getattr(self.conn, operation)(**kwargs)
        except self.conn.exceptions.ResourceNotFoundException:
            return False
        return True

    def resource_tags(self, arn: str) -> dict[str, str] | None:
        """The tags of a Bedrock resource as a flat dict, or None when it is gone."""
        found = self.describe("list_tags_for_resource", resourceARN=arn)
        return None if found is None else tagging.from_aws(found.get("tags"))

    def custom_model_arn(self, model_id: str) -> str:
        """The ARN of a custom model given by name or ARN."""
        if model_id.startswith("arn:"):
            return model_id
        return self.conn.get_custom_model(modelIdentifier=model_id)["modelArn"]

    # ----------------------------------------------------------------------------------- throughputs

    def get_throughput(self, identifier: str) -> dict | None:
        """GetProvisionedModelThroughput by name or ARN, or None when there is none."""
        return self.describe("get_provisioned_model_throughput", provisionedModelId=identifier)

    def list_throughputs(self) -> list[dict]:
        """Every provisioned throughput of the account and region (ListProvisionedModelThroughputs)."""
        return list(self.paginate("list_provisioned_model_throughputs", "provisionedModelSummaries"))

    def delete_throughput(self, identifier: str, wait: tuple[float, int] = (10, 60)) -> bool:
        """
        Delete a throughput; True if deleted, False if it was already gone.

        A throughput that refuses deletion while Creating or Updating is waited for (``wait`` = delay,
        attempts) and deleted once it settles, whatever its final status.
        """
        conn = self.conn
        try:
            return self.delete("delete_provisioned_model_throughput", provisionedModelId=identifier)
        except (conn.exceptions.ValidationException, conn.exceptions.ConflictException) as error:
            self.log.info(
                "Provisioned throughput %s cannot be deleted yet (%s); waiting for it to settle.",
                identifier,
                error,
            )
        delay, attempts = wait
        for _ in range(attempts):
            throughput = self.get_throughput(identifier)
            if throughput is None or throughput["status"] not in ("Creating", "Updating"):
                break
            time.sleep(delay)
        return self.delete("delete_provisioned_model_throughput", provisionedModelId=identifier)

    def update_throughput_model(
        self, throughput_id: str, model_id: str, settle: Callable[[str], Any]
    ) -> tuple[str, str]:
        """
        Point a throughput at ``model_id`` unless it already serves or is switching to it.

        ``settle(arn)`` is called to wait for a throughput that is busy (Creating/Updating towards another
        model) before the update. Returns (throughput ARN, status after the call).
        """
        conn = self.conn
        throughput = conn.get_provisioned_model_throughput(provisionedModelId=throughput_id)
        arn = throughput["provisionedModelArn"]
        if throughput["status"] == "Failed":
            raise ResourceFailedError(
                f"Provisioned throughput {throughput.get('provisionedModelName')} ({arn}) is Failed "
                f"({throughput.get('failureMessage') or 'no failureMessage given'}): it cannot be updated. A "
                "retry of the task that created it deletes it and creates it again."
            )
        desired_arn = self.custom_model_arn(model_id)
        if throughput.get("desiredModelArn", throughput.get("modelArn")) == desired_arn:
            self.log.info(
                "Provisioned throughput %s already serves %s (%s).", arn, desired_arn, throughput["status"]
            )
            return arn, throughput["status"]
        if throughput["status"] != "InService":
            self.log.info(
                "Provisioned throughput %s is %s; waiting before the update.", arn, throughput["status"]
            )
            settle(arn)
        conn.update_provisioned_model_throughput(provisionedModelId=arn, desiredModelId=desired_arn)
        self.log.info(
            "Provisioned throughput %s: switching from %s to %s.",
            arn,
            throughput.get("modelArn"),
            desired_arn,
        )
        return arn, conn.get_provisioned_model_throughput(provisionedModelId=arn)["status"]

    # ------------------------------------------------------------------------- models and deployments

    def model_users(self, model_id: str) -> list[str]:
        """Descriptions of the throughputs and deployments that serve (or are switching to) a custom model."""
        model = self.describe("get_custom_model", modelIdentifier=model_id)
        if model is None:
            return []
        model_arn = model["modelArn"]
        users = [
            f"provisioned throughput {t['provisionedModelName']} ({t['provisionedModelArn']}, {t['status']})"
            for t in self.list_throughputs()
            if model_arn in (t.get("modelArn"), t.get("desiredModelArn"))
        ]
        users += [
            f"custom model deployment {d['customModelDeploymentName']} ({d['customModelDeploymentArn']})"
            for d in self.paginate(
                "list_custom_model_deployments", "modelDeploymentSummaries", modelArnEquals=model_arn
            )
        ]
        return users

    def delete_custom_model(self, model_id: str, wait: tuple[float, int] | None = None) -> bool:
        """Delete a custom model: True if deleted, False if already gone, ``ResourceInUseError`` (naming its
        users) if a throughput or deployment still uses it; with ``wait`` (delay, attempts), after that many
        tries that far apart (a throughput or deployment just deleted may hold it for a moment)."""
        if wait:
            delay, attempts = wait
            for _ in range(attempts - 1):
                try:
                    return self.delete_custom_model(model_id)
                except ResourceInUseError:
                    time.sleep(delay)
        conn = self.conn
        try:
            return self.delete("delete_custom_model", modelIdentifier=model_id)
        except (
            conn.exceptions.ValidationException,
            conn.exceptions.ConflictException,
            conn.exceptions.ResourceInUseException,
        ) as error:
            users = self.model_users(model_id)
            if not users:
                raise
            raise ResourceInUseError(
                f"Custom model {model_id} cannot be deleted: it is still used by {'; '.join(users)}. Delete "
                "those (BedrockDeleteProvisionedThroughputOperator / BedrockDeleteCustomModelDeploymentOperator) "
                "or point them at another model (BedrockUpdateProvisionedThroughputOperator), then retry."
            ) from error

    def get_deployment(self, identifier: str) -> dict | None:
        """GetCustomModelDeployment by name or ARN, or None when there is none."""
        return self.describe("get_custom_model_deployment", customModelDeploymentIdentifier=identifier)

    def serving_arn(self, identifier: str) -> str | None:
        """The ARN of the provisioned throughput or custom model deployment ``identifier`` names (an ARN by
        its kind; a name as a throughput, then as a deployment), or None when it does not exist."""
        if promotion.serving_kind_of(identifier) != promotion.ON_DEMAND:
            throughput = self.get_throughput(identifier)
            if throughput is not None or identifier.startswith("arn:"):
                return throughput["provisionedModelArn"] if throughput else None
        deployment = self.get_deployment(identifier)
        return deployment["customModelDeploymentArn"] if deployment else None

    def delete_deployment(self, identifier: str) -> bool:
        """Delete a custom model deployment: True if deleted, False if it was already gone."""
        return self.delete("delete_custom_model_deployment", customModelDeploymentIdentifier=identifier)

    def delete_imported_model(self, model_id: str) -> bool:
        """Delete an imported model: True if deleted, False if it was already gone."""
        return self.delete("delete_imported_model", modelIdentifier=model_id)
