"""Flood, verify, report: short, time-compressed Locust runs against the real embedded stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import observe
from harness.evidence import Accepted
from harness.load.config import LoadSettings
from harness.load.run import reverify
from harness.polling import wait_until
from harness.redrive import redrive

COLLIDING_PUBLISHER = Path(__file__).parent / "functions" / "colliding_publisher"
SHORT = {"shape": "burst", "users": 8, "spawn_rate": 8.0, "duration_s": 12, "user_rps": 5.0}


@pytest.mark.slow
def test_a_burst_with_duplicates_ends_as_one_row_per_request(deploy_topology, run_load, aws_client):
    topology = deploy_topology()
    verdict, run_dir = run_load(topology, duplicate_share=0.2, idempotency_share=0.5, retry_share=0.5, **SHORT)
    assert verdict.verdict == "PASS", verdict.reasons
    accepted = Accepted.load(run_dir)
    paths = {record["id"]: record["path"] for record in accepted.records}
    rows = [r for r in observe.rows(aws_client("dynamodb"), topology.outputs.table_name) if r["id"] in paths]
    assert len(rows) == len(paths) == verdict.rows > 50
    assert all(r["message"] == f"hello from {paths[r['id']]}" for r in rows)
    assert verdict.duplicates_injected > 0 and verdict.duplicates_suppressed >= verdict.duplicates_injected
    assert observe.peek_messages(aws_client("sqs"), topology.outputs.dlq_url) == []
    assert verdict.max_consumer_concurrency <= 2
    summary = json.loads((run_dir / "verify.json").read_text())
    for key in ("verdict", "accepted", "rows", "dlq", "lost", "duplicate_rows", "duplicates_suppressed",
                "max_consumer_concurrency", "consumer_concurrency_limit", "throttles", "drain_seconds",
                "e2e_latency_ms", "ingest_rps"):  # fmt: skip
        assert key in summary
    page = (run_dir / "report.html").read_text()
    assert "<svg" in page and "PASS" in page and "Subscriber concurrency against its limit" in page
    assert (run_dir / "locust.html").is_file() and (run_dir / "locust_stats.csv").is_file()


@pytest.mark.slow
def test_poisoned_requests_are_exactly_the_dlq(deploy_topology, run_load, aws_client):
    # MaximumConcurrency = reserved concurrency, as AWS advises: with a short visibility timeout and a
    # small maxReceiveCount, a burst would otherwise overpull healthy messages into the DLQ too.
    topology = deploy_topology(
        fail_path_marker="poison",
        max_receive_count=2,
        visibility_timeout_s=4,
        subscriber_timeout_s=4,
        maximum_concurrency=2,
    )
    verdict, run_dir = run_load(topology, poison_share=0.1, duplicate_share=0.0, **SHORT)
    poisoned = Accepted.load(run_dir).poisoned_ids
    dead = {m.item_id for m in observe.peek_messages(aws_client("sqs"), topology.outputs.dlq_url)}
    assert poisoned and dead == poisoned
    assert verdict.verdict == "PASS", verdict.reasons
    # Messages, not ids: a sender's retry of a poisoned request (same key, same id) dead-letters as well.
    assert {message["id"] for message in verdict.dlq_messages} == poisoned
    assert verdict.dlq >= len(poisoned) and verdict.lost == 0


@pytest.mark.slow
def test_the_verifier_catches_a_publisher_whose_ids_collide(deploy_topology, run_load):
    topology = deploy_topology(publisher_dir=COLLIDING_PUBLISHER)
    # Its ids are path + time: one path, as a sender posts to the one URL it was given, so requests of the
    # same clock tick collide however slowly this machine serves them (five paths in turn hid it on a slow CI).
    verdict, _ = run_load(
        topology, duplicate_share=0.0, retry_share=0.0, token_places="body,header", webhook_path="/hello", **SHORT
    )
    assert verdict.verdict == "FAIL"
    assert verdict.lost > 0
    assert any("ids collide" in reason for reason in verdict.reasons)


@pytest.mark.slow
def test_faults_lose_nothing_and_the_dlq_is_exactly_the_poison(
    deploy_topology, run_load, aws_client, publisher_without_retries
):
    """Duplicates, a backend outage, transient errors, poison, a crash mid-batch and SQS down for the publisher."""
    topology = deploy_topology(
        fail_path_marker="poison",
        visibility_timeout_s=6,
        subscriber_timeout_s=5,
        max_receive_count=5,
        maximum_concurrency=2,  # = reserved: no overpull, so the DLQ holds only what failed for real
        backend_latency_ms=20,
    )
    publisher_without_retries(topology.outputs.publisher_name)
    verdict, run_dir = run_load(
        topology,
        duplicate_share=0.1,
        poison_share=0.03,
        fault_outage_after_s=3,
        fault_outage_duration_s=4,
        fault_error_rate=0.02,
        fault_crash_after_s=5,
        fault_queue_outage_after_s=5,
        fault_queue_outage_duration_s=5,
        **{**SHORT, "shape": "steady"},  # ~280 accepted outside the outage: ~8 poisoned, never none
    )
    assert verdict.verdict == "PASS", verdict.reasons
    assert verdict.lost == 0 and verdict.duplicate_rows == 0
    poisoned = Accepted.load(run_dir).poisoned_ids
    assert poisoned and {m["id"] for m in verdict.dlq_messages} == poisoned
    summary = json.loads((run_dir / "verify.json").read_text())
    assert {fault["what"] for fault in summary["faults"]} >= {"backend outage", "process crash mid-batch"}
    failures = (run_dir / "locust_failures.csv").read_text()
    assert "503" in failures  # the publisher refused while SQS was down; those were never accepted
    assert "backend outage" in (run_dir / "report.html").read_text()
    lambda_client = aws_client("lambda")
    variables = lambda_client.get_function_configuration(FunctionName=topology.outputs.subscriber_name)["Environment"]
    assert not [name for name in variables["Variables"] if name.startswith("HARNESS_FAULT_")]  # removed after the run

    # Fix the poison, redrive: every accepted request is a row.
    topology.redeploy(fail_path_marker="")
    assert redrive(aws_client("sqs"), topology.outputs) >= len(poisoned)
    table = topology.outputs.table_name
    wait_until(
        lambda: poisoned <= {r["id"] for r in observe.rows(aws_client("dynamodb"), table)}, 30, what="redriven rows"
    )
    # Judged again (`harness verify --poison-fixed`): it still passes, and the drain is still the run's own.
    again = reverify(topology.stack, LoadSettings.from_env(), run_dir, poison_fixed=True)
    assert again.verdict == "PASS", again.reasons
    assert again.lost == 0 and not again.dlq_messages
    assert again.drain_seconds == verdict.drain_seconds and verdict.drain_seconds > 0
