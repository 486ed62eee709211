"""Collecting a run's evidence over fake AWS clients (rows, DLQ, logs, metrics are whatever a test says)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.backend.base import Hosting
from harness.backend.config import BackendSettings
from harness.backend.dynamodb import DynamoDBBackend
from harness.evidence import Accepted, Evidence, Fault
from harness.evidence.collect import collect
from tests.unit.builders import OUTPUTS, record

LOAD_STARTED = float(int(time.time()) - 60)
"""A minute ago: the metrics are read from then to now, in CloudWatch's windows."""


def datapoints(statistic: str, value: float | None, StartTime: datetime, EndTime: datetime, **_: Any) -> dict:
    """One datapoint a second into the load, when the window asked for holds it (as CloudWatch answers)."""
    at = datetime.fromtimestamp(LOAD_STARTED + 1, UTC)
    inside = value is not None and StartTime <= at < EndTime
    return {"Datapoints": [{statistic: value, "Timestamp": at}] if inside else []}


class Pages:
    def __init__(self, pages: list[dict]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict]:
        return self.pages


class FakeAWS:
    """One object for every service: a scan, a DLQ, log lines, metrics and the function's limits."""

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

    def get_queue_attributes(self, **_: Any) -> dict:
        depth = (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
        return {"Attributes": dict.fromkeys(depth, "0")}

    def get_metric_statistics(self, MetricName: str, Statistics: list[str], **window: Any) -> dict:
        value = {"ConcurrentExecutions": self.concurrency, "Throttles": self.throttles}.get(MetricName)
        return datapoints(Statistics[0], value, **window)

    def get_function_concurrency(self, **_: Any) -> dict:
        return {"ReservedConcurrentExecutions": 2}

    def get_event_source_mapping(self, **_: Any) -> dict:
        return {"ScalingConfig": {"MaximumConcurrency": 3}}

    def describe_table(self, **_: Any) -> dict:
        return {
            "Table": {
                "BillingModeSummary": {"BillingMode": "PROVISIONED"},
                "ProvisionedThroughput": {"WriteCapacityUnits": 5, "ReadCapacityUnits": 5},
            }
        }


def gather(records, aws: FakeAWS, **kwargs) -> Evidence:
    backend = DynamoDBBackend(BackendSettings(), Hosting(Path("/nonexistent"), 1.0, "127.0.0.1"), aws)
    return collect(
        aws,
        OUTPUTS,
        backend,
        Accepted(records),
        run_id="r",
        load_started=LOAD_STARTED,
        load_ended=LOAD_STARTED + 10,
        drain_seconds=3.0,
        **kwargs,
    )


def test_only_this_runs_rows_and_dead_letters_are_evidence():
    aws = FakeAWS(rows=[{"id": "a", "written_at_ms": 5}, {"id": "older-run"}], dlq=["b", "older-dead"])
    found = gather([record("a"), record("b")], aws)
    assert [row["id"] for row in found.rows] == ["a"]
    assert [letter.item_id for letter in found.dead_letters] == ["b"]


def test_the_consumer_is_read_as_deployed_and_as_measured():
    consumer = gather([record("a")], FakeAWS(rows=[{"id": "a"}], concurrency=2.0, throttles=7.0, suppressed=0)).consumer
    assert (consumer.reserved_concurrency, consumer.maximum_concurrency, consumer.limit) == (2, 3, 2)
    assert (consumer.max_concurrency, consumer.throttles) == (2.0, 7.0)
    assert consumer.concurrency == [(1.0, 2.0)]  # per second since the load started


def test_suppressed_duplicates_are_counted_from_the_subscribers_log_lines():
    records = [record("a"), record("a", kind="redelivery")]
    assert gather(records, FakeAWS(rows=[{"id": "a"}], suppressed=1)).consumer.duplicates_suppressed == 1


def test_evidence_survives_a_round_trip_through_json():
    aws = FakeAWS(rows=[{"id": "a", "written_at_ms": Decimal("1250.5"), "received_at_ms": Decimal(1000)}], dlq=["b"])
    found = gather([record("a"), record("b")], aws, faults=[Fault("backend outage", "sub", 1.0, 2.0)])
    again = Evidence.from_json(found.to_json())
    assert again.rows == [{"id": "a", "written_at_ms": 1250.5, "received_at_ms": 1000}]
    assert again.dead_letters == found.dead_letters and again.faults == found.faults
    assert again.consumer.limit == found.consumer.limit and again.outputs == OUTPUTS


def test_the_backends_view_comes_from_its_own_metrics():
    class Throttling(FakeAWS):
        def get_metric_statistics(self, MetricName: str, Statistics: list[str], **window: Any) -> dict:
            values = {"ConsumedWriteCapacityUnits": 7.0, "WriteThrottleEvents": 3.0}
            if MetricName in values:
                return datapoints("Sum", values[MetricName], **window)
            return super().get_metric_statistics(MetricName, Statistics, **window)

    view = gather([record("a")], Throttling(rows=[{"id": "a"}])).backend
    assert (view.kind, view.capacity, view.capacity_unit) == ("dynamodb", 5.0, "write units / s")
    assert (view.peak, view.errors) == (7.0, 3) and view.load == [(1.0, 7.0)]


def test_a_soak_counts_what_the_stack_keeps_for_it_at_each_memory_sample():
    class Soaked(FakeAWS):
        def describe_table(self, **_: Any) -> dict:
            table = super().describe_table()["Table"]
            key = {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                   "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}  # fmt: skip
            return {"Table": {**table, **key}}

        def describe_log_streams(self, **_: Any) -> dict:
            return {"logStreams": [{"logStreamName": "2026/12/07/[$LATEST]abc"}]}

        def get_log_events(self, **_: Any) -> dict:
            request = "RequestId: 6f1d2a8e-1111-2222-3333-444455556666"
            lines = [f"START {request} Version: $LATEST", f"END {request}", f"REPORT {request}\tDuration: 1 ms"]
            return {"events": [{"message": line} for line in lines]}

        def get_metric_statistics(self, MetricName: str, Statistics: list[str], **window: Any) -> dict:
            if MetricName == "Invocations":
                return datapoints("Sum", 1.0, **window)  # one invocation of each function, a second in
            return super().get_metric_statistics(MetricName, Statistics, **window)

    samples = [{"t": LOAD_STARTED + 0.5, "gateway_rss_mb": 300.0}, {"t": LOAD_STARTED + 5, "gateway_rss_mb": 301.0}]
    rows = [{"id": "a", "message": "hello", "written_at_ms": 5}]
    soaked = gather([record("a")], Soaked(rows=rows), samples=samples, shape="soak")
    (first_t, first), (second_t, second) = soaked.held_mib
    assert (first_t, second_t) == (LOAD_STARTED + 0.5, LOAD_STARTED + 5)
    assert 0 < first < second  # the row, then the row and each function's one invocation's log lines
    assert gather([record("a")], Soaked(rows=rows), samples=samples).held_mib == []  # not a soak: not measured


def test_a_record_still_being_written_is_not_read_half(tmp_path):
    whole = [{"id": "a", "kind": "new"}, {"kind": "unanswered", "event": "e2"}, {"kind": "throttled", "event": "e3"}]
    text = "".join(json.dumps(line) + "\n" for line in whole)
    (tmp_path / "accepted-1.jsonl").write_text(text + json.dumps({"id": "b", "kind": "new"})[:9])
    accepted = Accepted.load(tmp_path)
    assert accepted.ids == {"a"} and len(accepted.unanswered) == 1 and len(accepted.throttled) == 1
