"""The harness's one settings object.

Every field has a default, can be overridden by an environment variable ``HARNESS_<FIELD>`` (or the
name in the field's metadata), and is validated before anything is started or created.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from harness.exceptions import SettingsError

LOOPBACK_HOST = "127.0.0.1"
"""The only address the harness binds to or talks to: loopback, never the network."""


def _setting(default: Any, help: str, env: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True)
class Settings:
    port: int = _setting(4566, "TCP port of the LocalStack gateway on 127.0.0.1")
    region: str = _setting("us-east-1", "AWS region the stack emulates")
    state_dir: Path = _setting(
        Path(".harness"), "git-ignored folder for the pid file, logs and LocalStack's data"
    )
    startup_timeout_s: float = _setting(60.0, "how long `harness up` waits for a healthy LocalStack")
    stop_timeout_s: float = _setting(15.0, "how long `harness down` waits before it kills with SIGKILL")
    lambda_keepalive_ms: int = _setting(
        600_000, "idle time after which a Lambda execution environment is stopped (LAMBDA_KEEPALIVE_MS)"
    )
    localstack_log_level: str = _setting("info", "LocalStack's own log level (LS_LOG)")

    @classmethod
    def env_name(cls, name: str) -> str:
        meta = next(f for f in dataclasses.fields(cls) if f.name == name).metadata
        return meta.get("env") or f"HARNESS_{name.upper()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``HARNESS_*`` variables, then explicit overrides (e.g. CLI flags)."""
        environ = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(cls.env_name(f.name))
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, cls.env_name(f.name), raw, hints[f.name])
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in hints:
                raise SettingsError(f"unknown setting {name!r}; `harness config` lists them all")
            if not isinstance(value, hints[name]):
                value = _parse(name, f"--{name.replace('_', '-')}", str(value), hints[name])
            values[name] = value
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
        if self.localstack_log_level not in {"trace", "trace-internal", "debug", "info", "warn", "error"}:
            problems.append(
                f"localstack_log_level={self.localstack_log_level!r}: expected one of "
                "trace, debug, info, warn, error"
            )
        if problems:
            raise SettingsError(
                "invalid settings: "
                + "; ".join(f"{p} (set {self.env_name(p.split('=')[0])})" for p in problems)
            )

    # Derived values: computed, never configured separately.
    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK_HOST}:{self.port}"

    @property
    def state_path(self) -> Path:
        return self.state_dir.resolve()

    def describe(self) -> list[tuple[str, Any, str, str]]:
        """(name, value, env var, help) for every setting, for `harness config`."""
        return [
            (f.name, getattr(self, f.name), self.env_name(f.name), f.metadata["help"])
            for f in dataclasses.fields(self)
        ]


def _parse(name: str, env: str, raw: str, kind: Any) -> Any:
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
