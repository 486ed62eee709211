"""SQS -> Lambda scaling and throttling as on AWS, against the real embedded stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import aws
from harness.evidence.collect import consumer_limits
from harness.network import free_port
from harness.observe import host_ceiling_hits, lambda_metric, peek_messages, queue_depth, rows
from harness.polling import wait_until
from harness.stack.config import StackSettings
from harness.stack.embedded import EmbeddedStack
from harness.topology.config import TopologySettings
from harness.topology.deploy import Deployer
from tests.integration.helpers import TIMED_SUBSCRIBER, flood

STACKS = Path(__file__).resolve().parents[1] / "stacks"


def max_overlap(batch_rows: list[dict]) -> int:
    """Most batches running at one moment, from each batch's own start and end time."""
    batches = {row["batch"]: (float(row["started"]), float(row["ended"])) for row in batch_rows}
    edges = sorted([(start, 1) for start, _ in batches.values()] + [(end, -1) for _, end in batches.values()])
    running = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


def drain(aws_client, outputs, timeout_s: float = 60) -> None:
    sqs = aws_client("sqs")
    wait_until(lambda: queue_depth(sqs, outputs.queue_url).total == 0, timeout_s, 0.2, what="the queue to drain")


def metric(aws_client, outputs, name: str, statistic: str) -> float:
    return lambda_metric(aws_client("cloudwatch"), outputs.subscriber_name, name, statistic) or 0


def test_a_backlog_runs_at_exactly_the_reserved_concurrency_and_throttles_are_counted(deploy_topology, aws_client):
    outputs = deploy_topology(subscriber_dir=TIMED_SUBSCRIBER, reserved_concurrency=3, backend_latency_ms=500).outputs
    ids = flood(aws_client("sqs"), outputs.queue_url, 150)
    drain(aws_client, outputs)
    written = rows(aws_client("dynamodb"), outputs.table_name)
    assert {row["id"] for row in written} == set(ids)
    assert max_overlap(written) == 3  # 5 pollers from the start, 3 allowed: the throttle bites
    wait_until(lambda: metric(aws_client, outputs, "Throttles", "Sum") > 0, 10, what="Throttles in CloudWatch")
    assert metric(aws_client, outputs, "ConcurrentExecutions", "Maximum") == 3
    assert metric(aws_client, outputs, "Errors", "Sum") == 0


def test_a_message_sent_right_after_a_mapping_update_is_processed_once_not_dead_lettered(deploy_topology, aws_client):
    """The replaced pollers are still in their long poll when the first message comes: they hand it to the
    updated mapping instead of releasing it, which would count a receive per stale poller (-> the DLQ)."""
    outputs = deploy_topology(subscriber_dir=TIMED_SUBSCRIBER, max_receive_count=1, backend_latency_ms=0).outputs
    warm = flood(aws_client("sqs"), outputs.queue_url, 10)
    drain(aws_client, outputs)  # the pollers ran a batch and are back in their long polls
    aws_client("lambda").update_event_source_mapping(UUID=outputs.event_source_mapping_uuid, BatchSize=5)
    ids = flood(aws_client("sqs"), outputs.queue_url, 10)
    drain(aws_client, outputs)
    assert {row["id"] for row in rows(aws_client("dynamodb"), outputs.table_name)} == set(warm + ids)
    assert peek_messages(aws_client("sqs"), outputs.dlq_url) == []


def test_maximum_concurrency_caps_the_pollers_so_nothing_is_throttled(deploy_topology, aws_client):
    outputs = deploy_topology(
        subscriber_dir=TIMED_SUBSCRIBER, reserved_concurrency=4, maximum_concurrency=2, backend_latency_ms=300
    ).outputs
    ids = flood(aws_client("sqs"), outputs.queue_url, 120)
    drain(aws_client, outputs)
    written = rows(aws_client("dynamodb"), outputs.table_name)
    assert {row["id"] for row in written} == set(ids)
    assert max_overlap(written) == 2
    wait_until(lambda: metric(aws_client, outputs, "ConcurrentExecutions", "Maximum") == 2, 10, what="the metric")
    assert metric(aws_client, outputs, "Throttles", "Sum") == 0


def overpull_topology(deploy_topology, **settings):
    """A visibility timeout short against the handler time and a small maxReceiveCount."""
    return deploy_topology(
        subscriber_dir=TIMED_SUBSCRIBER,
        reserved_concurrency=2,
        backend_latency_ms=1200,
        visibility_timeout_s=2,
        subscriber_timeout_s=2,
        max_receive_count=2,
        batch_size=5,
        **settings,
    ).outputs


def test_throttled_messages_reach_the_dlq_without_any_function_error(deploy_topology, aws_client):
    outputs = overpull_topology(deploy_topology)
    ids = flood(aws_client("sqs"), outputs.queue_url, 60)
    drain(aws_client, outputs, timeout_s=90)
    dead = {message.item_id for message in peek_messages(aws_client("sqs"), outputs.dlq_url)}
    written = {row["id"] for row in rows(aws_client("dynamodb"), outputs.table_name)}
    assert dead, "overpull: throttled batches should have used up their receives"
    assert written | dead == set(ids) and not written & dead  # every message accounted for, once
    assert metric(aws_client, outputs, "Errors", "Sum") == 0
    assert metric(aws_client, outputs, "Throttles", "Sum") > 0


def test_with_maximum_concurrency_equal_to_reserved_nothing_is_overpulled(deploy_topology, aws_client):
    outputs = overpull_topology(deploy_topology, maximum_concurrency=2)
    ids = flood(aws_client("sqs"), outputs.queue_url, 60)
    drain(aws_client, outputs, timeout_s=90)
    assert peek_messages(aws_client("sqs"), outputs.dlq_url) == []
    assert {row["id"] for row in rows(aws_client("dynamodb"), outputs.table_name)} == set(ids)


def test_partial_batch_responses_send_back_only_the_reported_messages(deploy_topology, aws_client):
    outputs = deploy_topology(
        subscriber_dir=TIMED_SUBSCRIBER, visibility_timeout_s=2, subscriber_timeout_s=2, batching_window_s=1
    ).outputs
    sqs = aws_client("sqs")
    failing = flood(sqs, outputs.queue_url, 3, fail_first=True)
    passing = flood(sqs, outputs.queue_url, 7)
    drain(aws_client, outputs, timeout_s=30)
    receive_counts = {row["id"]: row["receive_count"] for row in rows(aws_client("dynamodb"), outputs.table_name)}
    assert {receive_counts[item_id] for item_id in failing} == {2}
    assert {receive_counts[item_id] for item_id in passing} == {1}


def test_a_backlog_drains_in_full_batches_at_exactly_the_concurrency_limit(deploy_topology, aws_client):
    """N messages, batch b, concurrency c: c batches at a time, never more, each as full as the backlog allows.

    How close the drain comes to the ideal N*t/(b*c) is a speed figure: `make bench` measures it
    (drain_efficiency), on a machine doing nothing else.
    """
    n, b, c = 200, 10, 2
    outputs = deploy_topology(
        subscriber_dir=TIMED_SUBSCRIBER,
        reserved_concurrency=c,
        maximum_concurrency=c,
        batch_size=b,
        backend_latency_ms=500,
    ).outputs
    flood(aws_client("sqs"), outputs.queue_url, n)
    drain(aws_client, outputs)
    written = rows(aws_client("dynamodb"), outputs.table_name)
    assert len(written) == n
    assert max_overlap(written) == c
    batches = {row["batch"] for row in written}
    assert len(batches) <= n // b + c, f"{len(batches)} batches for {n} messages of batch size {b}"


def test_an_unthrottled_backlog_scales_up_beyond_the_initial_five(deploy_topology, aws_client):
    """Default scaling (5, then +5/s): a 2 s handler with batch size 1 needs more than five at once."""
    outputs = deploy_topology(
        subscriber_dir=TIMED_SUBSCRIBER, reserved_concurrency=None, batch_size=1, backend_latency_ms=2000
    ).outputs
    ids = flood(aws_client("sqs"), outputs.queue_url, 40)
    drain(aws_client, outputs, timeout_s=60)
    written = rows(aws_client("dynamodb"), outputs.table_name)
    assert {row["id"] for row in written} == set(ids)
    first_start = min(float(row["started"]) for row in written)
    last_end = max(float(row["ended"]) for row in written)
    peak = max_overlap(written)
    assert peak > 5
    assert peak <= 5 + 5 * (last_end - first_start) + 1  # never faster than 300/min
    assert metric(aws_client, outputs, "Throttles", "Sum") == 0


@pytest.mark.slow
def test_hitting_the_host_ceiling_is_reported_not_silent(tmp_path):
    """A stack of its own whose ceiling (2) is below AWS's starting concurrency (5)."""
    settings = StackSettings.from_env({}, port=free_port(), state_dir=tmp_path, max_concurrent_environments=2)
    topology = TopologySettings.from_env(
        {}, subscriber_dir=TIMED_SUBSCRIBER, reserved_concurrency="", backend_latency_ms=500
    )
    stack = EmbeddedStack(settings)
    stack.start()
    try:
        outputs = Deployer(settings, topology).deploy()
        sqs = aws.client("sqs", settings)
        flood(sqs, outputs.queue_url, 60)
        wait_until(lambda: queue_depth(sqs, outputs.queue_url).total == 0, 60, 0.2, what="the queue to drain")
        written = rows(aws.client("dynamodb", settings), outputs.table_name)
        assert max_overlap(written) == 2  # the ceiling, not AWS's 5
        hits = host_ceiling_hits(aws.client("cloudwatch", settings), outputs.subscriber_name, time.time() - 600)
        assert hits > 0
        assert "fidelity limit: AWS would run" in stack.log_file.read_text()
        status = subprocess.run(
            [sys.executable, "-m", "harness.cli", "status"], env={**os.environ, **settings.to_environment()},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert f"not AWS's scaling rule, bounded {outputs.subscriber_name} in" in status.stdout, status.stdout
    finally:
        stack.stop()


def _pollers(aws_client, outputs) -> float:
    """The scaler's allowance this last few seconds (the Harness/Emulation gauge), -1 before any."""
    points = aws_client("cloudwatch").get_metric_statistics(
        Namespace="Harness/Emulation", MetricName="Pollers",
        Dimensions=[{"Name": "FunctionName", "Value": outputs.subscriber_name}],
        StartTime=time.time() - 3, EndTime=time.time() + 1, Period=1, Statistics=["Maximum"],
    )["Datapoints"]  # fmt: skip
    return max((point["Maximum"] for point in points), default=-1)


def test_provisioned_pollers_keep_their_minimum_idle_and_start_a_backlog_faster_than_standard_mode(
    deploy_topology, aws_client
):
    """Three ready pollers carry 30 invocations at once; standard mode starts with 5 and adds 5 a second."""
    outputs = deploy_topology(
        subscriber_dir=TIMED_SUBSCRIBER, reserved_concurrency=None, batch_size=1, backend_latency_ms=1500,
        minimum_pollers=3, maximum_pollers=3,
    ).outputs  # fmt: skip
    mapping = aws_client("lambda").get_event_source_mapping(UUID=outputs.event_source_mapping_uuid)
    assert mapping["ProvisionedPollerConfig"] == {"MinimumPollers": 3, "MaximumPollers": 3}
    wait_until(lambda: _pollers(aws_client, outputs) == 3, 15, 0.5, what="three pollers kept while idle")
    drain(aws_client, outputs, timeout_s=60)
    flood(aws_client("sqs"), outputs.queue_url, 30)  # warms 30 environments: cold starts blur the next start
    drain(aws_client, outputs, timeout_s=90)
    ids = flood(aws_client("sqs"), outputs.queue_url, 30)
    drain(aws_client, outputs, timeout_s=90)
    written = [row for row in rows(aws_client("dynamodb"), outputs.table_name) if row["id"] in set(ids)]
    assert len(written) == 30
    first = min(float(row["started"]) for row in written)
    started_in_a_second = sum(1 for row in written if float(row["started"]) - first < 1.0)
    assert started_in_a_second > 5 + 5 + 1  # more than standard mode could start in its first second
    assert max_overlap(written) <= 30  # three pollers, ten invocations each
    assert metric(aws_client, outputs, "Throttles", "Sum") == 0


def test_provisioned_pollers_and_maximum_concurrency_are_refused_together(deploy_topology, aws_client):
    from botocore.exceptions import ClientError

    outputs = deploy_topology(minimum_pollers=2).outputs
    lambda_client = aws_client("lambda")
    with pytest.raises(ClientError) as refused:
        lambda_client.update_event_source_mapping(
            UUID=outputs.event_source_mapping_uuid, ScalingConfig={"MaximumConcurrency": 2}
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "mutually exclusive" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError, match="MinimumPollers must be between 2 and 200"):
        lambda_client.update_event_source_mapping(
            UUID=outputs.event_source_mapping_uuid, ProvisionedPollerConfig={"MinimumPollers": 1}
        )


def test_your_templates_provisioned_pollers_are_honoured(deploy_stack, aws_client, tmp_path):
    """A CloudFormation template's ProvisionedPollerConfig reaches the mapping and the scaler keeps its minimum."""
    stack_dir = tmp_path / "provisioned"
    shutil.copytree(STACKS / "cfn-webhook", stack_dir)
    template = stack_dir / "template.yaml"
    original = template.read_text()
    assert "ScalingConfig: {MaximumConcurrency: 2}" in original
    template.write_text(
        original.replace(
            "ScalingConfig: {MaximumConcurrency: 2}", "ProvisionedPollerConfig: {MinimumPollers: 3, MaximumPollers: 4}"
        )
    )
    outputs = deploy_stack(template, stack_name="provisioned-webhook").outputs
    _, maximum, provisioned = consumer_limits(aws_client("lambda"), outputs)
    assert maximum is None and provisioned == {"MinimumPollers": 3, "MaximumPollers": 4}
    wait_until(lambda: _pollers(aws_client, outputs) == 3, 15, 0.5, what="the template's three pollers kept idle")
