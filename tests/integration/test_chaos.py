"""`make chaos`, small: every fault in one run — duplicates, poison, forged and replayed deliveries, a backend
outage, transient errors, a crash, SQS down for the publisher, API Gateway's throttle — judged PASS, then the
poison fixed, the DLQ redriven, and PASS again with every accepted webhook a row."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.stack.base import STACK_RECORD

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
REPO = Path(__file__).resolve().parents[2]


def test_make_chaos_passes_every_fault_and_after_the_redrive_every_webhook_is_a_row(localstack, tmp_path):
    state, reports = tmp_path / "state", tmp_path / "reports"
    state.mkdir()
    shutil.copy(localstack.settings.state_path / STACK_RECORD, state)  # the session's stack, a record of its own
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("HARNESS_")},
        **localstack.settings.to_environment(),
        "HARNESS_STATE_DIR": str(state),
        "HARNESS_REPORTS_DIR": str(reports),
        "HARNESS_NAME_PREFIX": "chaos-",
    }
    result = subprocess.run(
        ["make", "--no-print-directory", "chaos", "SIZE=800"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (run_dir,) = [path for path in reports.iterdir() if path.is_dir() and path.name != "latest"]
    verdict = json.loads((run_dir / "verify.json").read_text())  # judged again after the fix and the redrive
    assert verdict["verdict"] == "PASS" and verdict["lost"] == 0 and verdict["duplicate_rows"] == 0
    # How many are accepted depends on the machine: the functions' warm-up and the 5 s SQS outage are fixed
    # costs of a 20 s run (a quiet 2-core machine accepts about 600). The load must outlast every fault.
    assert verdict["accepted"] >= 200 and verdict["rows"] == verdict["accepted"] and verdict["dlq"] == 0
    evidence = json.loads((run_dir / "evidence.json").read_text())
    (queue_outage,) = [fault for fault in evidence["faults"] if fault["what"] == "SQS unavailable to the publisher"]
    accepted_after = [
        record
        for record in evidence["accepted"]["records"]
        if record["t"] - evidence["load_started"] > queue_outage["to_s"]
    ]
    assert accepted_after, "no webhook was accepted after SQS came back for the publisher"
    assert verdict["signed"]["forged"] > 0 and verdict["signed"]["forged_accepted"] == 0
    assert verdict["throttled_at_gate"] > 0  # the stage throttle answered 429 to part of the load
    assert {fault["what"] for fault in verdict["faults"]} >= {"backend outage", "process crash mid-batch"}
    assert "moved" in result.stdout  # the redrive put the poison back, fixed
