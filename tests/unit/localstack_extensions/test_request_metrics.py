"""Per-request metrics counted in memory: the same datapoints as LocalStack's, none lost, written once."""

from types import SimpleNamespace

from harness.localstack_extensions.metrics import RequestMetrics
from harness.localstack_extensions.sqs import InProcessSqsMetrics


def test_a_sent_message_records_the_datapoints_stock_sqs_publishes(monkeypatch):
    metrics = RequestMetrics()
    monkeypatch.setattr("harness.localstack_extensions.sqs.REQUEST_METRICS", metrics)
    queue = SimpleNamespace(account_id="111111111111", region="eu-west-1", name="orders")
    dispatcher = InProcessSqsMetrics()
    dispatcher.dispatch_metric_message_sent(queue, message_body_size=321)
    dispatcher.dispatch_metric_received(queue, received=3)
    batch = metrics.collect()
    data = batch[("111111111111", "eu-west-1")]["AWS/SQS"]
    assert {(d["MetricName"], d["Value"], d["Unit"]) for d in data} == {
        ("NumberOfMessagesSent", 1, "Count"),
        ("SentMessageSize", 321, "Bytes"),
        ("NumberOfMessagesReceived", 3, "Count"),
    }
    assert all(d["Dimensions"] == [{"Name": "QueueName", "Value": "orders"}] for d in data)
    assert metrics.collect() == {}  # each datapoint is handed over once


def test_a_stopped_dispatcher_records_nothing(monkeypatch):
    metrics = RequestMetrics()
    monkeypatch.setattr("harness.localstack_extensions.sqs.REQUEST_METRICS", metrics)
    dispatcher = InProcessSqsMetrics()
    dispatcher.shutdown()
    dispatcher.dispatch_sqs_metric("1", "r", "q", "NumberOfMessagesSent")
    assert metrics.collect() == {}


def test_a_flush_hands_everything_recorded_to_the_writer_by_account_region_and_namespace():
    metrics = RequestMetrics()
    written = []
    metrics.writer = lambda account, region, namespace, data: written.append((account, region, namespace, len(data)))
    for _ in range(5):
        metrics.add("1", "us-east-1", "AWS/SQS", {"MetricName": "NumberOfMessagesSent", "Value": 1})
    metrics.add("2", "us-east-1", "AWS/SQS", {"MetricName": "NumberOfMessagesSent", "Value": 1})
    metrics.flush()
    assert sorted(written) == [("1", "us-east-1", "AWS/SQS", 5), ("2", "us-east-1", "AWS/SQS", 1)]
    metrics.flush()
    assert len(written) == 2
