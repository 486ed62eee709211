"""The Docker path: LocalStack from its image, run by Docker Compose (docker-compose.yml).

`harness up` starts the `localstack` service and waits for its healthcheck, then deploys from this
machine (the same `harness deploy` the Compose `bootstrap` service runs); `harness down` stops the
project. Load, tests and verification only need the endpoint, 127.0.0.1:4566, as in the embedded mode.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness.exceptions import StackError, StartupError
from harness.settings import Settings

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def docker_engine_answers(timeout_s: float = 5) -> bool:
    """Is there a Docker engine (not just a client)? `docker info` must succeed."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=timeout_s).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class ComposeStack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _compose(self, *args: str, timeout_s: float | None = None) -> subprocess.CompletedProcess:
        command = ["docker", "compose", "-f", str(COMPOSE_FILE), *args]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise StartupError(f"`{' '.join(command)}` did not finish within {timeout_s:.0f}s") from None

    def start(self, progress: Callable[[str], None] = lambda _: None) -> str:
        progress("building and starting the LocalStack image with Docker Compose (first time: image pull) ...")
        result = self._compose("up", "-d", "--build", "--wait", "localstack", timeout_s=600)
        if result.returncode != 0:
            raise StartupError(
                "docker compose could not start LocalStack:\n"
                + (result.stderr or result.stdout)[-2000:]
                + "\nIs your user allowed to use the Docker socket (docker info)? Does the image pull "
                "(localstack/localstack:4.8.1 needs no auth token)? Or run embedded: HARNESS_STACK=embedded"
            )
        return self.settings.host_endpoint_url

    def stop(self) -> int:
        result = self._compose("down", "--remove-orphans", timeout_s=120)
        if result.returncode != 0:
            raise StackError(f"docker compose down failed:\n{result.stderr[-2000:]}")
        return result.stderr.count("Removed")


def stack_for(settings: Settings):
    """The stack `harness up|down|status` manage: Compose when asked or when an engine answers."""
    from harness.stack.embedded import EmbeddedStack

    kind = settings.stack
    if kind == "auto":
        kind = "docker" if docker_engine_answers() else "embedded"
    return ComposeStack(settings) if kind == "docker" else EmbeddedStack(settings)
