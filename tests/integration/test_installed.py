"""The harness installed into a user's own project: a wheel of this repository in a fresh virtual environment,
a small user-style suite (their CDK stack, their handler folder, the plugin's fixtures) run from a folder
outside this repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.registry, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / "docker" / "wheelhouse"

USER_SUITE = """
from pathlib import Path


def test_their_cdk_stack_is_flooded_and_verified(deploy_stack, run_load):
    topology = deploy_stack("infra/cdk.out")
    status, answer = topology.post("/hello", "{}")
    assert status == 200 and "Message ID" in answer
    verdict, run_dir = run_load(
        topology, shape="steady", users=2, spawn_rate=2.0, duration_s=5, user_rps=2.0, idempotency_share=0.0
    )
    assert verdict.passed, verdict.reasons
    assert verdict.correlation == "token" and (run_dir / "report.html").is_file()


def test_their_subscriber_folder_in_the_harness_topology(deploy_topology):
    topology = deploy_topology(subscriber_dir=Path("my/subscriber"))
    status, answer = topology.post("/hello", "{}")
    assert status == 202
"""


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the harness wheel and the pinned constraints; its bin folder."""
    root = tmp_path_factory.mktemp("installed")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root), str(REPO)],
        REPO,
    )
    wheel = next(root.glob("harness-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "harness/_bundled/functions/publisher/app.py" in names
    assert "harness/_bundled/locustfiles/webhook.py" in names
    _run([sys.executable, "-m", "venv", str(root / "env")], root)
    bin_dir = root / "env" / "bin"
    find_links = ["--find-links", str(WHEELHOUSE)] if (WHEELHOUSE / ".complete").is_file() else []
    _run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *find_links,
         "-c", str(REPO / "constraints.txt"), str(wheel), "pytest", "pytest-timeout"],
        root,
        timeout=1200,
    )  # fmt: skip
    return bin_dir


@pytest.mark.timeout(900)
def test_a_user_project_runs_its_own_suite_with_the_installed_harness(installed, tmp_path):
    project = tmp_path / "my-webhook"
    shutil.copytree(REPO / "tests" / "stacks" / "cdk-webhook" / "cdk.out", project / "infra" / "cdk.out")
    shutil.copytree(REPO / "functions" / "subscriber", project / "my" / "subscriber")
    (project / "tests").mkdir()
    (project / "tests" / "test_webhook.py").write_text(USER_SUITE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARNESS_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{installed}{os.pathsep}{env.get('PATH', '')}"
    # Its own temporary folder: a nested pytest must not rotate this session's numbered ones away.
    suite = ["-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'user-tmp'}", "tests"]
    out = _run([str(installed / "python"), *suite], project, env, 900)
    assert "2 passed" in out, out
    # The command line from the user's folder: its defaults come from the package, not from a checkout.
    config = _run([str(installed / "harness"), "config"], project, env)
    assert "site-packages/harness/_bundled/functions/publisher" in config, config
    assert not (project / "functions").exists()
