"""
### Bedrock model import

Import a Hugging Face model you trained elsewhere into Amazon Bedrock (Custom Model Import), check that it
answers and honours stop sequences, and delete it again unless you want to keep it.

1. **plan**: read the landing zone, resolve the params (model folder, model name, KMS key, VPC).
2. **preflight**: read-only checks of the S3 folder before anything billable: `config.json` with a supported
   architecture (Llama 2/3.x, Mistral, Mixtral, Flan-T5, GPTBigCode, Qwen2/2.5/3, Qwen2-VL/2.5-VL, GPT-OSS), real
   `*.safetensors` weights, `tokenizer.json` or `tokenizer.model` plus `tokenizer_config.json`, total size.
   Every problem is listed at once, each with its fix.
3. **import_model**: the CreateModelImportJob (deferred unless `[bedrock_customization] deferrable` is False;
   a retry re-attaches to the same job, never imports twice), encrypted with the KMS key and, with
   `use_vpc`, run in the landing zone's subnets.
4. **smoke_test**: one InvokeModel call in the body the model's architecture takes (an OpenAI ChatCompletion
   body for GPT-OSS, a completion body with `prompt` for the others) and `stop: ["\\n\\n"]`; fails when
   the model answers nothing or runs past the stop sequence (a public write-up found imported models did).
5. **delete_imported_model** (teardown): with `delete_after_smoke_test`, deletes the imported model whatever
   happened before it, so a failed smoke test still cleans up; only a model this run created is deleted.
   The model is tagged `bedrock-customization:decision=delete` (or `=keep` without
   `delete_after_smoke_test`) when imported: the janitor deletes a killed run's model after its `ttl_hours`
   and never one kept on purpose.
6. **summarize**: the run's result; it fails (and so does the run) when the smoke test or the delete failed.

The model folder must hold the files `save_pretrained()` writes, e.g. `s3://<bucket>/models/my-llama/`.
The landing zone (bucket, role, KMS key, subnets, security group) comes from the Airflow Variable
`bedrock_customization` (`python -m include.bootstrap`); AWS access goes through the connection
`aws_default`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from bedrock_customization import tagging
from bedrock_customization.model_import import DEFAULT_SMOKE_PROMPT
from bedrock_customization.operators.imported_model import (
    BedrockDeleteImportedModelOperator,
    BedrockImportedModelSmokeTestOperator,
)
from bedrock_customization.operators.model_import import (
    BedrockCreateModelImportJobOperator,
    BedrockModelImportPreflightOperator,
)
from bedrock_customization.pipeline import params
from bedrock_customization.pipeline.model_import import DEFAULT_MODEL_PREFIX, plan_import, summarize_import

AWS_CONN_ID = "aws_default"


@dag(
    dag_id="bedrock_model_import",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["bedrock", "model-import"],
    default_args=params.default_args(),
    params={
        "model_data_uri": Param(
            None,
            type=["null", "string"],
            pattern=r"^s3://",
            description=f"s3:// folder of the Hugging Face model; empty: s3://<landing-zone bucket>/{DEFAULT_MODEL_PREFIX}",
        ),
        "imported_model_name": Param(
            None,
            type=["null", "string"],
            maxLength=63,
            pattern=r"^([0-9a-zA-Z][_-]?)+$",
            description="Name of the imported model; empty: derived from the run id.",
        ),
        "kms_key_id": Param(
            None,
            type=["null", "string"],
            description="KMS key of the imported model; empty: the landing zone's key.",
        ),
        "use_vpc": Param(True, type="boolean", description="Run the import in the landing zone's subnets."),
        "delete_after_smoke_test": Param(
            True, type="boolean", description="Delete the imported model at the end, even when a task failed."
        ),
        "smoke_test_prompt": Param(
            DEFAULT_SMOKE_PROMPT,
            type="string",
            description="A prompt the model answers in several paragraphs.",
        ),
    },
    doc_md=__doc__,
)
def bedrock_model_import():
    run = plan_import()

    preflight = BedrockModelImportPreflightOperator(
        task_id="preflight", aws_conn_id=AWS_CONN_ID, model_data_uri=run["model_data_uri"]
    )

    imported = BedrockCreateModelImportJobOperator(
        task_id="import_model",
        multiple_outputs=True,
        aws_conn_id=AWS_CONN_ID,
        model_data_uri=run["model_data_uri"],
        role_arn=run["role_arn"],
        imported_model_name=run["imported_model_name"],
        kms_key_id=run["kms_key_id"],
        subnet_ids=run["subnet_ids"],
        security_group_ids=run["security_group_ids"],
        # What the run means to do with the model, for the janitor should the teardown never run.
        model_tags={tagging.DECISION: "{{ 'delete' if params.delete_after_smoke_test else 'keep' }}"},
    )
    preflight >> imported

    smoke = BedrockImportedModelSmokeTestOperator(
        task_id="smoke_test",
        aws_conn_id=AWS_CONN_ID,
        model_id=imported.output["imported_model_arn"],
        prompt="{{ params.smoke_test_prompt }}",
    )

    # `plan` is a setup too, so the teardown runs even when the import task failed after its create call;
    # it deletes by the planned name, and only a model tagged as this run's.
    delete = BedrockDeleteImportedModelOperator(
        task_id="delete_imported_model",
        aws_conn_id=AWS_CONN_ID,
        model_id=run["delete_model_id"],
        only_this_run=True,
    )
    smoke >> delete.as_teardown(setups=[run.operator, imported])
    # The run's outcome: fails when the smoke test or the delete failed (a teardown alone does not fail a
    # run, and one with on_failure_fail_dagrun would hide the smoke test's failure).
    summarize_import(imported.output, smoke.output, delete.output)


dag = bedrock_model_import()

if __name__ == "__main__":
    dag.test()
