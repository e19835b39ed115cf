"""Fixtures for the local AWS emulator tests: in-process clients and a shared server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from include import local_aws
from include.local_aws import CONFIG
from include.local_aws.server import LocalAwsServer

from .helpers import BUCKET, FAST, NO_RETRY, REGION, client, http


@pytest.fixture(autouse=True)
def fast_config() -> Iterator[None]:
    """Short delays for every test; defaults restored afterwards."""
    CONFIG.reset()
    CONFIG.update(**FAST)
    yield
    CONFIG.reset()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process moto with our extension."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with local_aws.mock():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    s3_client = client("s3")
    s3_client.create_bucket(Bucket=BUCKET)
    return s3_client


@pytest.fixture
def bedrock(aws: None) -> Any:
    return client("bedrock")


@pytest.fixture
def runtime(aws: None) -> Any:
    return client("bedrock-runtime", config=NO_RETRY)


@pytest.fixture(scope="session")
def server() -> Iterator[LocalAwsServer]:
    """One emulator server for the session."""
    with LocalAwsServer() as running:
        yield running


@pytest.fixture
def endpoint(server: LocalAwsServer) -> str:
    """The shared server's URL, with its state and config reset for this test."""
    http("POST", server.endpoint_url + "/moto-api/reset")
    CONFIG.reset()
    CONFIG.update(**FAST)
    return server.endpoint_url


