"""`harness verify`: after a load, wait for the queue to drain, then judge the run.

PASS needs: nothing lost (every accepted id is a row or in the DLQ), no duplicate rows, the subscriber
never above its concurrency limit, the DLQ holding exactly the messages poisoned on purpose (none when
no fault was injected), and every injected duplicate suppressed by the subscriber.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import observe
from harness.deploy import Outputs
from harness.exceptions import HarnessError
from harness.settings import Settings

DUPLICATE_KINDS = ("redelivery", "sender-retry")


@dataclass
class Accepted:
    """What the API accepted during a run, from the load generator's records."""

    records: list[dict[str, Any]]

    @classmethod
    def load(cls, run_dir: Path) -> Accepted:
        records = []
        for path in sorted(run_dir.glob("accepted-*.jsonl")):
            for line in path.read_text().splitlines():
                if line.strip():
                    records.append(json.loads(line))
        return cls(records)

    def with_poison_fixed(self) -> Accepted:
        """After the consumer was fixed and the DLQ redriven, poisoned requests must be rows too."""
        return Accepted([{**record, "poisoned": False} for record in self.records])

    @property
    def ids(self) -> set[str]:
        return {record["id"] for record in self.records}

    @property
    def poisoned_ids(self) -> set[str]:
        return {record["id"] for record in self.records if record.get("poisoned")}

    def events_by_id(self) -> dict[str, set[str]]:
        """Accepted id -> the distinct logical requests (events) that got it; more than one is a collision."""
        events: dict[str, set[str]] = {}
        for record in self.records:
            events.setdefault(record["id"], set()).add(record.get("event") or record["id"])
        return events

    @property
    def new_requests(self) -> list[dict[str, Any]]:
        return [record for record in self.records if record.get("kind", "new") == "new"]

    def injected_duplicates(self) -> int:
        """Second deliveries of healthy messages: each must end as a suppressed no-op."""
        return sum(1 for r in self.records if r.get("kind") in DUPLICATE_KINDS and not r.get("poisoned"))


@dataclass
class Verdict:
    verdict: str
    reasons: list[str]
    accepted: int
    rows: int
    dlq: int
    lost: int
    lost_ids: list[str]
    duplicate_rows: int
    duplicates_injected: int
    duplicates_suppressed: int
    max_consumer_concurrency: float | None
    consumer_concurrency_limit: int | None
    throttles: float
    function_errors: float
    drain_seconds: float | None
    e2e_latency_ms: dict[str, float]
    ingest_rps: float
    dlq_messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


def rows_of_run(dynamodb: Any, outputs: Outputs, accepted: Accepted) -> list[dict[str, Any]]:
    """The table's rows whose id the API accepted during this run (the table holds earlier runs too)."""
    ids = accepted.ids
    return [row for row in observe.rows(dynamodb, outputs.table_name) if row["id"] in ids]


def wait_for_drain(
    sqs: Any, outputs: Outputs, timeout_s: float, progress: Callable[[str], None] = lambda _: None
) -> float:
    """Seconds until the queue holds nothing (visible, in flight or delayed); HarnessError past the deadline."""
    started = time.monotonic()
    next_note = started
    while True:
        depth = observe.queue_depth(sqs, outputs.queue_url)
        elapsed = time.monotonic() - started
        if depth.total == 0:
            return elapsed
        if time.monotonic() >= next_note:
            progress(
                f"draining: {depth.visible} waiting, {depth.in_flight} in flight ({elapsed:.0f}s of {timeout_s:.0f}s)"
            )
            next_note += 2
        if elapsed > timeout_s:
            raise HarnessError(
                f"the queue did not drain within {timeout_s:.0f}s ({depth.visible} waiting, {depth.in_flight} "
                "in flight); is the subscriber running? raise HARNESS_DRAIN_TIMEOUT_S for slow backends"
            )
        time.sleep(0.5)


def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0-1) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def percentiles(values: Iterable[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    marks = {
        name: round(percentile(ordered, fraction), 1) for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
    }
    return {**marks, "max": round(ordered[-1], 1), "count": len(ordered)}


def duplicates_suppressed(logs: Any, subscriber: str, since: float) -> int:
    """Sum of the subscriber's DuplicatesSuppressed (its embedded-metric log lines) since ``since``."""
    total = 0
    kwargs = {
        "logGroupName": f"/aws/lambda/{subscriber}",
        "startTime": int(since * 1000),
        "filterPattern": "DuplicatesSuppressed",
    }
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
            for event in page["events"]:
                try:
                    total += int(json.loads(event["message"]).get("DuplicatesSuppressed", 0))
                except (ValueError, AttributeError):
                    continue
    except logs.exceptions.ResourceNotFoundException:
        return 0
    return total


def judge(
    settings: Settings,
    outputs: Outputs,
    accepted: Accepted,
    client: Callable[[str], Any],
    load_started: float,
    load_ended: float,
    drain_seconds: float | None,
    run_rows: list[dict[str, Any]] | None = None,
) -> Verdict:
    """``run_rows``: this run's rows when the caller has read them already (else they are read here)."""
    ids = accepted.ids
    if run_rows is None:
        run_rows = rows_of_run(client("dynamodb"), outputs, accepted)
    row_ids = {row["id"] for row in run_rows}
    dead = [m for m in observe.peek_messages(client("sqs"), outputs.dlq_url) if m.item_id in ids]
    dead_ids = {m.item_id for m in dead}
    missing_ids = sorted(ids - row_ids - dead_ids)
    events = accepted.events_by_id()
    # Requests that shared an id with another request can be one row at most: the rest are lost.
    collided = {item_id: len(owners) - 1 for item_id, owners in events.items() if len(owners) > 1}
    lost_ids = missing_ids + sorted(collided)
    lost = sum(len(events[item_id]) for item_id in missing_ids) + sum(collided.values())
    by_body = Counter(row.get("body_sha256") for row in run_rows if row.get("body_sha256"))
    duplicate_rows = sum(count - 1 for count in by_body.values() if count > 1)
    injected = accepted.injected_duplicates() + sum(collided.values())
    suppressed = _settled(
        lambda: duplicates_suppressed(client("logs"), outputs.subscriber_name, load_started), injected
    )
    cloudwatch = client("cloudwatch")
    subscriber = outputs.subscriber_name
    concurrency = observe.lambda_metric(cloudwatch, subscriber, "ConcurrentExecutions", "Maximum", load_started)
    throttles = observe.lambda_metric(cloudwatch, subscriber, "Throttles", "Sum", load_started) or 0
    errors = observe.lambda_metric(cloudwatch, subscriber, "Errors", "Sum", load_started) or 0
    limit = settings.consumer_concurrency_limit
    latency = percentiles(
        float(row["written_at_ms"]) - float(row["received_at_ms"])
        for row in run_rows
        if row.get("written_at_ms") is not None and row.get("received_at_ms") is not None
    )
    reasons = []
    if missing_ids:
        reasons.append(f"{len(missing_ids)} accepted id(s) are neither a row nor in the DLQ, e.g. {missing_ids[:3]}")
    if collided:
        reasons.append(
            f"{sum(collided.values())} accepted request(s) got the id of another request and were overwritten or "
            f"dropped as duplicates, e.g. {sorted(collided)[:3]}: the publisher's ids collide"
        )
    if duplicate_rows:
        reasons.append(f"{duplicate_rows} duplicate row(s): one request became more than one row")
    if limit is not None and concurrency is not None and concurrency > limit:
        reasons.append(f"the subscriber ran {concurrency:.0f} at once, above its limit of {limit}")
    unexpected = dead_ids - accepted.poisoned_ids
    if unexpected:
        reasons.append(f"{len(unexpected)} unexpected DLQ message(s) (no fault was injected for them)")
    missing_poison = accepted.poisoned_ids - dead_ids
    if missing_poison:
        reasons.append(f"{len(missing_poison)} poisoned message(s) did not reach the DLQ")
    if suppressed < injected:
        reasons.append(f"{injected} duplicate(s) injected but only {suppressed} suppressed by the subscriber")
    load_seconds = max(0.001, load_ended - load_started)
    return Verdict(
        verdict="FAIL" if reasons else "PASS",
        reasons=reasons,
        accepted=sum(len(owners) for owners in events.values()),
        rows=len(run_rows),
        dlq=len(dead),
        lost=lost,
        lost_ids=lost_ids[:100],
        duplicate_rows=duplicate_rows,
        duplicates_injected=injected,
        duplicates_suppressed=suppressed,
        max_consumer_concurrency=concurrency,
        consumer_concurrency_limit=limit,
        throttles=throttles,
        function_errors=errors,
        drain_seconds=None if drain_seconds is None else round(drain_seconds, 1),
        e2e_latency_ms=latency,
        ingest_rps=round(len(accepted.new_requests) / load_seconds, 1),
        dlq_messages=[
            {"id": m.item_id, "receive_count": m.receive_count, "why": _why(m.item_id, accepted)} for m in dead
        ],
    )


def _why(item_id: str | None, accepted: Accepted) -> str:
    if item_id in accepted.poisoned_ids:
        return "poisoned on purpose (fail_path_marker): the subscriber fails it every time"
    return "failed or throttled maxReceiveCount times (see the subscriber's logs and Throttles)"


def _settled(read: Callable[[], int], expected: int, timeout_s: float = 15) -> int:
    """Log lines reach CloudWatch Logs asynchronously: poll until the count reaches ``expected`` or stops."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while value < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value
