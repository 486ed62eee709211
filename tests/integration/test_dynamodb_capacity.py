"""DynamoDB capacity as AWS enforces it, in the embedded stack's provider."""

from __future__ import annotations

import time
import uuid

import botocore.config
import pytest
from botocore.exceptions import ClientError

from harness import aws
from harness.polling import poll


@pytest.fixture
def application_dynamodb(localstack):
    """A client like a user's code has: no observer mark, and no retries (each throttle is seen)."""
    return aws.session(localstack.settings).client(
        "dynamodb",
        endpoint_url=localstack.settings.endpoint_url,
        config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def create_table(dynamodb, **capacity) -> str:
    name = f"cap-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        **capacity,
    )
    return name


PROVISIONED_5 = {
    "BillingMode": "PROVISIONED",
    "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
}


def put(dynamodb, table: str, item_id: str, size: int = 10) -> str:
    try:
        dynamodb.put_item(TableName=table, Item={"id": {"S": item_id}, "data": {"S": "x" * size}})
        return "written"
    except ClientError as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        return error.response["Error"]["Code"]


def written_ids(aws_client, table: str) -> set[str]:
    return {item["id"]["S"] for item in aws_client("dynamodb").scan(TableName=table)["Items"]}


def test_a_5_wcu_table_throttles_a_write_burst_and_writes_nothing_it_refuses(application_dynamodb, aws_client):
    table = create_table(application_dynamodb, **PROVISIONED_5)
    outcomes = {f"b{n}": put(application_dynamodb, table, f"b{n}") for n in range(30)}
    written = {item_id for item_id, outcome in outcomes.items() if outcome == "written"}
    throttled = {
        item_id for item_id, outcome in outcomes.items() if outcome == "ProvisionedThroughputExceededException"
    }
    assert written | throttled == set(outcomes)
    assert 5 <= len(written) < 30 and throttled  # one second of capacity, plus what accrued meanwhile
    assert written_ids(aws_client, table) == written  # the observer's scan is not throttled


def test_items_over_one_kilobyte_cost_one_unit_per_started_kilobyte(application_dynamodb):
    table = create_table(application_dynamodb, **PROVISIONED_5)
    assert put(application_dynamodb, table, "big", size=4000) == "written"  # 4 units of 5
    assert put(application_dynamodb, table, "big2", size=2000) == "ProvisionedThroughputExceededException"


def test_an_on_demand_table_is_not_throttled(application_dynamodb, aws_client):
    table = create_table(application_dynamodb, BillingMode="PAY_PER_REQUEST")
    assert {put(application_dynamodb, table, f"o{n}") for n in range(60)} == {"written"}
    assert len(written_ids(aws_client, table)) == 60


def test_update_table_raises_the_capacity_live(application_dynamodb):
    table = create_table(application_dynamodb, **PROVISIONED_5)
    while put(application_dynamodb, table, uuid.uuid4().hex) == "written":
        pass  # spend the first second's units
    application_dynamodb.update_table(
        TableName=table, ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 1000}
    )
    time.sleep(0.1)  # 0.1 s at 1000 WCU: 100 units, not a synchronisation
    assert {put(application_dynamodb, table, f"u{n}") for n in range(20)} == {"written"}


def test_capacity_metrics_appear_in_cloudwatch_per_table(application_dynamodb, aws_client):
    table = create_table(application_dynamodb, **PROVISIONED_5)
    for n in range(12):
        put(application_dynamodb, table, f"m{n}")
    cloudwatch = aws_client("cloudwatch")

    def total(metric: str) -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/DynamoDB",
            MetricName=metric,
            Dimensions=[{"Name": "TableName", "Value": table}],
            StartTime=time.time() - 120,
            EndTime=time.time() + 60,
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(point["Sum"] for point in points)

    poll(
        lambda: total("ConsumedWriteCapacityUnits") + total("WriteThrottleEvents"),
        lambda n: n >= 12,
        timeout_s=10,
        what="12 writes in AWS/DynamoDB",
    )
    consumed, throttles = total("ConsumedWriteCapacityUnits"), total("WriteThrottleEvents")
    assert consumed + throttles == 12 and consumed >= 5 and throttles > 0
    assert total("ProvisionedWriteCapacityUnits") >= 5


def test_a_conditional_write_that_fails_its_condition_still_consumes(application_dynamodb):
    table = create_table(application_dynamodb, **PROVISIONED_5)
    assert put(application_dynamodb, table, "dup") == "written"
    codes = []
    for _ in range(6):
        try:
            application_dynamodb.put_item(
                TableName=table, Item={"id": {"S": "dup"}}, ConditionExpression="attribute_not_exists(id)"
            )
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
    assert codes[:4] == ["ConditionalCheckFailedException"] * 4  # each spent a unit ...
    assert "ProvisionedThroughputExceededException" in codes[4:]  # ... so the capacity ran out


def test_a_fault_window_tagged_on_the_table_fails_item_requests_as_an_outage(application_dynamodb, aws_client):
    table = create_table(application_dynamodb, BillingMode="PAY_PER_REQUEST")
    arn = application_dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
    now_ms = int(time.time() * 1000)
    application_dynamodb.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "harness:fault-outage-ms", "Value": f"{now_ms - 1000},{now_ms + 60_000}"}]
    )
    with pytest.raises(ClientError) as outage:
        application_dynamodb.put_item(TableName=table, Item={"id": {"S": "during"}})
    assert outage.value.response["Error"]["Code"] == "InternalServerError"
    assert outage.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert written_ids(aws_client, table) == set()  # nothing written, and the observer still reads
    application_dynamodb.untag_resource(ResourceArn=arn, TagKeys=["harness:fault-outage-ms"])
    assert put(application_dynamodb, table, "after") == "written"


def test_a_reset_starts_the_table_with_the_burst_credit_asked_for(application_dynamodb, localstack, aws_client):
    """`HARNESS_BURST_CREDIT`: full banks 300 s of the rate (1,500 units at 5 WCU), none nothing at all."""
    from harness.backend.config import BackendSettings
    from harness.backend.dynamodb import DynamoDBBackend

    backend = DynamoDBBackend(BackendSettings.from_env(), localstack.hosting(), aws_client)
    table = create_table(application_dynamodb, **PROVISIONED_5)
    big = 100 * 1024 - 100  # 100 write units per put
    backend.reset_capacity(table, "full")
    assert [put(application_dynamodb, table, f"f{n}", size=big) for n in range(14)] == ["written"] * 14
    backend.reset_capacity(table, "none")
    assert put(application_dynamodb, table, "n0") == "ProvisionedThroughputExceededException"
    backend.reset_capacity(table, "new")  # as a new table: one second of the rate
    assert put(application_dynamodb, table, "new0", size=4 * 1024) == "written"
