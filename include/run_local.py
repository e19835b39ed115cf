"""``make run``: start the emulator, bootstrap the landing zone, run ``bedrock_retraining``, print one JSON line.

Set ``LOCAL_AWS_*`` variables to change the emulator's timings (see README). Exit code 0 when the run
succeeded and no billable resource is left, 1 otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from include.local_stack import ROOT, airflow_env, migrate_db, start_emulator


def main() -> int:
    emulator = start_emulator()
    try:
        env = airflow_env(ROOT / ".airflow", emulator.endpoint_url)
        os.environ.update(env)  # before Airflow is imported: it reads its config once
        migrate_db(env)

        from include.bootstrap import bootstrap
        from include.local_stack import REGION, retraining_summary, run_dag

        os.environ["AIRFLOW_VAR_BEDROCK_CUSTOMIZATION"] = json.dumps(bootstrap(REGION))
        dag_run = run_dag("bedrock_retraining")
        summary = retraining_summary(dag_run)
    finally:
        emulator.stop()
    logging.shutdown()
    sys.stdout.flush()
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if summary["state"] == "success" and not summary["billable_resources_left"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
