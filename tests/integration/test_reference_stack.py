"""The reference stack as published, under the harness: it runs unchanged (its bundled SDK v2 reaches the
stack), and the report names each of its defects in words, from loads that post to one path as senders do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.polling import poll

pytestmark = [pytest.mark.registry, pytest.mark.slow]

STACK = Path(__file__).resolve().parents[1] / "stacks" / "reference-webhook"
AWS_SDK_V2 = "aws-sdk@2.1693.0"
ONE_PATH = {"webhook_path": "/hello", "token_places": "body,header", "idempotency_share": 0.0,
            "duplicate_share": 0.0, "retry_share": 0.0}  # fmt: skip
"""A sender's load: one webhook URL, its tokens where this stack keeps nothing of them."""


@pytest.fixture(scope="module")
def reference_stack(tmp_path_factory) -> Path:
    """The stack's folder with the SDK v2 installed into each function, trimmed as a bundler would."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("no `node`/`npm` on this machine")
    root = tmp_path_factory.mktemp("reference") / "reference-webhook"
    shutil.copytree(STACK, root)
    for function in ("publish", "subscribe"):
        folder = root / function
        command = [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(folder), AWS_SDK_V2]
        subprocess.run(command, check=True, timeout=300)
        shutil.rmtree(folder / "node_modules" / "aws-sdk" / "dist")
        for typings in (folder / "node_modules").rglob("*.d.ts"):
            typings.unlink()
    return root / "template.yaml"


def test_the_published_stack_runs_and_its_report_names_its_defects(deploy_stack, run_load, reference_stack):
    topology = deploy_stack(reference_stack, stack_name="reference-webhook")
    outputs = topology.outputs
    assert not outputs.has_dlq and outputs.entry_kind == "REST API"
    status, _ = topology.post("/hello", "{}")
    assert status in (200, 502)  # 502: its answer is set by the callback, which may come after the promise
    rows = poll(
        topology.rows, lambda rows: any(row["message"] == "hello from /hello" for row in rows), timeout_s=60
    )  # the SDK v2's DynamoDB client reached the stack: a row, written by the subscriber
    assert rows

    # Within its 5 WCU (each request is two messages, each message two writes): one path, as a sender posts.
    verdict, run_dir = run_load(topology, shape="steady", users=4, spawn_rate=4.0, duration_s=20, user_rps=0.25,
                                drain_timeout_s=90, **ONE_PATH)  # fmt: skip
    assert verdict.correlation == "count" and verdict.verdict == "FAIL"
    reasons = " | ".join(verdict.reasons)
    assert verdict.enqueued_per_request == pytest.approx(2.0, abs=0.25)
    assert "per request, expected 1" in reasons
    assert verdict.lost > 0 and "the stack's ids collide" in reasons, reasons
    assert not verdict.has_dlq
    page = (run_dir / "report.html").read_text()
    assert "none in this stack: failed messages are retried until they expire" in page

    # A flood: reserved concurrency 2 does not keep the 5-WCU table from throttling.
    verdict, _ = run_load(topology, shape="burst", users=10, spawn_rate=10.0, duration_s=15, user_rps=2.0,
                          drain_timeout_s=20, drain_required=False, **ONE_PATH)  # fmt: skip
    assert verdict.backend["errors"] > 0
    assert any("the consumer's throttle does not protect it" in reason for reason in verdict.reasons)
    assert verdict.max_consumer_concurrency <= 2
