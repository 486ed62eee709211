"""The Docker path: LocalStack in a container built by the project, run by Docker Compose. Only when asked.

`HARNESS_STACK=docker harness up` builds the project image (docker/Dockerfile), starts the `localstack`
service (and `postgres` with HARNESS_BACKEND=postgres), waits for its health check, then deploys from
this machine, as in the embedded mode; `harness down` removes the project's containers, network and
volumes. Load, tests and verification only need the published endpoint, 127.0.0.1:PORT.

Compose itself builds, starts and removes (`up`, `down`, `build`, `rm`: v2's `docker compose` or v1's
`docker-compose`, Debian's package); what the engine knows (is it up, the project's containers, their
health and logs, what is left after `down`) is asked of it through the Docker SDK for Python.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docker.errors import DockerException

import docker
from harness.backend.base import Hosting
from harness.exceptions import AlreadyRunningError, StackError, StartupError
from harness.polling import DeadlineExceeded, poll
from harness.processes import log_tail
from harness.stack.base import StackStatus, is_healthy, read_record, record_path, wait_until_healthy, write_record
from harness.stack.config import StackSettings

REPOSITORY = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPOSITORY / "docker-compose.yml"
BUILD_TIMEOUT_S = 1800
FUNCTION_PROCESS_MARK = "lambda_executor/runtime.py"
"""In `docker top`: the command line of an execution environment of the local-process executor."""


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


def engine() -> docker.DockerClient | None:
    """The Docker engine DOCKER_HOST (default: the local socket) names, when it answers."""
    try:
        client = docker.from_env(timeout=30)
        client.ping()
        return client
    except DockerException:
        return None


def engine_answers() -> bool:
    return engine() is not None


PROJECT_LABEL, SERVICE_LABEL = "com.docker.compose.project", "com.docker.compose.service"
"""The labels Compose (v1 and v2) puts on what it creates."""


class ComposeStack:
    kind = "docker"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint_url

    @property
    def project(self) -> str:
        return self.settings.compose_project

    @property
    def log_location(self) -> str:
        return f"{' '.join(compose_command())} -p {self.project} logs localstack"

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """What the Compose file substitutes: this machine's settings, passed into the containers."""
        env = {**os.environ, **(extra or {})}
        env.update(self.settings.scaling_environment())
        env[self.settings.env_name("port")] = str(self.settings.port)
        env[self.settings.env_name("lambda_keepalive_ms")] = str(self.settings.lambda_keepalive_ms)
        env[self.settings.env_name("localstack_log_level")] = self.settings.localstack_log_level
        return env

    def command(self, *args: str) -> list[str]:
        return [*compose_command(), "-p", self.project, "-f", str(COMPOSE_FILE), *args]

    def compose(
        self, *args: str, timeout_s: float | None = 300, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """Run Compose on this project, its output captured."""
        command = self.command(*args)
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, cwd=REPOSITORY, env=self.environment(extra)
            )
        except subprocess.TimeoutExpired:
            raise StartupError(f"`{' '.join(command)}` did not finish within {timeout_s:.0f}s") from None

    def build(self, service: str, progress: Callable[[str], None]) -> None:
        """Build the project image; its output goes to a log in the state folder, progress every 10 s."""
        log_path = self.settings.state_path / "docker-build.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                self.command("build", service), stdout=log, stderr=subprocess.STDOUT, cwd=REPOSITORY,
                env=self.environment(),
            )  # fmt: skip
            try:
                poll(
                    lambda: process.poll() is not None,
                    timeout_s=BUILD_TIMEOUT_S,
                    interval_s=0.5,
                    what="the project image to build",
                    progress=lambda _, elapsed: progress(
                        f"  building the project image ({elapsed:.0f}s; log: {log_path})"
                    ),
                    progress_every_s=10,
                )
            except DeadlineExceeded:
                process.kill()
                raise StartupError(
                    f"building the project image took over {BUILD_TIMEOUT_S}s; log: {log_path}"
                ) from None
        if process.returncode != 0:
            raise StartupError(
                f"Docker Compose could not build the project image; the end of {log_path}:\n"
                f"{log_tail(log_path, 25)}\n"
                "Where no registry serves python:3.11-slim, build it first: `make docker-base`; where pip cannot "
                "reach PyPI from inside a build, fetch the wheels on this machine first: `make wheelhouse`"
            )

    def start(self, progress: Callable[[str], None] = lambda _: None) -> str:
        if read_record(self.settings).get("kind") == self.kind and self.is_healthy():
            raise AlreadyRunningError(f"LocalStack (Docker Compose) is already running at {self.endpoint}")
        self.start_services(["localstack"], progress)
        write_record(self.settings, kind=self.kind, endpoint=self.endpoint, project=self.project)
        wait_until_healthy(self.is_healthy, self.settings, "LocalStack's container", self.logs, progress, 0.5)
        return self.settings.host_endpoint_url

    def start_services(
        self,
        services: list[str],
        progress: Callable[[str], None] = lambda _: None,
        environment: dict[str, str] | None = None,
    ) -> None:
        """Build the project image (cached after the first time) and start ``services``, detached.

        ``environment``: settings of these services; Compose recreates a service whose settings changed.
        """
        if not engine_answers():
            raise StartupError(
                "HARNESS_STACK=docker, but no Docker engine answers (`docker info` failed): start one (as root: "
                "`dockerd &`; .ci/run shows how), check that your user may use /var/run/docker.sock, or use the "
                "embedded stack (unset HARNESS_STACK)"
            )
        progress(f"building the project image and starting {', '.join(services)} with Docker Compose ...")
        self.build(services[0], progress)
        result = self.compose("up", "-d", "--no-build", *services, extra=environment)
        if result.returncode != 0:
            raise StartupError(f"Docker Compose could not start {', '.join(services)}:\n{result.stderr[-2000:]}")

    def is_healthy(self) -> bool:
        return is_healthy(self.settings.host_endpoint_url)

    def logs(self, lines: int = 30, service: str = "localstack") -> str:
        """The last ``lines`` of ``service``'s containers' logs."""
        found = [
            container.logs(tail=lines).decode(errors="replace").strip()
            for container in self._containers(all_states=True, service=service)
        ]
        return "\n".join(log for log in found if log) or "(no log)"

    def _labels(self, service: str | None = None) -> list[str]:
        return [f"{PROJECT_LABEL}={self.project}", *([f"{SERVICE_LABEL}={service}"] if service else [])]

    def _containers(self, all_states: bool = False, service: str | None = None) -> list[Any]:
        client = engine()
        if client is None:
            return []
        with contextlib.closing(client):
            return client.containers.list(all=all_states, filters={"label": self._labels(service)})

    def containers(self, all_states: bool = False, service: str | None = None) -> list[str]:
        """Ids of the project's containers (running ones, or all with ``all_states``; of one ``service``)."""
        return [container.id for container in self._containers(all_states, service)]

    def leftovers(self) -> dict[str, list[str]]:
        """The project's containers, networks and volumes the engine still has (none after `down`)."""
        client = engine()
        if client is None:
            return {}
        label = {"label": self._labels()}
        with contextlib.closing(client):
            found = {
                "containers": [c.name for c in client.containers.list(all=True, filters=label)],
                "networks": [n.name for n in client.networks.list(filters=label)],
                "volumes": [v.name for v in client.volumes.list(filters=label)],
            }
        return {kind: names for kind, names in found.items() if names}

    def stop(self) -> int:
        containers = self.containers(all_states=True)
        if containers or engine_answers():
            result = self.compose("down", "--remove-orphans", "--volumes", "--timeout", "10")
            if result.returncode != 0:
                raise StackError(f"docker compose down failed:\n{result.stderr[-2000:]}")
            left = self.leftovers()
            if left:
                listed = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in left.items())
                raise StackError(
                    f"`docker compose down` left parts of the project {self.project} behind ({listed}); remove them "
                    "with `docker rm -f`, `docker network rm` and `docker volume rm`, then run `make down` again"
                )
        if read_record(self.settings).get("kind") == self.kind:
            record_path(self.settings).unlink(missing_ok=True)
        return len(containers)

    def function_processes(self) -> int:
        """Execution environments (function processes) running inside the LocalStack container."""
        processes = 0
        for container in self._containers(service="localstack"):
            with contextlib.suppress(DockerException):
                processes += sum(FUNCTION_PROCESS_MARK in " ".join(row) for row in container.top()["Processes"] or [])
        return processes

    def status(self) -> StackStatus:
        containers = self._containers()
        running = bool(containers)
        health = [
            f"{container.labels.get(SERVICE_LABEL, container.name)}: {container.status}"
            + (f" ({state})" if (state := (container.attrs["State"].get("Health") or {}).get("Status")) else "")
            for container in containers
        ]
        return StackStatus(
            kind=self.kind,
            running=running,
            healthy=running and self.is_healthy(),
            endpoint=self.settings.host_endpoint_url,
            function_processes=self.function_processes() if running else 0,
            notes=[f"{len(containers)} running container(s) of the Compose project {self.project}: "
                   + (", ".join(health) or "none")],
        )  # fmt: skip

    # --- where a backend's server runs: a service of this project (harness.backend.base.Services) -------

    def hosting(self) -> Hosting:
        return Hosting(self.settings.state_path, self.settings.startup_timeout_s, self.settings.endpoint_host, self)

    def start_service(self, service: str, environment: dict[str, str], progress: Callable[[str], None]) -> None:
        self.start_services([service], progress, environment)

    def service_running(self, service: str) -> bool:
        return bool(self.containers(service=service))

    def remove_service(self, service: str, timeout_s: float) -> int:
        running = len(self.containers(service=service))
        self.compose("rm", "--stop", "--force", service, timeout_s=timeout_s + 60)
        return running

    def service_logs(self, service: str, lines: int = 30) -> str:
        return self.logs(lines, service=service)
