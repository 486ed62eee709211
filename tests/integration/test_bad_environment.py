"""A bad environment is said before anything starts: one sentence, what is wrong and what to do, exit 2, and
no LocalStack process, no record, nothing half-started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from harness.network import free_port

pytestmark = pytest.mark.timeout(120)


def harness(*arguments: str, cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HARNESS_")}
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *arguments], cwd=cwd, env=env, capture_output=True, text=True, timeout=90
    )


def localstack_processes_on(port: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            if "localstack.runtime.main" in " ".join(process.info["cmdline"] or []) and f":{port}" in (
                (process.info["environ"] or {}).get("GATEWAY_LISTEN", "")
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def said_once(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 2, one line of error, naming what is wrong and what to do; no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def test_a_state_folder_that_cannot_be_written_is_said_before_anything_starts(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    port = free_port()
    result = harness("up", "--port", str(port), "--state-dir", str(blocker / "state"), cwd=tmp_path)
    said_once(result, "the state folder", "cannot be written", "HARNESS_STATE_DIR")
    assert not localstack_processes_on(port)


def test_a_disk_below_the_margin_is_said_before_anything_starts(tmp_path):
    port = free_port()
    result = harness(
        "up", "--port", str(port), "--state-dir", str(tmp_path / "state"), cwd=tmp_path,
        HARNESS_MIN_FREE_DISK_MB=str(10**9),
    )  # fmt: skip
    said_once(result, "MiB free on the disk of", "HARNESS_MIN_FREE_DISK_MB")
    assert not localstack_processes_on(port) and not (tmp_path / "state" / "stack.json").exists()


def test_a_taken_port_is_said_before_anything_starts(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = harness("up", "--port", str(port), "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    said_once(result, f"port {port}", "HARNESS_PORT")
    assert not localstack_processes_on(port) and not (tmp_path / "state" / "stack.json").exists()


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ("reserved_concurency = 3\n", ("unknown setting", "reserved_concurency", "harness config")),
        ('users = "many"\n', ("users", "many")),
        ("users = [\n", ("harness.toml",)),
    ],
    ids=["unknown key", "wrong type", "not TOML"],
)
def test_a_config_file_with_unknown_keys_or_wrong_types_is_said_before_anything_starts(tmp_path, config, fragments):
    (tmp_path / "harness.toml").write_text(config)
    port = free_port()
    result = harness("up", "--port", str(port), "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    said_once(result, *fragments)
    assert not localstack_processes_on(port) and not (tmp_path / "state" / "stack.json").exists()
