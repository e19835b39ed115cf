"""The TaskFlow glue of the model import DAG: resolve the params against the landing zone; the run's result."""

from __future__ import annotations

from airflow.sdk import task

#: Where the model is looked for when the ``model_data_uri`` param is empty.
DEFAULT_MODEL_PREFIX = "models/import/"


@task(task_id="plan")
def plan_import(params: dict | None = None, dag_run=None) -> dict:
    """Resolve the params against the landing zone: model folder, model name, KMS key and VPC."""
    import logging

    from bedrock_customization import artifacts
    from bedrock_customization.landing_zone import LandingZone
    from bedrock_customization.model_import import check_imported_model_name, folder_uri
    from bedrock_customization.naming import resource_name
    from bedrock_customization.tables import text_table

    use_vpc = params["use_vpc"]
    zone = LandingZone.from_variable(require_vpc=use_vpc)
    name = check_imported_model_name(
        params["imported_model_name"] or resource_name("imported", dag_run.dag_id, dag_run.run_id)
    )
    result = {
        "model_data_uri": folder_uri(
            params["model_data_uri"] or artifacts.s3_uri(zone.bucket, DEFAULT_MODEL_PREFIX)
        ),
        "imported_model_name": name,
        "role_arn": zone.role_arn,
        "kms_key_id": params["kms_key_id"] or zone.kms_key_arn,
        "subnet_ids": list(zone.subnet_ids) if use_vpc else None,
        "security_group_ids": list(zone.security_group_ids) if use_vpc else None,
        # Empty: the teardown has nothing to delete and keeps the model.
        "delete_model_id": name if params["delete_after_smoke_test"] else "",
    }
    logging.getLogger(__name__).info("Plan:\n%s", text_table(result.items(), ("field", "value")))
    return result


@task(task_id="summarize")
def summarize_import(imported: dict, smoke_test: dict, deleted: bool, params: dict | None = None) -> dict:
    """The run's result: imported model, smoke test outcome, and whether it was deleted."""
    import logging

    from bedrock_customization.tables import text_table

    summary = {
        "imported_model_arn": imported["imported_model_arn"],
        "imported_model_name": imported["imported_model_name"],
        "smoke_test": {key: smoke_test[key] for key in ("ok", "stop_reason", "generation_token_count")},
        "deleted": bool(deleted),
        "kept": not params["delete_after_smoke_test"],
    }
    logging.getLogger(__name__).info("Summary:\n%s", text_table(summary.items(), ("field", "value")))
    return summary
