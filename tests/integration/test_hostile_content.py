"""What senders send stays inert: ids, paths and bodies shown by the report are escaped, run no script in a
real browser, and stay inside the page; and the signing secret is written nowhere a run leaves files."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness import aws
from harness.deployment import recorded_backend
from harness.evidence import Accepted
from harness.evidence.collect import baseline, collect, wait_for_drain
from harness.load.config import LoadSettings
from harness.load.run import write_run
from harness.observe import peek_messages
from harness.polling import wait_until
from harness.webhook import post_webhook

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SCRIPT = "<script>document.title='pwned';document.body.setAttribute('data-pwned','1')</script>"
HOSTILE_KEYS = [
    SCRIPT,
    "javascript:document.title='pwned'",
    "<img/src=x/onerror=document.body.setAttribute('data-pwned','1')>",
    "x" * 200,  # the longest key the publisher takes: one unbroken line
]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dom_of(page: Path) -> str:
    """The page as headless Chromium leaves it after loading it (any script that ran has changed it)."""
    result = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={page.parent / 'chromium-profile'}", "--virtual-time-budget=3000", "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-1000:]
    return result.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (Debian's chromium package)")
def test_hostile_ids_paths_and_bodies_run_no_script_in_the_report_and_stay_readable(deploy_topology, tmp_path):
    topology = deploy_topology(
        fail_path_marker="poison", visibility_timeout_s=2, subscriber_timeout_s=2, max_receive_count=2
    )
    outputs, stack = topology.outputs, topology.stack
    client = aws.clients(stack)
    backend = recorded_backend(stack, outputs, client)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    before = baseline(client, outputs, backend)
    started = time.time()
    records = []
    for index, key in enumerate(HOSTILE_KEYS):
        path = f"/poison/{index}/<script>alert(1)</script>" + "y" * 500
        body = json.dumps({"html": SCRIPT, "link": "javascript:alert(1)", "long": "z" * 5000})
        status, answer = post_webhook(outputs.webhook_url, path, body=body.encode(), headers={"Idempotency-Key": key})
        assert status == 202, answer
        records.append({"id": answer["id"], "event": f"e{index}", "kind": "new", "t": time.time(), "poisoned": True})
    (run_dir / "accepted-1.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    sqs = client("sqs")
    wait_until(lambda: len(peek_messages(sqs, outputs.dlq_url, hold_s=1)) == len(HOSTILE_KEYS), 60, what="the DLQ")
    drained = wait_for_drain(sqs, outputs, 60)
    evidence = collect(
        client, outputs, backend, Accepted.load(run_dir), run_id="hostile", load_started=started,
        load_ended=time.time(), drain_seconds=drained, before=before,
    )  # fmt: skip
    verdict = write_run(evidence, run_dir, LoadSettings.from_env({}))
    assert {message["id"] for message in verdict.dlq_messages} == set(HOSTILE_KEYS)
    page = run_dir / "report.html"
    html = page.read_text()
    assert SCRIPT not in html and "&lt;script&gt;" in html  # escaped, not markup
    dom = dom_of(page)
    assert "pwned" not in dom.split("<title>", 1)[1].split("</title>", 1)[0]  # the title no script changed
    assert 'data-pwned="1"' not in dom and "<img src" not in dom.replace(" ", "")
    assert "overflow-wrap: anywhere" in html  # an unbroken 200-character id wraps inside the page


def test_the_signing_secret_is_written_in_no_log_report_or_outputs_file(deploy_topology, run_load, tmp_path):
    secret = "whsec_" + "c2VjcmV0LW9mLXRoZS1oYXJuZXNzLXRlc3Q="  # base64 of a recognisable 24-byte secret
    topology = deploy_topology(signature_scheme="standard", signing_secret=secret)
    verdict, run_dir = run_load(
        topology, shape="steady", users=3, spawn_rate=3, duration_s=6, forged_share=0.2, replay_share=0.1
    )
    assert verdict.accepted > 0 and verdict.signed["forged"] > 0
    needles = [secret, secret.removeprefix("whsec_")]
    places = [run_dir, topology.stack.state_path]
    leaks = [
        str(path)
        for place in places
        for path in place.rglob("*")
        if path.is_file() and path.stat().st_size < 50 * 2**20
        for needle in needles
        if needle.encode() in path.read_bytes()
    ]
    assert not leaks, f"the signing secret was written into {leaks}"
