"""The harness's one settings object.

Every field has a default, can be overridden by an environment variable ``HARNESS_<FIELD>`` (or the
name in the field's metadata), and is validated before anything is started or created.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_type_hints

from harness.exceptions import SettingsError

LOOPBACK_HOST = "127.0.0.1"
"""The only address the harness binds to or talks to: loopback, never the network."""


def _setting(default: Any, help: str, env: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True)
class Settings:
    stack: str = _setting(
        "auto", "where LocalStack runs: docker (Compose), embedded, or auto (docker if an engine answers)"
    )
    port: int = _setting(4566, "TCP port of the LocalStack gateway on 127.0.0.1")
    endpoint_host: str = _setting(
        "127.0.0.1",
        "how the harness reaches LocalStack: loopback, or a Compose service name (`localstack`) inside the network",
    )
    region: str = _setting("us-east-1", "AWS region the stack emulates")
    state_dir: Path = _setting(Path(".harness"), "git-ignored folder for the pid file, logs and LocalStack's data")
    startup_timeout_s: float = _setting(60.0, "how long `harness up` waits for a healthy LocalStack")
    stop_timeout_s: float = _setting(15.0, "how long `harness down` waits before it kills with SIGKILL")
    lambda_keepalive_ms: int = _setting(
        600_000, "idle time after which a Lambda execution environment is stopped (LAMBDA_KEEPALIVE_MS)"
    )
    localstack_log_level: str = _setting("info", "LocalStack's own log level (LS_LOG)")

    # --- SQS -> Lambda scaling of the embedded stack (defaults: AWS's documented numbers) ---------
    esm_initial_concurrency: int = _setting(5, "concurrent batches when messages become available (AWS: 5)")
    esm_scale_up_per_minute: float = _setting(
        300.0, "concurrent invocations added per minute while a backlog lasts (AWS: 300)"
    )
    esm_maximum_concurrency: int = _setting(1000, "upper bound of one mapping's concurrency (AWS: 1000)")
    max_concurrent_environments: int | None = _setting(
        None, "host ceiling on concurrent function processes (empty: a quarter of memory at ~60 MB each)"
    )

    # --- the topology (defaults: the reference CDK stack, plus a DLQ) ---------------------------
    name_prefix: str = _setting("", "prefix for every resource name (lets several topologies coexist)")
    table_name: str = _setting("Messages", "DynamoDB table of the backend (partition key `id`)")
    queue_name: str = _setting("webhook-queue", "SQS queue between publisher and subscriber")
    dlq_name: str = _setting("webhook-dlq", "dead-letter queue of the SQS queue")
    visibility_timeout_s: int = _setting(300, "queue visibility timeout (reference stack: 300 s)")
    max_receive_count: int = _setting(5, "receives before a message moves to the DLQ (AWS: 1-1000, >= 5 advised)")
    batch_size: int = _setting(10, "event-source mapping batch size (1-10000; >10 needs a batching window)")
    batching_window_s: int = _setting(0, "MaximumBatchingWindowInSeconds of the event-source mapping (0-300)")
    maximum_concurrency: int | None = _setting(
        None, "ScalingConfig.MaximumConcurrency of the mapping (2-1000; empty = not set)"
    )
    reserved_concurrency: int | None = _setting(
        2, "subscriber reserved concurrency, the throttle (reference: 2; empty = unreserved)"
    )
    publisher_name: str = _setting("webhook-publisher", "publisher function name")
    subscriber_name: str = _setting("webhook-subscriber", "subscriber function name")
    publisher_dir: Path = _setting(Path("functions/publisher"), "folder with the publisher's code")
    subscriber_dir: Path = _setting(Path("functions/subscriber"), "folder with the subscriber's code")
    publisher_handler: str = _setting("app.handler", "publisher handler (module.function)")
    subscriber_handler: str = _setting("app.handler", "subscriber handler (module.function)")
    publisher_timeout_s: int = _setting(10, "publisher function timeout (1-900 s)")
    subscriber_timeout_s: int = _setting(30, "subscriber function timeout (1-900 s, <= visibility timeout)")
    memory_mb: int = _setting(128, "memory size of both functions (128-10240 MB)")
    api_name: str = _setting("webhook-api", "REST API name")
    stage_name: str = _setting("prod", "REST API stage")
    idempotency_headers: str = _setting(
        "Idempotency-Key,X-GitHub-Delivery,X-Webhook-Id",
        "headers whose value becomes the message id, so sender retries collapse into one row",
    )
    backend_latency_ms: int = _setting(
        100, "simulated latency per write in the subscriber, the scale-limited backend (ms; 0: none)"
    )
    fail_path_marker: str = _setting(
        "", "fault injection, off when empty: records whose path contains it always fail (-> DLQ)"
    )

    # --- load runs (`make load`, `make ui`) ---------------------------------------------------------
    shape: str = _setting("burst", "load shape: steady, burst (quiet, spike, quiet) or soak")
    users: int = _setting(20, "peak concurrent Locust users")
    user_rps: float = _setting(2.0, "webhooks per second each user sends (Locust constant_throughput)")
    spawn_rate: float = _setting(10.0, "users started per second")
    duration_s: int = _setting(60, "length of the load (the queue then drains)")
    workers: int = _setting(0, "Locust worker processes (0: one process); the master coordinates them")
    duplicate_share: float = _setting(
        0.1, "share of accepted messages delivered to SQS a second time (at-least-once made visible)"
    )
    idempotency_share: float = _setting(0.3, "share of requests that carry an Idempotency-Key header")
    retry_share: float = _setting(0.2, "share of those the sender retries with the same key")
    poison_share: float = _setting(0.0, "share of requests sent to a path with fail_path_marker (-> DLQ)")
    drain_timeout_s: int = _setting(300, "how long verification waits for the queue to drain")
    # --- fault injection during a load run (off by default) -------------------------------------
    fault_outage_after_s: int | None = _setting(None, "backend outage: starts this many seconds into the load")
    fault_outage_duration_s: int = _setting(10, "backend outage: how long the subscriber's writes fail")
    fault_error_rate: float = _setting(0.0, "share of subscriber writes that fail at random (transient)")
    fault_crash_after_s: int | None = _setting(
        None, "the subscriber's process dies mid-batch once, this many seconds into the load"
    )
    fault_queue_outage_after_s: int | None = _setting(
        None, "publisher-side: SQS unavailable (503s) from this many seconds into the load"
    )
    fault_queue_outage_duration_s: int = _setting(5, "publisher-side: how long SQS is unavailable")
    reports_dir: Path = _setting(Path("reports"), "where runs are written (reports/<run-id>/, reports/latest)")
    ui_port: int = _setting(8089, "Locust web UI port on 127.0.0.1")

    @classmethod
    def env_name(cls, name: str) -> str:
        meta = next(f for f in dataclasses.fields(cls) if f.name == name).metadata
        return meta.get("env") or f"HARNESS_{name.upper()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then the config file, then ``HARNESS_*`` variables, then explicit overrides (CLI flags).

        The config file is ``HARNESS_CONFIG`` or, when that is unset, ``harness.toml`` if it exists: a
        TOML table of setting names, e.g. ``reserved_concurrency = 5``.
        """
        environ = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for name, value in _config_file(environ).items():
            if name not in hints:
                raise SettingsError(f"unknown setting {name!r} in the config file; `harness config` lists them all")
            values[name] = _coerce(name, f"config file key {name}", value, hints[name])
        for f in dataclasses.fields(cls):
            raw = environ.get(cls.env_name(f.name))
            optional = type(None) in get_args(hints[f.name])
            if raw is not None and (raw != "" or optional):  # empty: unset, or None where allowed
                values[f.name] = _parse(f.name, cls.env_name(f.name), raw, hints[f.name])
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in hints:
                raise SettingsError(f"unknown setting {name!r}; `harness config` lists them all")
            values[name] = _coerce(name, f"--{name.replace('_', '-')}", value, hints[name])
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        problems = []
        if not 1 <= self.port <= 65535:
            problems.append(f"port={self.port}: expected a TCP port 1-65535")
        if self.startup_timeout_s <= 0:
            problems.append(f"startup_timeout_s={self.startup_timeout_s}: expected > 0 seconds")
        if self.stop_timeout_s <= 0:
            problems.append(f"stop_timeout_s={self.stop_timeout_s}: expected > 0 seconds")
        if self.lambda_keepalive_ms < 1000:
            problems.append(f"lambda_keepalive_ms={self.lambda_keepalive_ms}: expected >= 1000")
        if self.stack not in {"auto", "docker", "embedded"}:
            problems.append(f"stack={self.stack!r}: expected auto, docker or embedded")
        if not is_local_host(self.endpoint_host):
            problems.append(
                f"endpoint_host={self.endpoint_host!r}: expected 127.0.0.1, localhost or a Compose service name "
                "without dots; the harness never talks to a remote endpoint"
            )
        if self.localstack_log_level not in {"trace", "trace-internal", "debug", "info", "warn", "error"}:
            problems.append(
                f"localstack_log_level={self.localstack_log_level!r}: expected one of trace, debug, info, warn, error"
            )
        problems += self._topology_problems() + self._load_problems()
        if problems:
            raise SettingsError(
                "invalid settings: " + "; ".join(f"{p} (set {self.env_name(p.split('=')[0])})" for p in problems)
            )

    def _load_problems(self) -> list[str]:
        problems = []
        if self.shape not in SHAPES:
            problems.append(f"shape={self.shape!r}: expected one of {', '.join(SHAPES)}")
        for name in ("duplicate_share", "retry_share", "idempotency_share", "poison_share", "fault_error_rate"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name}={getattr(self, name)}: expected a share between 0 and 1")
        if self.poison_share and not self.fail_path_marker:
            problems.append(f"poison_share={self.poison_share}: needs fail_path_marker, or nothing fails")
        for name in ("users", "duration_s", "drain_timeout_s"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)}: expected >= 1")
        if self.user_rps <= 0:
            problems.append(f"user_rps={self.user_rps}: expected > 0")
        if self.spawn_rate <= 0:
            problems.append(f"spawn_rate={self.spawn_rate}: expected > 0")
        if not 0 <= self.workers <= 64:
            problems.append(f"workers={self.workers}: expected 0-64")
        return problems

    def _topology_problems(self) -> list[str]:
        """AWS's own rules, checked before anything is created."""
        problems = []

        def within(name: str, low: int, high: int, why: str = "") -> None:
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                problems.append(f"{name}={value}: expected {low}-{high}{why}")

        within("esm_initial_concurrency", 1, 1000)
        within("esm_maximum_concurrency", 1, 1000)
        within("max_concurrent_environments", 1, 10_000)
        if self.esm_scale_up_per_minute <= 0:
            problems.append(f"esm_scale_up_per_minute={self.esm_scale_up_per_minute}: expected > 0")
        within("visibility_timeout_s", 0, 43_200)
        within("max_receive_count", 1, 1000)
        within("batch_size", 1, 10_000)
        within("batching_window_s", 0, 300)
        within("maximum_concurrency", 2, 1000, " (AWS ScalingConfig.MaximumConcurrency)")
        within("reserved_concurrency", 0, 900, " (the account keeps 100 of 1000 unreserved)")
        within("publisher_timeout_s", 1, 900)
        within("subscriber_timeout_s", 1, 900)
        within("memory_mb", 128, 10_240)
        if self.backend_latency_ms < 0:
            problems.append(f"backend_latency_ms={self.backend_latency_ms}: expected >= 0")
        if self.batch_size > 10 and self.batching_window_s < 1:
            problems.append(
                f"batch_size={self.batch_size}: a batch size over 10 needs batching_window_s >= 1 (AWS rule)"
            )
        if self.subscriber_timeout_s > self.visibility_timeout_s:
            problems.append(
                f"subscriber_timeout_s={self.subscriber_timeout_s}: must not exceed visibility_timeout_s="
                f"{self.visibility_timeout_s} (AWS rejects the event-source mapping)"
            )
        for name in ("table_name", "queue_name", "dlq_name", "publisher_name", "subscriber_name", "api_name"):
            resource = self.resource_name(name)
            if not _NAME_RULES[name].match(resource):
                problems.append(f"{name}={getattr(self, name)!r}: {resource!r} is not a valid {_NAME_HINTS[name]}")
        for name in ("publisher_dir", "subscriber_dir"):
            folder = getattr(self, name)
            handler = getattr(self, name.replace("_dir", "_handler"))
            module_file = folder / (handler.rpartition(".")[0].replace(".", "/") + ".py")
            if not module_file.is_file():
                problems.append(f"{name}={str(folder)!r}: no {module_file} for handler {handler!r}")
        return problems

    def warnings(self) -> list[str]:
        """Legal but risky choices, printed by `harness deploy`."""
        notes = []
        if self.visibility_timeout_s < 6 * self.subscriber_timeout_s + self.batching_window_s:
            notes.append(
                f"visibility_timeout_s={self.visibility_timeout_s} is below 6 x subscriber_timeout_s "
                f"+ batching_window_s ({6 * self.subscriber_timeout_s + self.batching_window_s}), as AWS "
                "advises: throttled or retried batches may be received again while still in flight"
            )
        if self.max_receive_count < 5:
            notes.append(f"max_receive_count={self.max_receive_count} is below the 5 AWS advises")
        if (
            self.maximum_concurrency is not None
            and self.reserved_concurrency is not None
            and self.maximum_concurrency > self.reserved_concurrency
        ):
            notes.append(
                f"maximum_concurrency={self.maximum_concurrency} exceeds reserved_concurrency="
                f"{self.reserved_concurrency}: Lambda may throttle messages (AWS advice)"
            )
        return notes

    def resource_name(self, setting: str) -> str:
        return f"{self.name_prefix}{getattr(self, setting)}"

    # Derived values: computed, never configured separately.
    @property
    def consumer_concurrency_limit(self) -> int | None:
        """What may run at once in the subscriber: the smaller of reserved and maximum concurrency."""
        limits = [limit for limit in (self.reserved_concurrency, self.maximum_concurrency) if limit is not None]
        return min(limits) if limits else None

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

    def to_environment(self) -> dict[str, str]:
        """HARNESS_* variables that recreate these settings in another process (Locust, workers)."""
        return {
            self.env_name(f.name): "" if getattr(self, f.name) is None else str(getattr(self, f.name))
            for f in dataclasses.fields(self)
        }

    def describe(self) -> list[tuple[str, Any, str, str]]:
        """(name, value, env var, help) for every setting, for `harness config`."""
        return [
            (f.name, getattr(self, f.name), self.env_name(f.name), f.metadata["help"]) for f in dataclasses.fields(self)
        ]


SHAPES = ("steady", "burst", "soak")


def is_local_host(host: str) -> bool:
    """Loopback, or a single-label name (a Compose service), which no public DNS resolves: never AWS."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or bool(re.fullmatch(r"[a-z][a-z0-9-]{0,62}", host))


_NAME_RULES = {
    "table_name": re.compile(r"^[A-Za-z0-9_.-]{3,255}$"),
    "queue_name": re.compile(r"^[A-Za-z0-9_-]{1,80}$"),
    "dlq_name": re.compile(r"^[A-Za-z0-9_-]{1,80}$"),
    "publisher_name": re.compile(r"^[A-Za-z0-9_-]{1,64}$"),
    "subscriber_name": re.compile(r"^[A-Za-z0-9_-]{1,64}$"),
    "api_name": re.compile(r"^.{1,1024}$"),
}
_NAME_HINTS = {
    "table_name": "DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)",
    "queue_name": "SQS queue name (1-80 of A-Z a-z 0-9 _ -)",
    "dlq_name": "SQS queue name (1-80 of A-Z a-z 0-9 _ -)",
    "publisher_name": "Lambda function name (1-64 of A-Z a-z 0-9 _ -)",
    "subscriber_name": "Lambda function name (1-64 of A-Z a-z 0-9 _ -)",
    "api_name": "REST API name",
}


def _config_file(environ: Mapping[str, str]) -> dict[str, Any]:
    explicit = environ.get("HARNESS_CONFIG")
    path = Path(explicit) if explicit else Path("harness.toml")
    if not path.is_file():
        if explicit:
            raise SettingsError(f"HARNESS_CONFIG={explicit!r}: no such file")
        return {}
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path} is not valid TOML: {error}") from None


def _coerce(name: str, source: str, value: Any, kind: Any) -> Any:
    base = _base_type(kind)
    if value is None or (isinstance(value, base) and not (base is int and isinstance(value, bool))):
        return value
    return _parse(name, source, str(value), kind)


def _base_type(kind: Any) -> Any:
    """``int | None`` -> int."""
    members = [member for member in get_args(kind) if member is not type(None)]
    return members[0] if members else kind


def _parse(name: str, env: str, raw: str, kind: Any) -> Any:
    optional = type(None) in get_args(kind)
    kind = _base_type(kind)
    if optional and raw.strip().lower() in {"", "none", "null"}:
        return None
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind in (int, float, str, Path):
            return kind(raw)
    except ValueError:
        raise SettingsError(
            f"{env}={raw!r} is not a valid {getattr(kind, '__name__', kind)} for setting {name!r}"
        ) from None
    raise SettingsError(f"setting {name!r} has an unsupported type {kind}")  # pragma: no cover
