"""The landing zone deployed into moto, for the landing-zone and preflight tests."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
STACK = "bedrock-lz"
# moto says so for every resource type it skips; deploy.py fills those gaps.
logging.getLogger("moto").setLevel(logging.ERROR)


@dataclass
class LandingZone:
    outputs: dict[str, str]
    session: Any

    @property
    def bucket(self) -> str:
        return self.outputs["BucketName"]

    @property
    def subnet_ids(self) -> list[str]:
        return self.outputs["SubnetIds"].split(",")

    @property
    def group_id(self) -> str:
        return self.outputs["SecurityGroupId"]

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=REGION)


class CachingSession:
    """A boto3 session handing out one client per service: creating clients (EC2's especially) is what
    makes moto tests slow, and clients stay valid from one ``mock_aws`` context to the next."""

    def __init__(self) -> None:
        import boto3

        self._session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )

    @functools.cache  # noqa: B019 (one instance per test run)
    def client(self, service: str, region_name: str = REGION) -> Any:
        return self._session.client(service, region_name=region_name)


_SESSION: list[CachingSession] = []


def _session() -> CachingSession:
    if not _SESSION:
        _SESSION.append(CachingSession())
    return _SESSION[0]


@contextmanager
def emulated_landing_zone(monkeypatch, **params: Any) -> Iterator[LandingZone]:
    """The emulator (moto with our Bedrock) with the landing zone deployed (gaps filled), as on real AWS."""
    from include import local_aws
    from include.infra.deploy import deploy_landing_zone

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # no instances here; saves 0.25 s per test
    with local_aws.mock():
        session = _session()
        yield LandingZone(deploy_landing_zone(STACK, REGION, session=session, **params), session)
