"""The janitor: clean up the billable Bedrock resources of ours that no run cleaned up (a killed run's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization import janitor
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.tables import text_table

if TYPE_CHECKING:
    from airflow.sdk import Context

_COLUMNS = ("action", "kind", "name", "age", "arn", "reason")


class BedrockJanitorOperator(AwsBaseOperator[BedrockCustomizationHook]):
    """
    Find the Bedrock resources this provider created and nobody cleaned up, and clean them up.

    First an in-place promotion abandoned half-way (its intent still in a registry after the longest switch)
    is rolled back, so the inventory sees what really serves. Then every throughput, deployment, custom and
    imported model and job is listed with its tags, :func:`bedrock_customization.janitor.plan` decides (each
    action and each resource spared with its reason, logged as tables), and the actions are carried out: one
    that fails does not stop the others, and the task fails at the end naming them. Anything without our
    ``managed-by`` tag, anything a registry names and anything tagged ``role=serving`` or ``decision=keep``
    is never touched. Returns ``{"dry_run", "repaired", "planned", "done", "failed", "report"}``.

    :param dry_run: Only log what would be done. (templated)
    :param ttl_hours: Delete our non-serving throughputs and deployments older than this. (templated)
    :param retention_days: Keep rejected, failed or unpromoted runs' models this long. (templated)
    :param max_job_hours: Stop our customization jobs running longer than this. (templated)
    :param registry_bucket: Bucket with ``registry/*.json``; empty: the landing zone's (the Variable
        ``bedrock_customization``); without one, models whose deletion depends on "no registry names it"
        are kept. (templated)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields(
        "dry_run", "ttl_hours", "retention_days", "max_job_hours", "registry_bucket"
    )

    def __init__(
        self,
        *,
        dry_run: bool | str = False,
        ttl_hours: float | str = 6,
        retention_days: float | str = 7,
        max_job_hours: float | str = 48,
        registry_bucket: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dry_run = dry_run
        self.ttl_hours = ttl_hours
        self.retention_days = retention_days
        self.max_job_hours = max_job_hours
        self.registry_bucket = registry_bucket

    def execute(self, context: Context) -> dict[str, Any]:
        from bedrock_customization import inventory

        dry_run = str(self.dry_run).strip().lower() in ("true", "1", "yes")
        bucket = self._bucket()
        s3 = self._s3() if bucket else None
        repaired = self._repair_promotions(s3, bucket, dry_run) if bucket else []
        found = inventory.list_resources(self.hook.conn)
        registries = inventory.registry_protected_arns(s3, bucket) if bucket else {}
        if not bucket:
            self.log.warning(
                "No registry bucket: only the role=serving tag protects serving throughputs, and models with "
                "decision=promote or no decision are kept."
            )
        cleanup = janitor.plan(
            throughputs=found["throughputs"],
            models=found["models"],
            jobs=found["jobs"],
            deployments=found["deployments"],
            imported_models=found["imported_models"],
            registries_read=bool(bucket),
            serving_arns={arn for arns in registries.values() for arn in arns},
            now=datetime.now(UTC),
            ttl_hours=float(self.ttl_hours),
            retention_days=float(self.retention_days),
            max_job_hours=float(self.max_job_hours),
        ).to_dict()
        self._log_plan(cleanup)
        counts = {"spared": len(cleanup["spared"]), "not_ours": cleanup["not_ours"]}
        if dry_run:
            report = janitor.report(cleanup["actions"], dry_run=True, **counts)
            self.log.info("Dry run: nothing done. %s", janitor.summary_line(report))
            return {
                "dry_run": True,
                "repaired": repaired,
                "planned": cleanup["actions"],
                "done": [],
                "failed": [],
                "report": report,
            }
        done, failed = self._carry_out(cleanup["actions"])
        report = janitor.report(cleanup["actions"], done, failed, dry_run=False, **counts)
        self.log.info("%s", janitor.summary_line(report))
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(cleanup['actions'])} janitor actions failed: {failed}")
        return {
            "dry_run": False,
            "repaired": repaired,
            "planned": cleanup["actions"],
            "done": done,
            "failed": failed,
            "report": report,
        }

    def _bucket(self) -> str | None:
        if self.registry_bucket:
            return self.registry_bucket
        from bedrock_customization.exceptions import LandingZoneError
        from bedrock_customization.landing_zone import LandingZone

        try:
            return LandingZone.from_variable(require_vpc=False).bucket
        except LandingZoneError as error:
            self.log.warning("No registry bucket given and no usable landing zone: %s", error)
            return None

    def _s3(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify
        ).get_conn()

    def _repair_promotions(self, s3: Any, bucket: str, dry_run: bool) -> list[dict[str, Any]]:
        """Roll back in-place promotions abandoned half-way (a registry intent older than the longest switch)."""
        from bedrock_customization import promotion
        from bedrock_customization.exceptions import RegistryConflictError
        from bedrock_customization.operators.registry import load_settled_registry, waiter_settle

        repaired = []
        for name in promotion.registry_names(s3, bucket):
            pending = (promotion.load_registry(s3, bucket, name)[0] or {}).get("pending")
            if not pending:
                continue
            if dry_run:
                self.log.info("Dry run: registry %s has a promotion intent %s; not repaired.", name, pending)
                continue
            try:
                registry, _ = load_settled_registry(
                    self.hook.conn, s3, bucket, name, settle=waiter_settle(self.hook), log=self.log
                )
            except RegistryConflictError as in_progress:
                self.log.info("Registry %s: %s", name, in_progress)
                continue
            if "pending" not in (registry or {}):
                repaired.append({"registry": name, "rolled_back": pending})
        return repaired

    def _log_plan(self, cleanup: dict[str, Any]) -> None:
        if cleanup["actions"]:
            rows = [[action.get(column, "") for column in _COLUMNS] for action in cleanup["actions"]]
            self.log.info("Planned actions:\n%s", text_table(rows, _COLUMNS))
        if cleanup["spared"]:
            rows = [[spared.get(column, "") for column in _COLUMNS[1:]] for spared in cleanup["spared"]]
            self.log.info("Ours, kept:\n%s", text_table(rows, _COLUMNS[1:]))
        self.log.info(
            "%d actions; %d of ours kept; %d not ours.",
            len(cleanup["actions"]),
            len(cleanup["spared"]),
            cleanup["not_ours"],
        )

    def _carry_out(self, actions: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
        hook, conn = self.hook, self.hook.conn
        calls = {
            janitor.DELETE_THROUGHPUT: hook.delete_throughput,
            janitor.DELETE_CUSTOM_MODEL: hook.delete_custom_model,
            janitor.DELETE_DEPLOYMENT: hook.delete_deployment,
            janitor.DELETE_IMPORTED_MODEL: hook.delete_imported_model,
        }
        done, failed = [], []
        for action in actions:
            kind, arn = action["action"], action["arn"]
            try:
                if kind == janitor.STOP_JOB:
                    try:
                        conn.stop_model_customization_job(jobIdentifier=arn)
                    except (conn.exceptions.ValidationException, conn.exceptions.ConflictException) as error:
                        self.log.info("Job %s is no longer running: %s", arn, error)
                else:
                    calls[kind](arn)
            except Exception as error:  # one stubborn resource must not stop the rest; failed at the end
                self.log.error("FAILED %s %s (%s): %s", kind, action["name"], arn, error)
                failed.append({**action, "error": str(error)})
                continue
            done.append(action)
        if done or failed:
            rows = [[a["action"], a["name"], a["arn"], a.get("error", "done")] for a in [*done, *failed]]
            self.log.info("Janitor actions:\n%s", text_table(rows, ("action", "name", "arn", "outcome")))
        return done, failed
