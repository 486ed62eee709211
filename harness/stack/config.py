"""Settings of the stack: where LocalStack runs, how the harness reaches it, how SQS pollers scale."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.localstack_extensions.sqs_scaling.config import (
    HOST_CEILING_VARIABLE,
    INITIAL_VARIABLE,
    MAXIMUM_VARIABLE,
    SCALE_UP_VARIABLE,
    ScalingConfig,
)
from harness.network import LOOPBACK_HOST, is_local_host
from harness.settings import SettingsGroup, option

STACK_KINDS = ("embedded", "docker")
LOG_LEVELS = ("trace", "trace-internal", "debug", "info", "warn", "error")
GATEWAY_SERVERS = {"threaded": "threaded-loopback", "twisted": "twisted-loopback"}
"""The gateway's HTTP server (GATEWAY_SERVER): the harness's extensions, both bound to the listen host only."""


@dataclass(frozen=True)
class StackSettings(SettingsGroup):
    title = "stack"

    stack: str = option(
        "embedded",
        "where `harness up` starts LocalStack: embedded (a local process) or docker (Docker Compose)",
        choices=STACK_KINDS,
    )
    compose_project: str = option(
        "scalable-webhook",
        "docker: the Compose project name (its containers, network and volumes; .env gives plain "
        "`docker compose` the same)",
    )
    port: int = option(4566, "TCP port of the LocalStack gateway on 127.0.0.1", low=1, high=65535)
    endpoint_host: str = option(
        LOOPBACK_HOST,
        "how the harness reaches LocalStack: loopback, or a Compose service name (`localstack`) inside the network",
    )
    region: str = option("us-east-1", "AWS region the stack emulates")
    state_dir: Path = option(Path(".harness"), "git-ignored folder for the stack record, logs and LocalStack's data")
    startup_timeout_s: float = option(
        60.0, "how long `harness up` waits for a healthy LocalStack", low=0.1, duration=True
    )
    stop_timeout_s: float = option(
        15.0, "how long `harness down` waits before it kills with SIGKILL", low=0.1, duration=True
    )
    lambda_keepalive_ms: int = option(
        600_000, "idle time after which a Lambda execution environment is stopped (LAMBDA_KEEPALIVE_MS)", low=1000
    )
    localstack_log_level: str = option("info", "LocalStack's own log level (LS_LOG)", choices=LOG_LEVELS)
    min_free_disk_mb: int = option(
        512,
        "free disk space (MiB) under the state and reports folders below which a command refuses to start: "
        "LocalStack's data, function packages, logs and reports grow during a run",
        low=0,
    )
    gateway_server: str = option(
        "threaded",
        "LocalStack's HTTP server: threaded (a thread per connection reads, serves and answers) or twisted "
        "(LocalStack's own, a reactor handing each request to a thread pool and back)",
        choices=tuple(GATEWAY_SERVERS),
    )
    # SQS -> Lambda scaling of the embedded stack: the extension's own defaults and variables (AWS's numbers).
    esm_initial_concurrency: int = option(
        ScalingConfig.initial_concurrency,
        "concurrent batches when messages become available (AWS: 5)",
        env=INITIAL_VARIABLE,
        low=1,
        high=1000,
    )
    esm_scale_up_per_minute: float = option(
        ScalingConfig.scale_up_per_minute,
        "concurrent invocations added per minute while a backlog lasts (AWS: 300)",
        env=SCALE_UP_VARIABLE,
        low=0.001,
    )
    esm_maximum_concurrency: int = option(
        ScalingConfig.maximum_concurrency,
        "upper bound of one mapping's concurrency (AWS: 1000)",
        env=MAXIMUM_VARIABLE,
        low=1,
        high=1000,
    )
    max_concurrent_environments: int | None = option(
        None,
        "host ceiling on concurrent function processes (empty: a quarter of memory at ~60 MB each)",
        env=HOST_CEILING_VARIABLE,
        low=1,
        high=10_000,
        shown_default="(auto: ¼ of memory / 60 MB)",
    )

    def problems(self) -> list[str]:
        found = []
        if not is_local_host(self.endpoint_host):
            found.append(
                f"endpoint_host={self.endpoint_host!r}: expected 127.0.0.1, localhost or a Compose service name "
                "without dots; the harness never talks to a remote endpoint"
            )
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", self.compose_project):
            found.append(
                f"compose_project={self.compose_project!r}: expected lowercase letters, digits, '-' and '_' "
                "(Compose's rule for project names)"
            )
        return found

    @property
    def endpoint_url(self) -> str:
        """Where the harness's own clients send requests (differs from the host's view inside Compose)."""
        return f"http://{self.endpoint_host}:{self.port}"

    @property
    def host_endpoint_url(self) -> str:
        """Where a person on this machine reaches LocalStack (curl, a browser): always loopback."""
        return f"http://{LOOPBACK_HOST}:{self.port}"

    @property
    def state_path(self) -> Path:
        return self.state_dir.resolve()

    def scaling_environment(self) -> dict[str, str]:
        """The variables the `sqs_scaling` extension reads inside LocalStack (unset ones: its defaults)."""
        names = ("esm_initial_concurrency", "esm_scale_up_per_minute", "esm_maximum_concurrency")
        names += ("max_concurrent_environments",)
        return {self.env_name(name): str(getattr(self, name)) for name in names if getattr(self, name) is not None}
