"""The one place boto3 clients are built: pinned to the local endpoint with dummy credentials.

Ambient AWS configuration (profiles, real keys, AWS_ENDPOINT_URL) is ignored on purpose, so no call
made by the harness can reach a real AWS account.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.config
import botocore.session

from harness.exceptions import StackError, UnsafeEndpointError
from harness.localstack_extensions.contract import OBSERVER_HEADER
from harness.network import is_local_host
from harness.stack.config import StackSettings

DUMMY_ACCESS_KEY_ID = "test"
DUMMY_SECRET_ACCESS_KEY = "test"

# botocore session variables that would pull in the user's real configuration: neutralised.
_ISOLATED_SESSION_VARS = {
    "profile": (None, None, None, None),
    "config_file": (None, None, os.devnull, None),
    "credentials_file": (None, None, os.devnull, None),
}


def ensure_local_endpoint(endpoint_url: str) -> str:
    """Refuse any endpoint but loopback or a Compose service name (a single label, never AWS)."""
    host = urlparse(endpoint_url).hostname or ""
    if not is_local_host(host):
        raise UnsafeEndpointError(
            f"refusing AWS endpoint {endpoint_url!r}: the harness only talks to a local stack (127.0.0.1, or "
            "the `localstack` service inside Compose); check HARNESS_ENDPOINT_HOST and HARNESS_PORT"
        )
    return endpoint_url


def session(settings: StackSettings) -> boto3.session.Session:
    core = botocore.session.Session(session_vars=_ISOLATED_SESSION_VARS)
    return boto3.session.Session(
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        region_name=settings.region,
        botocore_session=core,
    )


def _mark_observer(request: Any, **_: Any) -> None:
    request.headers[OBSERVER_HEADER] = "1"


def client(service: str, settings: StackSettings, **config: Any) -> Any:
    """A boto3 client for ``service`` against the harness's LocalStack."""
    built = session(settings).client(
        service,
        endpoint_url=ensure_local_endpoint(settings.endpoint_url),
        config=botocore.config.Config(**{"retries": {"mode": "standard", "max_attempts": 3}, **config}),
    )
    # The harness's own requests: reading the evidence must not spend the capacity it measures.
    built.meta.events.register("before-sign", _mark_observer)
    return built


def clients(settings: StackSettings) -> Callable[[str], Any]:
    """``client(service)`` for everything that is handed a client factory (deployer, backend, evidence)."""
    return lambda service: client(service, settings)


def require_stack(settings: StackSettings, sqs: Any = None) -> None:
    """A clear error, not a traceback, when no local stack answers where the settings say."""
    try:
        (sqs or client("sqs", settings)).list_queues(MaxResults=1)
    except Exception as error:
        raise StackError(
            f"no local stack answers at {settings.endpoint_url} ({type(error).__name__}); "
            "start it with `make up` (or `harness up`), or set HARNESS_PORT to where it runs"
        ) from None
