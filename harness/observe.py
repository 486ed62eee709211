"""Read what the topology holds: rows, queue depths, DLQ messages. Read-only: nothing is consumed."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from harness.evidence import DeadLetter
from harness.localstack_extensions.contract import EMULATION_NAMESPACE

MAX_DATAPOINTS = 1440
"""The most datapoints one GetMetricStatistics may ask for (CloudWatch's limit, enforced by LocalStack)."""

_deserialize = TypeDeserializer().deserialize


def rows(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of a DynamoDB ``table`` as plain Python values (a paginated scan)."""
    return [
        {key: _deserialize(value) for key, value in item.items()}
        for page in dynamodb.get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
    ]


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def queue_depth(sqs: Any, queue_url: str) -> QueueDepth:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return QueueDepth(
        visible=int(attributes["ApproximateNumberOfMessages"]),
        in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        delayed=int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


def peek_messages(sqs: Any, queue_url: str, hold_s: int = 30) -> list[DeadLetter]:
    """Every visible message of a queue (typically the DLQ), made visible again afterwards."""
    seen: dict[str, DeadLetter] = {}
    receipts = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=hold_s,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            receipts.append(message["ReceiptHandle"])
            try:
                item_id = json.loads(message["Body"]).get("id")
            except (ValueError, AttributeError):
                item_id = None
            seen[message["MessageId"]] = DeadLetter(
                message_id=message["MessageId"],
                item_id=item_id,
                receive_count=int(message["Attributes"]["ApproximateReceiveCount"]),
                body=message["Body"],
            )
    for start in range(0, len(receipts), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                for index, receipt in enumerate(receipts[start : start + 10])
            ],
        )
    return list(seen.values())


def _datapoints(
    cloudwatch: Any,
    namespace: str,
    dimension: str,
    value: str,
    metric: str,
    statistic: str,
    start: float,
    end: float,
    period: int,
) -> list[dict[str, Any]]:
    """Asked in windows of at most ``MAX_DATAPOINTS`` periods: CloudWatch refuses a longer range (a soak's
    seconds, or a run verified long after it ended)."""
    datapoints: list[dict[str, Any]] = []
    window_start, end = int(start), int(end)  # whole seconds, as CloudWatch reads them
    while window_start < end:
        window_end = min(window_start + MAX_DATAPOINTS * period, end)
        datapoints += cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": dimension, "Value": value}],
            StartTime=datetime.fromtimestamp(window_start, UTC),
            EndTime=datetime.fromtimestamp(window_end, UTC),
            Period=period,
            Statistics=[statistic],
        )["Datapoints"]
        window_start = window_end
    return datapoints


def lambda_metric(
    cloudwatch: Any,
    function: str,
    metric: str,
    statistic: str,
    since: float | None = None,
    namespace: str = "AWS/Lambda",
) -> float | None:
    """A per-function metric since ``since`` (epoch s; default: 15 minutes ago): Maximum or Sum.

    None when there is no datapoint (AWS publishes nothing for, e.g., zero throttles).
    """
    start = time.time() - 900 if since is None else since - 60
    datapoints = _datapoints(
        cloudwatch, namespace, "FunctionName", function, metric, statistic, start, time.time() + 60, 60
    )
    values = [point[statistic] for point in datapoints]
    if not values:
        return None
    return max(values) if statistic == "Maximum" else sum(values)


def sums(cloudwatch: Any, namespace: str, dimension: str, value: str, metric: str, since: float) -> list[float]:
    """A metric's Sum per minute since ``since`` (for totals)."""
    datapoints = _datapoints(cloudwatch, namespace, dimension, value, metric, "Sum", since, time.time() + 60, 60)
    return [point["Sum"] for point in datapoints]


def per_second(
    cloudwatch: Any, namespace: str, dimension: str, value: str, metric: str, statistic: str, since: float
) -> list[tuple[float, float]]:
    """A metric second by second since ``since``, as (seconds since then, value)."""
    datapoints = _datapoints(cloudwatch, namespace, dimension, value, metric, statistic, since - 1, time.time() + 1, 1)
    points = sorted((point["Timestamp"].timestamp() - since, point[statistic]) for point in datapoints)
    return [(max(0.0, t), v) for t, v in points]


def per_second_sums(
    cloudwatch: Any, namespace: str, dimension: str, value: str, metric: str, since: float
) -> list[tuple[float, float]]:
    """A Sum second by second, the seconds without a datapoint as 0 (nothing counted), from its first to its
    last datapoint: a chart then shows a pause as a pause, not as a line drawn across it."""
    return zero_filled(per_second(cloudwatch, namespace, dimension, value, metric, "Sum", since))


def zero_filled(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(seconds, value) points on whole seconds, every second between the first and the last present."""
    by_second: dict[int, float] = {}
    for t, value in points:
        by_second[round(t)] = by_second.get(round(t), 0.0) + value
    if not by_second:
        return []
    return [(float(second), by_second.get(second, 0.0)) for second in range(min(by_second), max(by_second) + 1)]


def host_ceiling_hits(cloudwatch: Any, function: str, since: float) -> float:
    """Seconds since ``since`` in which the emulation wanted more of ``function`` than the host ceiling allows."""
    return sum(sums(cloudwatch, EMULATION_NAMESPACE, "FunctionName", function, "HostCeilingHits", since))


def concurrency_per_second(cloudwatch: Any, function: str, since: float) -> list[tuple[float, float]]:
    """ConcurrentExecutions (Maximum) second by second since ``since``, as (seconds since then, value)."""
    return per_second(cloudwatch, "AWS/Lambda", "FunctionName", function, "ConcurrentExecutions", "Maximum", since)


def invocation_log_lines(logs: Any, function: str) -> list[str]:
    """The lines one invocation stored (START ... REPORT), read back from its log group."""
    group = f"/aws/lambda/{function}"
    try:
        streams = logs.describe_log_streams(logGroupName=group, limit=1)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []  # never invoked
    if not streams:
        return []
    stream = streams[0]["logStreamName"]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=50, startFromHead=True)["events"]
    lines = []
    for event in events:
        lines.append(event["message"])
        if event["message"].startswith("REPORT"):
            return lines
    return lines
