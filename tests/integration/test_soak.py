"""`make soak`, short: the emulator's resources are sampled through the run, fitted, and found flat."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_a_short_soak_samples_the_emulators_resources_and_finds_them_flat(webhook_topology, run_load):
    verdict, run_dir = run_load(webhook_topology, shape="soak", users=4, spawn_rate=4, duration_s=120)
    assert verdict.verdict == "PASS", verdict.reasons
    grown = {growth["key"]: growth for growth in verdict.soak}
    assert set(grown) == {"gateway_rss_mb", "gateway_threads", "gateway_open_files", "function_processes"}
    assert not any(growth["unbounded"] for growth in grown.values()), grown
    assert grown["gateway_rss_mb"]["level"] > 50 and grown["function_processes"]["level"] >= 1
    # Judged net of what the stack keeps for the run: its rows and every invocation's log lines, measured.
    memory = grown["gateway_rss_mb"]
    assert memory["resource"].endswith("net of what it keeps for the run") and memory["kept_for_the_run"] > 0
    assert json.loads((run_dir / "verify.json").read_text())["soak"] == verdict.soak
    page = (run_dir / "report.html").read_text()
    assert "LocalStack&#39;s resident memory" in page and "soak: LocalStack&#39;s threads" in page
    assert "kept for the run: its rows and log lines" in page and "resident memory net of it" in page
