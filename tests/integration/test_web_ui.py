"""`make ui`: Locust's web UI starts with the harness's users and spawn rate filled in, shows the backend
against its capacity live, and ends a stopped test in a verdict and a report."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request

import psutil
import pytest

from harness.network import free_port
from harness.outputs import outputs_path
from harness.polling import poll
from harness.stack.base import STACK_RECORD

pytestmark = pytest.mark.timeout(240)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read()


def harness_tab(base: str) -> dict[str, str]:
    stats = json.loads(get(f"{base}/stats/requests"))
    (tab,) = [table for table in stats.get("extended_stats", []) if table["key"] == "harness"]
    return {row["name"]: row["value"] for row in tab["data"]}


def test_a_test_started_and_stopped_in_the_ui_ends_in_a_verdict_and_a_report(webhook_topology, tmp_path):
    # A state folder of its own that records this topology: other tests deploy (and destroy) theirs.
    state, reports = tmp_path / "state", tmp_path / "reports"
    state.mkdir()
    shutil.copy(webhook_topology.stack.state_path / STACK_RECORD, state)
    webhook_topology.outputs.save(outputs_path(webhook_topology.stack.replace(state_dir=state)))
    port = free_port()
    env = {
        **os.environ,
        **webhook_topology.stack.to_environment(),
        "HARNESS_STATE_DIR": str(state),
        "HARNESS_UI_PORT": str(port),
        "HARNESS_USERS": "6",
        "HARNESS_SPAWN_RATE": "3",
        "HARNESS_SHAPE": "steady",
        "HARNESS_DURATION_S": "8",
        "HARNESS_REPORTS_DIR": str(reports),
        "HARNESS_DUPLICATE_SHARE": "0",
    }
    ui = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "ui"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        page = poll(lambda: _try_get(base + "/"), timeout_s=30, what="the Locust web UI").decode()
        arguments = json.loads(re.search(r"templateArgs = (\{.*?\})\s*(?:</script>|;)", page, re.S).group(1))
        assert arguments["num_users"] == 6 and arguments["spawn_rate"] == 3  # the start form, filled in
        assert not arguments["hide_common_options"]  # shown, not hidden behind the shape class

        form = urllib.parse.urlencode({"user_count": 4, "spawn_rate": 4, "host": webhook_topology.outputs.webhook_url})
        started = json.loads(urllib.request.urlopen(f"{base}/swarm", data=form.encode(), timeout=10).read())
        assert started["success"], started
        poll(lambda: harness_tab(base), lambda tab: tab.get("this test", "").startswith("running"), timeout_s=20)
        poll(
            lambda: json.loads(get(f"{base}/stats/requests"))["total_rps"],
            lambda rps: rps > 0,
            timeout_s=30,
            what="requests from the UI's users",
        )
        tab = harness_tab(base)
        assert "backend now / capacity" in tab and "refused at the gate (429)" in tab
        get(f"{base}/stop")
        tab = poll(
            lambda: harness_tab(base),
            lambda tab: tab.get("this test", "").startswith(("PASS", "FAIL")),
            timeout_s=120,
            what="the stopped test's verdict",
        )
        assert tab["this test"].startswith("PASS"), tab["this test"]
        (run_dir,) = [path for path in reports.iterdir() if path.name.endswith("-ui")]
        assert tab["report"].startswith((run_dir / "report.html").resolve().as_uri())
        verdict = json.loads((run_dir / "verify.json").read_text())
        assert verdict["verdict"] == "PASS" and verdict["accepted"] > 0 and verdict["lost"] == 0
        assert b"Webhook load run" in get(f"{base}/harness/report")
        assert b"the last test's report" in get(f"{base}/harness")
    finally:
        for process in [*psutil.Process(ui.pid).children(recursive=True), psutil.Process(ui.pid)]:
            process.terminate()
        ui.wait(10)


def _try_get(url: str) -> bytes | None:
    try:
        return get(url)
    except OSError:
        return None
