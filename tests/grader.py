"""A reinforcement fine-tuning grader for the tests: a Lambda function in moto's Lambda backend (not invoked,
so no Docker), and RFT training records (OpenAI chat completion format with a reference answer)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable

HANDLER = "def handler(event, context):\n    return [{'aggregate_reward_score': 1.0} for _ in event]\n"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def create_grader(lambda_client, iam_client, name: str = "reward-function") -> str:
    """Create the grader function (and its execution role) and return its ARN."""
    role = iam_client.create_role(RoleName=f"{name}-execution", AssumeRolePolicyDocument=json.dumps(TRUST))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("grader.py", HANDLER)
    function = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="grader.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    return function["FunctionArn"]


def rft_jsonl(pairs: Iterable[tuple[str, str]]) -> str:
    """JSON Lines of RFT records: the prompt in ``messages`` and the expected answer as ``reference_answer``."""
    return "".join(
        json.dumps({"messages": [{"role": "user", "content": prompt}], "reference_answer": answer}) + "\n"
        for prompt, answer in pairs
    )
