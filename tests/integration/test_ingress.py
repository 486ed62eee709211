"""The direct way in (API Gateway's own SQS integration, no publisher function) on the real stack: the
harness's topology under a load, a comparison of both ways in, and a template of your own that uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import compare
from harness.backend import backend_for
from harness.backend.config import BackendSettings
from harness.evidence import Accepted
from harness.load.config import LoadSettings
from harness.topology.config import TopologySettings

STACKS = Path(__file__).resolve().parents[1] / "stacks"
SHORT = {"shape": "burst", "users": 8, "spawn_rate": 8.0, "duration_s": 10, "user_rps": 5.0}


def function_names(aws_client) -> set[str]:
    pages = aws_client("lambda").get_paginator("list_functions").paginate()
    return {function["FunctionName"] for page in pages for function in page["Functions"]}


@pytest.mark.slow
def test_the_direct_way_in_passes_a_load_with_every_request_a_row_and_no_publisher(
    deploy_topology, run_load, aws_client
):
    topology = deploy_topology(ingress="direct")
    outputs = topology.outputs
    assert (outputs.ingress, outputs.publisher_name) == ("direct", "")
    assert topology.settings.resource_name("publisher_name") not in function_names(aws_client)
    status, answer = topology.post("/hello", '{"event": "ping"}', headers={"Idempotency-Key": "direct-key-1"})
    assert (status, answer) == (202, {"id": "direct-key-1", "status": "queued"})

    verdict, run_dir = run_load(topology, duplicate_share=0.2, idempotency_share=0.5, retry_share=0.5, **SHORT)
    assert verdict.verdict == "PASS", verdict.reasons
    assert verdict.correlation == "id"  # the template answers the message's id, as the publisher does
    assert verdict.rows == verdict.accepted > 30 and verdict.lost == 0 and verdict.duplicate_rows == 0
    assert verdict.duplicates_injected > 0 and verdict.duplicates_suppressed >= verdict.duplicates_injected
    assert verdict.enqueued_per_request == 1
    assert verdict.answer_latency_ms["count"] >= verdict.accepted  # request -> queued, as each sender waited
    assert len({record["id"] for record in Accepted.load(run_dir).records}) == verdict.accepted
    page = (run_dir / "report.html").read_text()
    assert "API Gateway → SQS (direct integration, no publisher function)" in page


@pytest.mark.slow
def test_compare_shows_both_ways_in_with_the_same_load(localstack, aws_client, tmp_path):
    backend = backend_for(BackendSettings.from_env(), localstack.hosting(), aws_client)
    topology = TopologySettings.from_env().replace(name_prefix="ing-", backend_latency_ms=20)
    load = LoadSettings.from_env().replace(reports_dir=tmp_path / "reports", drain_timeout_s=90, **SHORT)
    variants = compare.parse_variants("ingress=function,ingress=direct", 2, (2, None))
    results, compare_dir = compare.run(localstack.settings, topology, backend, load, variants, aws_client)
    summary = {v["name"]: v for v in json.loads((compare_dir / "compare.json").read_text())["variants"]}
    function = summary["reserved concurrency 2, ingress function"]
    direct = summary["reserved concurrency 2, ingress direct"]
    assert (function["ingress"], direct["ingress"]) == ("function", "direct")
    for variant in (function, direct):
        assert variant["verdict"] == "PASS", results
        assert variant["lost"] == 0 and variant["duplicate_rows"] == 0
        assert variant["max_consumer_concurrency"] <= 2
    assert results[1].evidence.outputs.publisher_name == ""
    page = (compare_dir / "report.html").read_text()
    assert "ingress function" in page and "ingress direct" in page


@pytest.mark.slow
def test_a_template_whose_api_sends_to_sqs_itself_deploys_and_is_verified(deploy_stack, run_load):
    topology = deploy_stack(STACKS / "direct-webhook" / "template.yaml")
    outputs = topology.outputs
    assert (outputs.ingress, outputs.publisher_name, outputs.entry_kind) == ("direct", "", "REST API")
    assert outputs.has_dlq
    status, answer = topology.post("/hello", '{"event": "ping"}')
    assert (status, answer) == (200, {"queued": True})

    verdict, _ = run_load(topology, idempotency_share=0.0, duplicate_share=0.0, retry_share=0.0, **SHORT)
    assert verdict.correlation == "token", verdict  # the body reaches the row unchanged, its token with it
    assert verdict.verdict == "PASS", verdict.reasons
    assert verdict.rows == verdict.accepted > 30 and verdict.lost == 0
