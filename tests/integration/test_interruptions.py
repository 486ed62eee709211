"""A run that is interrupted still ends with a true statement: Ctrl-C or SIGTERM give an INCOMPLETE report
of what was collected, LocalStack dying gives a VOID one (never "N lost"); Locust and every helper stop,
`reports/latest` points at the interrupted run, and the next `make up` starts cleanly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from harness.evidence import Accepted
from harness.network import free_port
from harness.outputs import outputs_path
from harness.polling import poll
from harness.stack.base import STACK_RECORD
from harness.stack.config import StackSettings
from harness.stack.embedded import EmbeddedStack
from harness.topology.config import TopologySettings
from harness.topology.deploy import Deployer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def own_state(topology, tmp_path: Path) -> Path:
    """A state folder that records ``topology``: other tests deploy (and destroy) theirs in the session's."""
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(topology.stack.state_path / STACK_RECORD, state)
    topology.outputs.save(outputs_path(topology.stack.replace(state_dir=state)))
    return state


def start_load(stack: StackSettings, state: Path, reports: Path, duration_s: int = 60) -> subprocess.Popen:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("HARNESS_")},
        **stack.to_environment(),
        "HARNESS_STATE_DIR": str(state),
        "HARNESS_REPORTS_DIR": str(reports),
        "HARNESS_SHAPE": "steady",
        "HARNESS_USERS": "4",
        "HARNESS_SPAWN_RATE": "4",
        "HARNESS_DURATION_S": str(duration_s),
        "HARNESS_DUPLICATE_SHARE": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "load"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's Ctrl-C reaches the whole group: the harness and Locust
    )


def accepted_so_far(reports: Path) -> int:
    """Accepted as the verdict counts them (distinct requests): the records also hold unanswered ones."""
    runs = [run_dir for run_dir in reports.glob("*/") if run_dir.name != "latest"]
    return sum(len(owners) for run_dir in runs for owners in Accepted.load(run_dir).events_by_id().values())


def the_run(reports: Path) -> Path:
    (run_dir,) = [path for path in reports.iterdir() if path.is_dir() and path.name != "latest"]
    return run_dir


def locust_left(parent_pid: int, reports: Path) -> list[psutil.Process]:
    left = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "locust" in " ".join(process.info["cmdline"] or []) and str(reports) in " ".join(
                process.environ().get(key, "") for key in ("HARNESS_RUN_DIR",)
            ):
                left.append(process)
        except psutil.Error:
            continue
    return left


@pytest.mark.parametrize(
    ("how", "code"),
    [("ctrl-c", 130), ("sigterm", 143)],
    ids=["Ctrl-C to the terminal's process group", "SIGTERM to the harness (a CI job cancelled)"],
)
def test_an_interrupted_load_writes_an_incomplete_report_and_stops_locust(webhook_topology, tmp_path, how, code):
    state, reports = own_state(webhook_topology, tmp_path), tmp_path / "reports"
    load = start_load(webhook_topology.stack, state, reports)
    poll(lambda: accepted_so_far(reports), lambda count: count >= 20, timeout_s=60, what="webhooks accepted")
    if how == "ctrl-c":
        os.killpg(load.pid, signal.SIGINT)
    else:
        load.send_signal(signal.SIGTERM)
    _, errors = load.communicate(timeout=90)
    assert load.returncode == code, errors[-2000:]
    run_dir = the_run(reports)
    verdict = json.loads((run_dir / "verify.json").read_text())
    assert verdict["verdict"] == "INCOMPLETE" and verdict["accepted"] >= 20
    assert "interrupted" in verdict["reasons"][0] and "nothing is judged lost" in verdict["reasons"][0]
    assert "INCOMPLETE" in (run_dir / "report.html").read_text()
    assert (reports / "latest").resolve() == run_dir.resolve()
    assert not locust_left(load.pid, reports)


def test_a_second_ctrl_c_exits_at_once(webhook_topology, tmp_path):
    state, reports = own_state(webhook_topology, tmp_path), tmp_path / "reports"
    load = start_load(webhook_topology.stack, state, reports)
    poll(lambda: accepted_so_far(reports), lambda count: count >= 5, timeout_s=60, what="webhooks accepted")
    os.killpg(load.pid, signal.SIGINT)
    os.killpg(load.pid, signal.SIGINT)
    load.communicate(timeout=30)
    assert load.returncode == 130
    assert not locust_left(load.pid, reports)


def test_localstack_dying_mid_run_voids_the_run_with_its_own_exit_code_and_a_clean_next_start(tmp_path):
    stack = EmbeddedStack(StackSettings.from_env({}, port=free_port(), state_dir=tmp_path / "state"))
    stack.start()
    try:
        Deployer(stack.settings, TopologySettings.from_env({})).deploy()
        reports = tmp_path / "reports"
        load = start_load(stack.settings, stack.settings.state_path, reports)
        poll(lambda: accepted_so_far(reports), lambda count: count >= 20, timeout_s=60, what="webhooks accepted")
        os.kill(stack.status().pid, signal.SIGKILL)
        _, errors = load.communicate(timeout=60)  # noticed within seconds, not at the end of the 60 s load
        assert load.returncode == 3, errors[-2000:]
        run_dir = the_run(reports)
        verdict = json.loads((run_dir / "verify.json").read_text())
        assert verdict["verdict"] == "VOID" and verdict["lost"] == 0
        assert "LocalStack stopped answering at second" in verdict["reasons"][0]
        assert "VOID" in (run_dir / "report.html").read_text() and "lost" not in verdict["reasons"][0]
        assert not locust_left(load.pid, reports)
        stack.start()  # the record of the dead stack does not stand in the way
        assert stack.status().healthy
    finally:
        stack.stop()


def test_sigterm_to_the_web_ui_stops_its_locust_too(webhook_topology, tmp_path):
    state = own_state(webhook_topology, tmp_path)
    port = free_port()
    env = {**os.environ, **webhook_topology.stack.to_environment(), "HARNESS_STATE_DIR": str(state)}
    ui = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "ui", "--ui-port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children = poll(
        lambda: psutil.Process(ui.pid).children(recursive=True), lambda found: bool(found), timeout_s=30, what="Locust"
    )
    ui.send_signal(signal.SIGTERM)
    ui.wait(30)
    poll(lambda: [c for c in children if c.is_running()], lambda alive: not alive, timeout_s=15, what="Locust to stop")
