"""Read a finished run's outcome from the stack, once: the only AWS reads behind a verdict and a report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from harness import backend, observe
from harness.evidence import Accepted, Consumer, Evidence
from harness.load.faults import Fault
from harness.outputs import Outputs
from harness.polling import poll

LOG_SETTLE_S = 15
"""Log lines reach CloudWatch Logs asynchronously: how long to wait for the suppressed-duplicate counts."""


def wait_for_drain(
    sqs: Any, outputs: Outputs, timeout_s: float, progress: Callable[[str], None] = lambda _: None
) -> float:
    """Seconds until the queue holds nothing (visible, in flight or delayed); DeadlineExceeded past the deadline."""

    def note(depth: observe.QueueDepth, elapsed: float) -> None:
        progress(f"draining: {depth.visible} waiting, {depth.in_flight} in flight ({elapsed:.0f}s of {timeout_s:.0f}s)")

    def failure(depth: observe.QueueDepth) -> str:
        return (
            f"the queue did not drain within {timeout_s:.0f}s ({depth.visible} waiting, {depth.in_flight} in "
            "flight); is the subscriber running? raise HARNESS_DRAIN_TIMEOUT_S for slow backends"
        )

    started = time.monotonic()
    poll(
        lambda: observe.queue_depth(sqs, outputs.queue_url),
        lambda depth: depth.total == 0,
        timeout_s=timeout_s,
        interval_s=0.5,
        failure=failure,
        progress=note,
    )
    return time.monotonic() - started


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


def consumer_limits(lambda_client: Any, outputs: Outputs) -> tuple[int | None, int | None]:
    """(reserved concurrency, ScalingConfig.MaximumConcurrency) of the subscriber as deployed now."""
    reserved = lambda_client.get_function_concurrency(FunctionName=outputs.subscriber_name).get(
        "ReservedConcurrentExecutions"
    )
    mapping = lambda_client.get_event_source_mapping(UUID=outputs.event_source_mapping_uuid)
    return reserved, (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")


def collect(
    client: Callable[[str], Any],
    outputs: Outputs,
    accepted: Accepted,
    *,
    run_id: str,
    load_started: float,
    load_ended: float,
    drain_seconds: float | None,
    samples: Sequence[dict[str, Any]] = (),
    faults: Sequence[Fault] = (),
) -> Evidence:
    """Everything the rules and the report need about a run; ``client(service)`` builds AWS clients."""
    ids = accepted.ids
    rows = [row for row in backend.rows(outputs, client) if row["id"] in ids]
    dead = [letter for letter in observe.peek_messages(client("sqs"), outputs.dlq_url) if letter.item_id in ids]
    suppressed = poll(
        lambda: duplicates_suppressed(client("logs"), outputs.subscriber_name, load_started),
        lambda count: count >= accepted.duplicates_expected(),
        timeout_s=LOG_SETTLE_S,
        interval_s=0.5,
        settle=True,
    )
    cloudwatch, subscriber = client("cloudwatch"), outputs.subscriber_name
    reserved, maximum = consumer_limits(client("lambda"), outputs)

    def per_second(metric: str, statistic: str) -> list[tuple[float, float]]:
        """Only this run's seconds: a run right after another must not inherit its metrics."""
        return observe.per_second(cloudwatch, "AWS/Lambda", "FunctionName", subscriber, metric, statistic, load_started)

    concurrency = per_second("ConcurrentExecutions", "Maximum")
    consumer = Consumer(
        reserved_concurrency=reserved,
        maximum_concurrency=maximum,
        max_concurrency=max((value for _, value in concurrency), default=None),
        throttles=sum(value for _, value in per_second("Throttles", "Sum")),
        errors=sum(value for _, value in per_second("Errors", "Sum")),
        duplicates_suppressed=suppressed,
        concurrency=concurrency,
    )
    return Evidence(
        run_id=run_id,
        outputs=outputs,
        accepted=accepted,
        rows=rows,
        dead_letters=dead,
        consumer=consumer,
        load_started=load_started,
        load_ended=load_ended,
        drain_seconds=drain_seconds,
        samples=list(samples),
        faults=list(faults),
        backend=backend.view(outputs, client, samples, load_started),
        pending=observe.queue_depth(client("sqs"), outputs.queue_url).total,
    )
