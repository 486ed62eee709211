"""The Docker path: LocalStack in a container, run by Docker Compose (docker-compose.yml). Only when asked.

`HARNESS_STACK=docker harness up` starts the `localstack` service and waits for it to answer, then
deploys from this machine (the same `harness deploy` the Compose `bootstrap` service runs); `harness
down` removes the project's containers, network and volumes. Load, tests and verification only need
the endpoint, 127.0.0.1:4566, as in the embedded mode. Works with Compose v2 (`docker compose`) or
v1 (`docker-compose`, Debian's package).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness.exceptions import AlreadyRunningError, StackError, StartupError
from harness.stack import StackStatus, is_healthy, read_record, record_path, wait_until_healthy, write_record
from harness.stack.config import StackSettings

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def compose_command() -> list[str]:
    """`docker compose` (v2 plugin) when it answers, else `docker-compose` (v1); StackError when neither."""
    if shutil.which("docker"):
        try:
            if subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20).returncode == 0:
                return ["docker", "compose"]
        except (OSError, subprocess.TimeoutExpired):
            pass
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise StackError(
        "HARNESS_STACK=docker needs Docker Compose, and neither `docker compose` (the v2 plugin) nor "
        "`docker-compose` (v1; Debian: apt-get install docker-compose) is installed; install one, or use "
        "the embedded stack (unset HARNESS_STACK)"
    )


class ComposeStack:
    kind = "docker"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint_url

    @property
    def log_location(self) -> str:
        return f"docker compose -f {COMPOSE_FILE} logs localstack"

    def _compose(self, *args: str, timeout_s: float | None = None) -> subprocess.CompletedProcess:
        command = [*compose_command(), "-f", str(COMPOSE_FILE), *args]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise StartupError(f"`{' '.join(command)}` did not finish within {timeout_s:.0f}s") from None

    def start(self, progress: Callable[[str], None] = lambda _: None) -> str:
        if read_record(self.settings).get("kind") == self.kind and self.is_healthy():
            raise AlreadyRunningError(f"LocalStack (Docker Compose) is already running at {self.endpoint}")
        progress("building and starting the LocalStack service with Docker Compose ...")
        result = self._compose("up", "-d", "--build", "localstack", timeout_s=1800)
        if result.returncode != 0:
            raise StartupError(
                "Docker Compose could not start LocalStack:\n"
                + (result.stderr or result.stdout)[-2000:]
                + "\nIs your user allowed to use the Docker socket (`docker info`)? Or use the embedded stack: "
                "unset HARNESS_STACK"
            )
        write_record(self.settings, kind=self.kind, endpoint=self.endpoint, compose_file=str(COMPOSE_FILE))
        wait_until_healthy(self.is_healthy, self.settings, "LocalStack's container", self.logs, progress, 0.5)
        return self.settings.host_endpoint_url

    def is_healthy(self) -> bool:
        return is_healthy(self.endpoint)

    def logs(self, lines: int = 30) -> str:
        result = self._compose("logs", "--no-color", "--tail", str(lines), "localstack", timeout_s=60)
        return (result.stdout or result.stderr).strip() or "(no log)"

    def containers(self) -> list[str]:
        result = self._compose("ps", "-q", timeout_s=60)
        return result.stdout.split() if result.returncode == 0 else []

    def stop(self) -> int:
        running = len(self.containers())
        result = self._compose("down", "--remove-orphans", "--volumes", timeout_s=300)
        if result.returncode != 0:
            raise StackError(f"docker compose down failed:\n{result.stderr[-2000:]}")
        if read_record(self.settings).get("kind") == self.kind:
            record_path(self.settings).unlink(missing_ok=True)
        return running

    def status(self) -> StackStatus:
        containers = self.containers()
        return StackStatus(
            kind=self.kind,
            running=bool(containers),
            healthy=bool(containers) and self.is_healthy(),
            endpoint=self.settings.host_endpoint_url,
            notes=[f"{len(containers)} container(s) of the Compose project"],
        )
