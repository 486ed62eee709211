"""The `harness` command as a person runs it: from any folder, against the stack the state folder records."""

from __future__ import annotations

import os
import subprocess
import sys


def harness(*args: str, cwd, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_status_and_config_answer_from_any_folder(localstack, tmp_path):
    env = {"HARNESS_PORT": str(localstack.settings.port), "HARNESS_STATE_DIR": str(localstack.settings.state_path)}
    status = harness("status", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    assert "embedded stack running" in status.stdout and "healthy" in status.stdout
    assert "host ceiling" in status.stdout
    assert "Node.js functions (nodejs22.x, nodejs24.x) run on this machine's Node.js" in status.stdout or (
        "no `node` on the PATH" in status.stdout
    )
    config = harness("config", cwd=tmp_path, env=env)
    assert config.returncode == 0, config.stderr
    assert "# stack" in config.stdout and "# topology" in config.stdout and "# load" in config.stdout


def test_status_says_when_a_stack_answers_that_another_folder_started(localstack, tmp_path):
    env = {"HARNESS_PORT": str(localstack.settings.port)}  # the default state folder: ./.harness, empty
    status = harness("status", cwd=tmp_path, env=env)
    assert status.returncode == 1 and status.stdout.startswith("stopped")
    assert "started from another state folder" in status.stderr and "HARNESS_STATE_DIR" in status.stderr


def test_a_broken_load_setting_does_not_stop_status_or_down(localstack, tmp_path):
    env = {
        "HARNESS_PORT": str(localstack.settings.port),
        "HARNESS_STATE_DIR": str(tmp_path / "elsewhere"),
        "HARNESS_USERS": "0",
        "HARNESS_PUBLISHER_DIR": "/nonexistent",
    }
    assert harness("down", cwd=tmp_path, env=env).returncode == 0
    assert "nothing was running" in harness("down", cwd=tmp_path, env=env).stderr
    config = harness("config", cwd=tmp_path, env=env)
    assert config.returncode == 2 and "users=0" in config.stderr and "publisher_dir" in config.stderr
