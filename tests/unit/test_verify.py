"""The verdict, judged over fake AWS clients (rows, DLQ, logs, metrics are whatever a test says)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.deploy import Outputs
from harness.settings import Settings
from harness.verify import Accepted, judge, percentiles

OUTPUTS = Outputs(
    endpoint="http://127.0.0.1:4566",
    webhook_url="http://127.0.0.1:4566/_aws/execute-api/webhookapi/prod",
    api_id="webhookapi",
    queue_url="q",
    queue_arn="arn:q",
    dlq_url="dlq",
    dlq_arn="arn:dlq",
    table_name="Messages",
    publisher_name="webhook-publisher",
    subscriber_name="webhook-subscriber",
    event_source_mapping_uuid="u",
)


class Pages:
    def __init__(self, pages: list[dict]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict]:
        return self.pages


class FakeAWS:
    def __init__(self, rows=(), dlq=(), suppressed=0, concurrency=2.0, throttles=0.0) -> None:
        self.rows, self.dlq = list(rows), list(dlq)
        self.suppressed, self.concurrency, self.throttles = suppressed, concurrency, throttles
        self._dlq_served = False
        self.exceptions = type("E", (), {"ResourceNotFoundException": KeyError})

    def __call__(self, service: str) -> FakeAWS:
        return self

    def get_paginator(self, name: str) -> Pages:
        if name == "scan":
            items = [{k: ({"S": v} if isinstance(v, str) else {"N": str(v)}) for k, v in r.items()} for r in self.rows]
            return Pages([{"Items": items}])
        line = json.dumps({"DuplicatesSuppressed": self.suppressed})
        return Pages([{"events": [{"message": line}]}])

    def receive_message(self, **_: Any) -> dict:
        if self._dlq_served:
            return {}
        self._dlq_served = True
        return {
            "Messages": [
                {
                    "MessageId": f"m{i}",
                    "ReceiptHandle": f"r{i}",
                    "Body": json.dumps({"id": item_id}),
                    "Attributes": {"ApproximateReceiveCount": "5"},
                }
                for i, item_id in enumerate(self.dlq)
            ]
        }

    def change_message_visibility_batch(self, **_: Any) -> None:
        pass

    def get_metric_statistics(self, MetricName: str, Statistics: list[str], **_: Any) -> dict:
        value = {"ConcurrentExecutions": self.concurrency, "Throttles": self.throttles}.get(MetricName)
        return {"Datapoints": [] if value is None else [{Statistics[0]: value}]}


def row(item_id: str, body: str = "") -> dict:
    return {"id": item_id, "received_at_ms": 1000, "written_at_ms": 1250, "body_sha256": body or f"sha-{item_id}"}


def record(item_id: str, event: str | None = None, kind: str = "new", poisoned: bool = False) -> dict:
    return {"id": item_id, "event": event or f"e-{item_id}", "kind": kind, "t": 0, "poisoned": poisoned}


def verdict(records, aws: FakeAWS, settings: Settings | None = None):
    return judge(settings or Settings.from_env({}), OUTPUTS, Accepted(records), aws, 0, 10, 3.0)


def test_a_clean_run_passes_with_its_numbers():
    result = verdict([record("a"), record("b")], FakeAWS(rows=[row("a"), row("b")]))
    assert result.verdict == "PASS" and result.reasons == []
    assert (result.accepted, result.rows, result.lost, result.dlq) == (2, 2, 0, 0)
    assert result.e2e_latency_ms["p50"] == 250
    assert result.ingest_rps == 0.2


def test_an_accepted_id_that_is_neither_a_row_nor_dead_is_lost():
    result = verdict([record("a"), record("b")], FakeAWS(rows=[row("a")]))
    assert result.verdict == "FAIL" and result.lost == 1 and result.lost_ids == ["b"]
    assert "neither a row nor in the DLQ" in result.reasons[0]


def test_colliding_ids_are_caught_as_lost():
    """The reference stack's path + epoch-ms ids: two requests, one id, one row."""
    records = [record("/hello1700000000000", "e1"), record("/hello1700000000000", "e2")]
    result = verdict(records, FakeAWS(rows=[row("/hello1700000000000")], suppressed=1))
    assert result.verdict == "FAIL" and result.lost == 1
    assert "the publisher's ids collide" in " ".join(result.reasons)


def test_sender_retries_of_one_event_are_not_collisions():
    records = [record("k1", "e1"), record("k1", "e1", kind="sender-retry")]
    result = verdict(records, FakeAWS(rows=[row("k1")], suppressed=1))
    assert result.verdict == "PASS" and result.lost == 0


def test_two_rows_of_one_request_are_duplicate_rows():
    result = verdict([record("a"), record("b")], FakeAWS(rows=[row("a", "same"), row("b", "same")]))
    assert result.duplicate_rows == 1 and result.verdict == "FAIL"


def test_concurrency_above_the_limit_fails_the_run():
    result = verdict([record("a")], FakeAWS(rows=[row("a")], concurrency=3.0))
    assert any("above its limit of 2" in reason for reason in result.reasons)


def test_unexpected_dlq_messages_fail_the_run_but_poisoned_ones_are_expected():
    unexpected = verdict([record("a"), record("b")], FakeAWS(rows=[row("a")], dlq=["b"]))
    assert "unexpected DLQ" in " ".join(unexpected.reasons)
    expected = verdict([record("a"), record("p", poisoned=True)], FakeAWS(rows=[row("a")], dlq=["p"]))
    assert expected.verdict == "PASS" and expected.dlq_messages[0]["why"].startswith("poisoned on purpose")


def test_a_poisoned_message_missing_from_the_dlq_fails_the_run():
    result = verdict([record("p", poisoned=True)], FakeAWS(rows=[row("p")]))
    assert "did not reach the DLQ" in " ".join(result.reasons)


def test_injected_duplicates_must_all_be_suppressed(monkeypatch):
    monkeypatch.setattr("harness.verify._settled", lambda read, expected, timeout_s=15: read())
    records = [record("a"), record("a", kind="redelivery"), record("b"), record("b", kind="redelivery")]
    result = verdict(records, FakeAWS(rows=[row("a"), row("b")], suppressed=1))
    assert "2 duplicate(s) injected but only 1 suppressed" in " ".join(result.reasons)


@pytest.mark.parametrize(("values", "p50"), [([1, 2, 3, 4], 3), ([5], 5)])
def test_percentiles(values, p50):
    assert percentiles(values)["p50"] == p50 and percentiles(values)["max"] == max(values)
    assert percentiles([]) == {}
