"""What every stack offers (``Stack``), whichever kind it is, and the record of the one `harness up` started.

The state folder records which kind `harness up` started (``stack.json``), so `harness down` and
`harness status` act on what is running, not on a guess.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.exceptions import StartupError
from harness.polling import DeadlineExceeded, poll
from harness.stack.config import StackSettings

if TYPE_CHECKING:
    from harness.backend.base import Hosting

HEALTH_PATH = "/_localstack/health"
STACK_RECORD = "stack.json"


@dataclass
class StackStatus:
    kind: str
    running: bool
    healthy: bool
    endpoint: str
    pid: int | None = None
    function_processes: int | None = None
    notes: list[str] = field(default_factory=list)
    """Fidelity limits and other things a person should know about this stack."""


class Stack(Protocol):
    kind: str
    settings: StackSettings

    @property
    def endpoint(self) -> str: ...

    @property
    def log_location(self) -> str:
        """Where a person reads the stack's log."""
        ...

    def start(self, progress: Callable[[str], None] = ...) -> str:
        """Start and wait until healthy; the endpoint. AlreadyRunningError when it already runs."""
        ...

    def stop(self) -> int:
        """Stop everything this stack started; how many processes or containers ended."""
        ...

    def status(self) -> StackStatus: ...

    def logs(self, lines: int = 30) -> str:
        """The last lines of the stack's log."""
        ...

    def hosting(self) -> Hosting:
        """Where a backend that runs a server runs it beside this stack, and how the functions reach it."""
        ...


def is_healthy(endpoint: str, timeout_s: float = 2) -> bool:
    """Does LocalStack answer its health check at ``endpoint``?"""
    try:
        with urllib.request.urlopen(endpoint + HEALTH_PATH, timeout=timeout_s) as response:
            return response.status == 200 and "services" in json.load(response)
    except (OSError, ValueError):
        return False


def wait_until_healthy(
    healthy: Callable[[], bool],
    settings: StackSettings,
    what: str,
    logs: Callable[[], str],
    progress: Callable[[str], None],
    interval_s: float = 0.2,
) -> None:
    """Poll ``healthy`` up to HARNESS_STARTUP_TIMEOUT_S, with progress; StartupError with the log's tail."""
    try:
        poll(
            healthy,
            timeout_s=settings.startup_timeout_s,
            interval_s=interval_s,
            progress=lambda _, elapsed: progress(f"waiting for {what} ({elapsed:.0f}s)..."),
            progress_every_s=5,
        )
    except DeadlineExceeded:
        raise StartupError(
            f"{what} was not healthy within {settings.startup_timeout_s:.0f}s (HARNESS_STARTUP_TIMEOUT_S); "
            f"last lines of its log:\n{logs()}"
        ) from None


def record_path(settings: StackSettings) -> Path:
    return settings.state_path / STACK_RECORD


def read_record(settings: StackSettings) -> dict[str, Any]:
    """What `harness up` recorded about the stack it started ({} when none)."""
    try:
        return json.loads(record_path(settings).read_text())
    except (OSError, ValueError):
        return {}


def write_record(settings: StackSettings, **record: Any) -> None:
    path = record_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record) + "\n")
