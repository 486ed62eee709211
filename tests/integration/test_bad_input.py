"""Malformed and hostile requests: each gets its documented status, nothing half-written, the stack serves on."""

from __future__ import annotations

import json
import os

import pytest

from harness.observe import queue_depth, rows
from harness.polling import wait_until
from tests.integration.helpers import send


@pytest.fixture(scope="module")
def topology(deploy_topology):
    return deploy_topology(backend_latency_ms=0)


CASES = [
    ("empty body", "POST", "/empty", b"", {"Content-Type": "application/json"}, 202),
    ("no body at all", "POST", "/none", None, {}, 202),
    ("non-JSON where JSON is declared", "POST", "/bad-json", b"{oops", {"Content-Type": "application/json"}, 400),
    ("invalid UTF-8", "POST", "/latin", b"caf\xe9 \xff\xfe", {"Content-Type": "text/plain"}, 202),
    ("binary body", "POST", "/binary", os.urandom(2048), {"Content-Type": "application/octet-stream"}, 202),
    ("body just over 256 KiB", "POST", "/big", b"x" * (256 * 1024 + 1), {"Content-Type": "text/plain"}, 413),
    ("an enormous header set", "POST", "/headers", b"{}", {f"X-Extra-{n}": "v" * 50 for n in range(150)}, 202),
    ("a very long path", "POST", "/" + "p" * 2000, b"{}", {}, 202),
    ("idempotency key with spaces", "POST", "/key", b"{}", {"Idempotency-Key": "two words"}, 400),
    ("idempotency key too long", "POST", "/key", b"{}", {"Idempotency-Key": "k" * 500}, 400),
    (
        "non-ASCII idempotency key",
        "POST",
        "/key",
        b"{}",
        {"Idempotency-Key": "cl\xe9".encode("latin-1").decode("latin-1")},
        400,
    ),
] + [(f"method {m}", m, f"/method/{m.lower()}", b"{}", {}, 202) for m in ("GET", "PUT", "PATCH", "DELETE", "OPTIONS")]


@pytest.mark.parametrize(("case", "method", "path", "body", "headers", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_request_gets_its_documented_status(topology, case, method, path, body, headers, expected):
    status, payload = send(topology.outputs.webhook_url, method, path, body, headers)
    assert status == expected, (case, payload[:300])
    answer = json.loads(payload)
    if expected == 202:
        assert answer["status"] == "queued" and answer["id"]
    else:
        assert answer["error"] and answer["reason"]  # 4xx: JSON with a reason


def test_only_queued_requests_become_rows_and_the_stack_keeps_serving(topology, aws_client):
    outputs = topology.outputs
    accepted = {
        json.loads(send(outputs.webhook_url, method, path, body, headers)[1]).get("id")
        for _, method, path, body, headers, expected in CASES
        if expected == 202
    }
    status, payload = send(outputs.webhook_url, "POST", "/still-serving", b"{}", {"Content-Type": "application/json"})
    assert status == 202
    accepted.add(json.loads(payload)["id"])
    sqs = aws_client("sqs")
    wait_until(lambda: queue_depth(sqs, outputs.queue_url).total == 0, 30, what="the queue to drain")
    table_ids = {row["id"] for row in rows(aws_client("dynamodb"), outputs.table_name)}
    # Every accepted request is a row; refused ones (400/413) left nothing behind, in the queue or the table.
    assert accepted <= table_ids
    assert len(table_ids) == len(accepted) + len([c for c in CASES if c[5] == 202])
