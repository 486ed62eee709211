"""Fixtures the unit tests share: AWS's APIs as moto models them, in memory, for code that only calls them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest


@pytest.fixture
def moto_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """``moto_client("sqs")``: a boto3 client answered by moto in this process (nothing is sent anywhere),
    one per service, as ``harness.aws.client`` gives the harness's code one per call site."""
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        clients: dict[str, Any] = {}

        def client(service: str) -> Any:
            if service not in clients:
                clients[service] = session.client(service)
            return clients[service]

        yield client
