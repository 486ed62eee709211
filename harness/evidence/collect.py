"""Read a finished run's outcome from the stack, once: the only AWS reads behind a verdict and a report."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from harness import observe
from harness.backend import Backend
from harness.evidence import Accepted, Consumer, Evidence, Fault, Offered, held_state
from harness.evidence.tokens import tokens_in
from harness.load.shapes import SOAK
from harness.outputs import Outputs
from harness.polling import DeadlineExceeded, poll

BASELINE_DRAIN_S = 30

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


def consumer_limits(lambda_client: Any, outputs: Outputs) -> tuple[int | None, int | None, dict[str, int]]:
    """(reserved concurrency, ScalingConfig.MaximumConcurrency, ProvisionedPollerConfig) as deployed now."""
    reserved = lambda_client.get_function_concurrency(FunctionName=outputs.subscriber_name).get(
        "ReservedConcurrentExecutions"
    )
    mapping = lambda_client.get_event_source_mapping(UUID=outputs.event_source_mapping_uuid)
    provisioned = dict(mapping.get("ProvisionedPollerConfig") or {})
    return reserved, (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency"), provisioned


METRICS_WINDOW_S = 6 * 3600
"""The queue's NumberOfMessagesSent is read as a total over this window, before the load and after it."""


def baseline(client: Callable[[str], Any], outputs: Outputs, backend: Backend) -> dict[str, Any]:
    """What the table, the DLQ and the queue's sent-messages metric hold before a load: verification by
    counting, and the messages enqueued per request, compare against it. Messages already queued (a request
    just before the load) are written first, so their rows are not counted as the run's."""
    with contextlib.suppress(DeadlineExceeded):  # a backlog that does not clear: counted as it stands
        wait_for_drain(client("sqs"), outputs, BASELINE_DRAIN_S)
    dlq = observe.queue_depth(client("sqs"), outputs.dlq_url).total if outputs.dlq_url else 0
    window_start = time.time() - METRICS_WINDOW_S
    return {
        "table_rows": len(backend.rows(outputs.table_name)),
        "dlq_depth": dlq,
        "metrics_from": window_start,
        "messages_sent": settled_messages_sent(client("cloudwatch"), outputs, window_start),
    }


def settled_messages_sent(cloudwatch: Any, outputs: Outputs, window_start: float) -> float:
    """The queue's NumberOfMessagesSent since ``window_start``, once two reads a second apart agree (the
    stack publishes its SQS metrics asynchronously)."""
    previous: list[float | None] = [None]

    def read() -> float:
        queue_name = outputs.queue_arn.rsplit(":", 1)[-1]
        points = observe.sums(cloudwatch, "AWS/SQS", "QueueName", queue_name, "NumberOfMessagesSent", window_start)
        return sum(points)

    def stable(value: float) -> bool:
        settled, previous[0] = value == previous[0], value
        return settled

    return poll(read, stable, timeout_s=5, interval_s=1.0, settle=True)


def collect(
    client: Callable[[str], Any],
    outputs: Outputs,
    backend: Backend,
    accepted: Accepted,
    *,
    run_id: str,
    load_started: float,
    load_ended: float,
    drain_seconds: float | None,
    samples: Sequence[dict[str, Any]] = (),
    faults: Sequence[Fault] = (),
    before: dict[str, int] | None = None,
    offered: Offered | None = None,
    shape: str = "",
) -> Evidence:
    """Everything the rules and the report need about a run; ``client(service)`` builds AWS clients, and
    ``backend`` reads the rows and its own side of the run.

    Requests are found by the ids our publisher answered, else by their tokens in the rows' attributes,
    else (the stack keeps no token) counted: ``before`` holds the table's and the DLQ's counts from
    before the load.
    """
    every_row = backend.rows(outputs.table_name)
    every_letter = observe.peek_messages(client("sqs"), outputs.dlq_url) if outputs.dlq_url else []
    if accepted.by_id:
        correlation, ids = "id", accepted.ids
        rows = [row for row in every_row if row.get("id") in ids]
        dead = [letter for letter in every_letter if letter.item_id in ids]
    else:
        tokens = accepted.tokens
        rows = [row for row in every_row if tokens_in(row) & tokens]
        dead = [letter for letter in every_letter if tokens_in(letter.body) & tokens]
        correlation = "token" if rows or dead else "count"
    refused_ids = {record["id"] for record in accepted.refused if record.get("id")}
    refused_tokens = {record["token"] for record in accepted.refused if record.get("token")}
    refused_rows = sum(1 for row in every_row if row.get("id") in refused_ids or tokens_in(row) & refused_tokens)
    throttled_tokens = {record["token"] for record in accepted.never_accepted if record.get("token")}
    throttled_rows = sum(1 for row in every_row if tokens_in(row) & throttled_tokens) if throttled_tokens else 0
    expected = accepted.duplicates_expected() if correlation == "id" else 0
    suppressed = poll(
        lambda: duplicates_suppressed(client("logs"), outputs.subscriber_name, load_started),
        lambda count: count >= expected,
        timeout_s=LOG_SETTLE_S,
        interval_s=0.5,
        settle=True,
    )
    cloudwatch, subscriber = client("cloudwatch"), outputs.subscriber_name
    reserved, maximum, provisioned = consumer_limits(client("lambda"), outputs)

    def per_second(metric: str, statistic: str) -> list[tuple[float, float]]:
        """Only this run's seconds: a run right after another must not inherit its metrics."""
        return observe.per_second(cloudwatch, "AWS/Lambda", "FunctionName", subscriber, metric, statistic, load_started)

    concurrency = per_second("ConcurrentExecutions", "Maximum")
    consumer = Consumer(
        reserved_concurrency=reserved,
        maximum_concurrency=maximum,
        provisioned_pollers=provisioned,
        max_concurrency=max((value for _, value in concurrency), default=None),
        throttles=sum(value for _, value in per_second("Throttles", "Sum")),
        errors=sum(value for _, value in per_second("Errors", "Sum")),
        duplicates_suppressed=suppressed,
        concurrency=concurrency,
        host_ceiling_hits=observe.host_ceiling_hits(cloudwatch, subscriber, load_started),
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
        backend=backend.view(outputs.table_name, samples, load_started),
        pending=observe.queue_depth(client("sqs"), outputs.queue_url).total,
        correlation=correlation,
        table_rows=(before["table_rows"], len(every_row)) if before else None,
        dlq_depth=(before["dlq_depth"], len(every_letter)) if before else None,
        enqueued=_enqueued(cloudwatch, outputs, before),
        refused_rows=refused_rows,
        throttled_rows=throttled_rows,
        offered=offered,
        shape=shape,
        held_mib=held_for_the_run(client, outputs, backend, accepted, rows, samples, load_started)
        if shape == SOAK
        else [],
    )


def held_for_the_run(
    client: Callable[[str], Any],
    outputs: Outputs,
    backend: Backend,
    accepted: Accepted,
    rows: Sequence[dict[str, Any]],
    samples: Sequence[dict[str, Any]],
    load_started: float,
) -> list[tuple[float, float]]:
    """What LocalStack must keep for the run at each memory sample: its rows (stored as each accepted
    request was, one row each) and every invocation's log lines."""
    cloudwatch, logs = client("cloudwatch"), client("logs")
    stored = sorted(accepted.times("new"))[: len(rows)]
    functions = []
    for function in (outputs.publisher_name, outputs.subscriber_name):
        lines = observe.invocation_log_lines(logs, function) if function else []
        if lines:
            counts = observe.per_second_sums(cloudwatch, "AWS/Lambda", "FunctionName", function, "Invocations",
                                             load_started)  # fmt: skip
            per_second = [(load_started + t, count) for t, count in counts]
            functions.append((per_second, held_state.log_bytes_per_invocation(lines)))
    return held_state.held_mib(
        [sample["t"] for sample in samples if "gateway_rss_mb" in sample],
        (stored, backend.bytes_held_per_row(outputs.table_name, rows)),
        functions,
    )


def without_the_stack(
    outputs: Outputs,
    accepted: Accepted,
    *,
    run_id: str,
    load_started: float,
    load_ended: float,
    samples: Sequence[dict[str, Any]] = (),
    faults: Sequence[Fault] = (),
    offered: Offered | None = None,
    shape: str = "",
) -> Evidence:
    """What a run holds when the stack under test is gone: what the senders recorded and the samples taken
    until then; nothing read from the stack (no rows, no DLQ, no metrics), so nothing can be judged lost."""
    return Evidence(
        run_id=run_id,
        outputs=outputs,
        accepted=accepted,
        rows=[],
        dead_letters=[],
        consumer=Consumer(None, None, None, 0.0, 0.0, 0),
        load_started=load_started,
        load_ended=load_ended,
        drain_seconds=None,
        samples=list(samples),
        faults=list(faults),
        offered=offered,
        shape=shape,
    )


def _enqueued(cloudwatch: Any, outputs: Outputs, before: dict[str, Any] | None) -> float | None:
    """Messages the queue received since the baseline; None without one (or when it counts none at all)."""
    if not before or before.get("messages_sent") is None:
        return None
    sent = settled_messages_sent(cloudwatch, outputs, before["metrics_from"]) - before["messages_sent"]
    return sent or None
