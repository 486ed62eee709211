"""DynamoDB (moto provider) and SQS as the webhook topology uses them."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import observe
from harness.polling import poll


@pytest.fixture
def table(aws_client):
    dynamodb = aws_client("dynamodb")
    name = f"Messages-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield name
    dynamodb.delete_table(TableName=name)


def conditional_put(dynamodb, table, item_id, message):
    try:
        dynamodb.put_item(
            TableName=table,
            Item={"id": {"S": item_id}, "message": {"S": message}},
            ConditionExpression="attribute_not_exists(id)",
        )
        return "written"
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return "duplicate"


def test_conditional_put_rejects_the_second_write(aws_client, table):
    dynamodb = aws_client("dynamodb")
    assert conditional_put(dynamodb, table, "a", "first") == "written"
    assert conditional_put(dynamodb, table, "a", "second") == "duplicate"
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": "a"}})["Item"]
    assert item["message"]["S"] == "first"


def test_concurrent_conditional_puts_of_one_id_let_exactly_one_win(aws_client, table):
    dynamodb = aws_client("dynamodb", max_pool_connections=20)
    for round_ in range(5):
        item_id = f"id-{round_}"
        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(lambda n, i=item_id: conditional_put(dynamodb, table, i, str(n)), range(16)))
        assert outcomes.count("written") == 1, outcomes
    assert dynamodb.scan(TableName=table, Select="COUNT")["Count"] == 5


def test_sqs_send_and_receive(aws_client):
    sqs = aws_client("sqs")
    queue_url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    assert queue_url.startswith("http://127.0.0.1:")
    sent = {sqs.send_message(QueueUrl=queue_url, MessageBody=f"m{i}")["MessageId"] for i in range(5)}
    received = set()

    def receive() -> set[str]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in messages.get("Messages", []):
            received.add(message["MessageId"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    poll(receive, lambda got: len(got) >= 5, timeout_s=30, interval_s=0, what="5 messages")
    assert received == sent


def test_sqs_per_message_metrics_are_readable_as_soon_as_the_messages_are_sent(aws_client):
    """Counted in memory, not one PutMetricData each: a read right after the sends sees all of them."""
    sqs, cloudwatch = aws_client("sqs"), aws_client("cloudwatch")
    name = f"q-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    since = time.time()
    for index in range(12):
        sqs.send_message(QueueUrl=queue_url, MessageBody="x" * (index + 1))
    assert sum(observe.sums(cloudwatch, "AWS/SQS", "QueueName", name, "NumberOfMessagesSent", since - 60)) == 12
    sizes = {
        statistic: [
            value
            for _, value in observe.per_second(
                cloudwatch, "AWS/SQS", "QueueName", name, "SentMessageSize", statistic, since
            )
        ]
        for statistic in ("Minimum", "Maximum")
    }
    assert (min(sizes["Minimum"]), max(sizes["Maximum"])) == (1, 12)


def test_per_second_metrics_over_more_than_cloudwatchs_1440_datapoints_are_read_whole(aws_client):
    """A soak's half hour, or a run verified an hour later: one request would be refused for its size."""
    cloudwatch = aws_client("cloudwatch")
    name = f"soak-{uuid.uuid4().hex[:8]}"
    since = float(int(time.time()) - 3000)  # whole seconds: a datapoint stands for the second it falls in
    offsets = (10, 1500, 2990)
    cloudwatch.put_metric_data(
        Namespace="Harness/Test",
        MetricData=[
            {
                "MetricName": "Beats",
                "Dimensions": [{"Name": "Run", "Value": name}],
                "Timestamp": since + offset,
                "Value": 1.0,
                "StorageResolution": 1,
            }
            for offset in offsets
        ],
    )
    points = observe.per_second(cloudwatch, "Harness/Test", "Run", name, "Beats", "Sum", since)
    assert [round(t) for t, _ in points] == list(offsets)
