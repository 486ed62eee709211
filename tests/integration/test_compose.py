"""The Docker Compose path, run for real against a Docker engine: built, started, flooded, verified, removed.

Each test uses a Compose project and ports of its own, so a stack a person started is never touched.
Skipped, with the reason, where no engine answers (.ci/run installs and starts one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.network import free_port
from harness.polling import poll
from harness.stack.compose import COMPOSE_FILE, compose_command, engine_answers
from harness.webhook import post_webhook

REPO = COMPOSE_FILE.parent

if shutil.which("docker") is None:
    pytest.skip("no docker CLI on this machine (.ci/run installs Debian's docker.io)", allow_module_level=True)
if not engine_answers():
    pytest.skip(
        "no Docker engine answers `docker info` (.ci/run starts dockerd as root); the Compose path is untested here",
        allow_module_level=True,
    )
try:
    compose_command()
except Exception as error:  # StackError: says which CLI to install
    pytest.skip(str(error), allow_module_level=True)

# The first run builds the project image (about a minute); later runs reuse Docker's layer cache.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]


def docker(*args: str) -> list[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.split()


def leftovers(project: str) -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={project}"
    return {
        "containers": docker("ps", "-aq", "--filter", label),
        "networks": docker("network", "ls", "-q", "--filter", label),
        "volumes": docker("volume", "ls", "-q", "--filter", label),
    }


@pytest.fixture
def compose_harness(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """`harness <args>` on a Compose project of this test's own; `harness down` and a leftover check after."""
    project = f"swh-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "HARNESS_STACK": "docker",
        "HARNESS_COMPOSE_PROJECT": project,
        "HARNESS_PORT": str(free_port()),
        "HARNESS_POSTGRES_PORT": str(free_port()),
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
        "HARNESS_REPORTS_DIR": str(tmp_path / "reports"),
        "HARNESS_STARTUP_TIMEOUT_S": "120",
    }

    def harness(*args: str, timeout_s: float = 600, **extra: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "harness.cli", *args]
        return subprocess.run(
            command, env={**env, **extra}, capture_output=True, text=True, timeout=timeout_s, cwd=REPO
        )

    harness.env = env  # type: ignore[attr-defined]
    harness.project = project  # type: ignore[attr-defined]
    try:
        yield harness
    finally:
        down = harness("down")
        assert down.returncode == 0, down.stderr
        assert leftovers(project) == {"containers": [], "networks": [], "volumes": []}


def test_up_webhook_row_load_verify_down_in_containers(compose_harness, tmp_path):
    up = compose_harness("up", timeout_s=1400)
    assert up.returncode == 0, up.stderr[-3000:]
    outputs = json.loads((tmp_path / "state" / "outputs.json").read_text())
    port = compose_harness.env["HARNESS_PORT"]
    assert outputs["webhook_url"].startswith(f"http://127.0.0.1:{port}/")
    assert f"webhook URL:  {outputs['webhook_url']}" in up.stdout

    (container,) = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={compose_harness.project}")
    (inspected,) = json.loads(subprocess.check_output(["docker", "inspect", container]))
    published = [binding for bindings in inspected["NetworkSettings"]["Ports"].values() for binding in bindings or []]
    assert published and all(binding["HostIp"] == "127.0.0.1" for binding in published), published
    assert not any("docker.sock" in mount.get("Source", "") for mount in inspected["Mounts"]), "no Docker socket"

    # The Compose network's own deploy (the `bootstrap` service) works against the same LocalStack.
    bootstrap = subprocess.run(
        [*compose_command(), "-p", compose_harness.project, "-f", str(COMPOSE_FILE), "run", "--rm", "bootstrap"],
        env=compose_harness.env, capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert bootstrap.returncode == 0, bootstrap.stderr[-3000:]
    assert "webhook URL:" in bootstrap.stdout

    status, body = post_webhook(outputs["webhook_url"], body=b'{"hello": "compose"}')
    assert status == 202, body
    rows = poll(
        lambda: body["id"] in (listing := compose_harness("rows").stdout) and listing,
        timeout_s=60,
        what="the webhook's row",
    )
    assert rows.count(body["id"]) == 1

    load = compose_harness("load", HARNESS_DURATION_S="15s", HARNESS_USERS="10", HARNESS_DRAIN_TIMEOUT_S="120")
    assert load.returncode == 0, load.stderr[-3000:]
    assert "verdict: PASS" in load.stdout

    verify = compose_harness("verify")
    assert verify.returncode == 0, verify.stderr[-3000:]

    status_output = compose_harness("status").stdout
    assert f"docker stack running at http://127.0.0.1:{port}, healthy" in status_output
    assert "localstack: running (healthy)" in status_output  # each container as the engine reports it


def test_postgres_runs_as_a_compose_service_and_takes_the_rows(compose_harness, tmp_path):
    up = compose_harness("up", timeout_s=1400, HARNESS_BACKEND="postgres")
    assert up.returncode == 0, up.stderr[-3000:]
    assert f"PostgreSQL is ready: postgresql://webhook@127.0.0.1:{compose_harness.env['HARNESS_POSTGRES_PORT']}" in (
        up.stderr
    )
    assert "created PostgreSQL table Messages" in up.stderr
    outputs = json.loads((tmp_path / "state" / "outputs.json").read_text())

    status, body = post_webhook(outputs["webhook_url"], body=b'{"hello": "postgres"}')
    assert status == 202, body
    poll(lambda: body["id"] in compose_harness("rows").stdout, timeout_s=60, what="the webhook's PostgreSQL row")

    status_output = compose_harness("status").stdout
    assert "PostgreSQL running (Compose service postgres)" in status_output
    assert "capacity 10 connections" in status_output

    # RDS Proxy as the Compose service `rds-proxy`: the subscriber writes through it, and a load reads both sides.
    proxy_port = str(free_port())
    proxied = {"HARNESS_BACKEND": "postgres", "HARNESS_BACKEND_PROXY": "rds-proxy", "HARNESS_PROXY_PORT": proxy_port}
    up = compose_harness("up", timeout_s=1400, **proxied)
    assert up.returncode == 0, up.stderr[-3000:]
    assert f"RDS Proxy is ready: postgresql://webhook@127.0.0.1:{proxy_port}" in up.stderr, up.stderr[-3000:]
    outputs = json.loads((tmp_path / "state" / "outputs.json").read_text())
    status, body = post_webhook(outputs["webhook_url"], body=b'{"hello": "rds-proxy"}')
    assert status == 202, body
    poll(lambda: body["id"] in compose_harness("rows", **proxied).stdout, timeout_s=60, what="a row via the proxy")
    status_output = compose_harness("status", **proxied).stdout
    assert f"RDS Proxy (pgbouncer, Compose service rds-proxy) on 127.0.0.1:{proxy_port}" in status_output
    assert "behind RDS Proxy" in status_output
    load = compose_harness(
        "load", HARNESS_DURATION_S="10s", HARNESS_USERS="5", HARNESS_DRAIN_TIMEOUT_S="120", **proxied
    )
    assert load.returncode == 0, load.stderr[-3000:]
    proxy = json.loads((tmp_path / "reports" / "latest" / "verify.json").read_text())["backend"]["proxy"]
    assert proxy["pool_size"] == 10 and 1 <= proxy["database_connections_peak"] <= 10, proxy
    assert proxy["borrow_timeouts"] == 0
