"""``make run``: start the emulator, bootstrap the landing zone, run ``bedrock_retraining``, print one JSON line.

The loss curve, evaluation report and chart are also copied to ``.airflow/artifacts/``.

Set ``LOCAL_AWS_*`` variables to change the emulator's timings (see README). Exit code 0 when the run
succeeded and no billable resource is left, 1 otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from include.local_stack import ROOT, airflow_env, migrate_db, start_emulator

#: The trigger form's defaults, plus the ``semantic`` metric (Titan Text Embeddings V2, which the emulator
#: serves) so the JSON shows an embedding similarity next to the lexical metrics.
RUN_CONF = {"metrics": ["rouge_l", "chrf", "exact_match", "semantic"]}


def download_artifacts(summary: dict, folder) -> list[str]:
    """Copy the run's loss curve, evaluation report and chart out of the emulator (its state dies with it)."""
    import boto3

    s3 = boto3.client("s3")
    report = summary.get("evaluation_report") or ""
    uris = [summary.get("loss_curve"), report, report.replace("report.md", "metrics_chart.png") if report else None]
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for uri in filter(None, uris):
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        target = folder / key.rsplit("/", 1)[-1]
        s3.download_file(bucket, key, str(target))
        saved.append(str(target.relative_to(ROOT)))
    return saved


def main() -> int:
    emulator = start_emulator()
    try:
        env = airflow_env(ROOT / ".airflow", emulator.endpoint_url)
        os.environ.update(env)  # before Airflow is imported: it reads its config once
        migrate_db(env)

        from include.bootstrap import bootstrap
        from include.local_stack import REGION, retraining_summary, run_dag

        landing_zone = bootstrap(REGION)
        os.environ["AIRFLOW_VAR_BEDROCK_CUSTOMIZATION"] = json.dumps(landing_zone)
        dag_run = run_dag("bedrock_retraining", run_conf=RUN_CONF)
        summary = retraining_summary(dag_run, landing_zone)
        summary["artifacts"] = download_artifacts(summary, ROOT / ".airflow" / "artifacts")
    finally:
        emulator.stop()
    logging.shutdown()
    sys.stdout.flush()
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if summary["state"] == "success" and not summary["billable_resources_left"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
