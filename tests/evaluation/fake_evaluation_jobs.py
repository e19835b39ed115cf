"""Bedrock's evaluation-job API answered in memory on a real botocore client (the emulator has no evaluation
jobs yet).

The client still validates every request against botocore's service model and raises its own typed errors
(``ConflictException``, ``ResourceNotFoundException``...); only the HTTP exchange is replaced, by ``before-call``
handlers for CreateEvaluationJob, GetEvaluationJob, ListEvaluationJobs, StopEvaluationJob and (for evaluation-job
ARNs) ListTagsForResource. Other calls go on to the emulator.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
ARN_PREFIX = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:evaluation-job/"
OPERATIONS = (
    "CreateEvaluationJob",
    "GetEvaluationJob",
    "ListEvaluationJobs",
    "StopEvaluationJob",
    "ListTagsForResource",
)


@dataclass
class FakeEvaluationJobs:
    """In-memory evaluation jobs: InProgress for ``polls`` GetEvaluationJob calls, then ``outcome``.

    ``calls`` records ``(operation, params)`` of every call answered here.
    """

    polls: int = 1
    outcome: str = "Completed"
    failure_messages: list[str] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _gets: dict[str, int] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def install(self, client: Any) -> Any:
        """Answer ``client``'s evaluation-job calls from here; returns the client."""
        for operation in OPERATIONS:
            client.meta.events.register(f"before-parameter-build.bedrock.{operation}", self._keep_params)
            client.meta.events.register(f"before-call.bedrock.{operation}", self._answer)
        return client

    def of(self, operation: str) -> list[dict[str, Any]]:
        """The params of every call of ``operation``."""
        return [params for name, params in self.calls if name == operation]

    def add(
        self, name: str, status: str = "InProgress", tags: list[dict[str, str]] | None = None, **job
    ) -> str:
        """A job created behind the operator's back (e.g. by someone else); returns its ARN."""
        arn = f"{ARN_PREFIX}{next(self._ids):012d}"
        self.jobs[arn] = {"jobName": name, "jobArn": arn, "status": status, **job}
        self.tags[arn] = list(tags or [])
        return arn

    # ------------------------------------------------------------------------------------------ handlers

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["fake_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[Any, dict] | None:
        from botocore.awsrequest import AWSResponse

        params = context.get("fake_params", {})
        if model.name == "ListTagsForResource" and not params["resourceARN"].startswith(ARN_PREFIX):
            return None  # not an evaluation job: the emulator answers
        self.calls.append((model.name, params))
        status, body = getattr(self, f"_{model.name}")(**params)
        return AWSResponse("https://bedrock.fake", status, {}, None), body

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple[int, dict]:
        return status, {"Error": {"Code": code, "Message": message}}

    def _CreateEvaluationJob(self, **request: Any) -> tuple[int, dict]:
        token = request.get("clientRequestToken")
        for job in self.jobs.values():
            if token and job.get("clientRequestToken") == token:
                return 200, {"jobArn": job["jobArn"]}  # an idempotent repeat
            if job["jobName"] == request["jobName"]:
                return self._error(409, "ConflictException", f"Job name {request['jobName']} already exists")
        arn = self.add(
            request["jobName"],
            tags=request.get("jobTags"),
            clientRequestToken=token,
            roleArn=request["roleArn"],
            jobType="Automated",
            applicationType=request.get("applicationType", "ModelEvaluation"),
            evaluationConfig=request["evaluationConfig"],
            inferenceConfig=request["inferenceConfig"],
            outputDataConfig=request["outputDataConfig"],
            creationTime=datetime.now(UTC),
        )
        return 201, {"jobArn": arn}

    def _GetEvaluationJob(self, jobIdentifier: str) -> tuple[int, dict]:
        job = self.jobs.get(jobIdentifier)
        if job is None:
            return self._error(404, "ResourceNotFoundException", f"No evaluation job {jobIdentifier}")
        self._gets[jobIdentifier] = self._gets.get(jobIdentifier, 0) + 1
        if job["status"] == "InProgress" and self._gets[jobIdentifier] > self.polls:
            job["status"] = self.outcome
            if self.outcome == "Failed":
                job["failureMessages"] = list(self.failure_messages)
        elif job["status"] == "Stopping":
            job["status"] = "Stopped"
        return 200, {k: v for k, v in job.items() if k != "clientRequestToken"}

    def _ListEvaluationJobs(self, nameContains: str = "", **_: Any) -> tuple[int, dict]:
        summaries = [
            {key: job[key] for key in ("jobArn", "jobName", "status")}
            | {"creationTime": job.get("creationTime", datetime.now(UTC)), "jobType": "Automated"}
            | {"evaluationTaskTypes": ["QuestionAndAnswer"], "modelIdentifiers": ["m"]}
            for job in self.jobs.values()
            if nameContains in job["jobName"]
        ]
        return 200, {"jobSummaries": summaries}

    def _StopEvaluationJob(self, jobIdentifier: str) -> tuple[int, dict]:
        job = self.jobs.get(jobIdentifier)
        if job is None:
            return self._error(404, "ResourceNotFoundException", f"No evaluation job {jobIdentifier}")
        if job["status"] != "InProgress":
            return self._error(400, "ValidationException", f"Job {jobIdentifier} is {job['status']}")
        job["status"] = "Stopping"
        return 200, {}

    def _ListTagsForResource(self, resourceARN: str) -> tuple[int, dict]:
        if resourceARN not in self.jobs:
            return self._error(404, "ResourceNotFoundException", f"No resource {resourceARN}")
        return 200, {"tags": self.tags[resourceARN]}
