"""DynamoDB, the reference stack's backend: a table in the stack, PROVISIONED (held to its capacity units, as
the reference stack's 5/5) or on demand. Its view of a run comes from its own CloudWatch metrics
(ConsumedWriteCapacityUnits, throttle events); its faults are tags the stack's DynamoDB reads
(``harness.localstack_extensions.contract``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from harness import observe
from harness.backend.base import Backend, ClientFactory, Hosting, Progress, added
from harness.backend.config import BackendSettings
from harness.evidence import BackendView, held_state
from harness.localstack_extensions.contract import (
    BURST_CREDIT_SECONDS,
    CAPACITY_RESET_TAG,
    TABLE_ERROR_RATE_TAG,
    TABLE_OUTAGE_TAG,
)
from harness.outputs import Outputs

KEY_SCHEMA = [{"AttributeName": "id", "KeyType": "HASH"}]
ATTRIBUTES = [{"AttributeName": "id", "AttributeType": "S"}]
_WAIT = {"Delay": 1, "MaxAttempts": 60}


def table_capacity(description: dict[str, Any]) -> tuple[str, int, int]:
    """(billing mode, RCU, WCU) of a DescribeTable answer; no billing mode means PROVISIONED, as on AWS."""
    mode = (description.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    if mode == "PAY_PER_REQUEST":
        return mode, 0, 0
    throughput = description.get("ProvisionedThroughput") or {}
    return mode, int(throughput.get("ReadCapacityUnits") or 0), int(throughput.get("WriteCapacityUnits") or 0)


SAMPLED_ROWS = 2000
"""Rows stored in a moto backend of the harness's own to measure what one takes in LocalStack's."""


class DynamoDBBackend(Backend):
    kind = "dynamodb"

    @property
    def wanted_capacity(self) -> tuple[str, int, int]:
        s = self.settings
        if s.table_billing_mode == "PAY_PER_REQUEST":
            return "PAY_PER_REQUEST", 0, 0
        return "PROVISIONED", s.table_read_capacity, s.table_write_capacity

    @property
    def on_demand(self) -> bool:
        return self.settings.table_billing_mode == "PAY_PER_REQUEST"

    def describe(self) -> str:
        mode, read, write = self.wanted_capacity
        return f"dynamodb, {'on demand' if self.on_demand else f'{mode} {read} RCU / {write} WCU'}"

    # --- deploying --------------------------------------------------------------------------------

    def ensure_table(self, table: str, changed: Progress) -> dict[str, str]:
        dynamodb, (mode, read, write) = self.client("dynamodb"), self.wanted_capacity
        capacity: dict[str, Any] = {"BillingMode": mode}
        if mode == "PROVISIONED":
            capacity["ProvisionedThroughput"] = {"ReadCapacityUnits": read, "WriteCapacityUnits": write}
        described = self.describe().removeprefix("dynamodb, ")
        try:
            current = dynamodb.describe_table(TableName=table)["Table"]
        except dynamodb.exceptions.ResourceNotFoundException:
            dynamodb.create_table(TableName=table, KeySchema=KEY_SCHEMA, AttributeDefinitions=ATTRIBUTES, **capacity)
            dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig=_WAIT)
            changed(f"created table {table} ({described})")
            return {}
        if table_capacity(current) != self.wanted_capacity:
            dynamodb.update_table(TableName=table, **capacity)
            changed(f"updated capacity of table {table} to {described}")
        return {}

    @classmethod
    def as_deployed(
        cls, settings: BackendSettings, outputs: Outputs, hosting: Hosting, client: ClientFactory
    ) -> dict[str, Any]:
        """The table's capacity as it is, unless billing mode or units were given."""
        if {"table_billing_mode", "table_read_capacity", "table_write_capacity"} & settings.given:
            return {}
        try:
            mode, read, write = table_capacity(client("dynamodb").describe_table(TableName=outputs.table_name)["Table"])
        except Exception:  # no stack answering, or no table: the settings as they are
            return {}
        changes: dict[str, Any] = {"table_billing_mode": mode}
        if mode == "PROVISIONED":
            changes |= {"table_read_capacity": read, "table_write_capacity": write}
        return changes

    # --- a run ------------------------------------------------------------------------------------

    def rows(self, table: str) -> list[dict[str, Any]]:
        return observe.rows(self.client("dynamodb"), table)

    def bytes_held_per_row(self, table: str, rows: Sequence[dict[str, Any]]) -> float:
        """The table lives in LocalStack's moto backend: a sample of the rows stored in one here, measured."""
        sample = list(rows[:SAMPLED_ROWS])
        if not sample:
            return 0.0
        described = self.client("dynamodb").describe_table(TableName=table)["Table"]
        stored = held_state.stored_item_bytes(sample, described["KeySchema"], described["AttributeDefinitions"])
        return stored / len(sample)

    def empty(self, table: str) -> None:
        """Every item deleted by its key, whatever the table's key schema (a user's table may differ)."""
        dynamodb = self.client("dynamodb")
        key_names = [key["AttributeName"] for key in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
        projection = {"ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(key_names))),
                      "ExpressionAttributeNames": {f"#k{i}": name for i, name in enumerate(key_names)}}  # fmt: skip
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, **projection):
            for start in range(0, len(page["Items"]), 25):
                requests = [{"DeleteRequest": {"Key": item}} for item in page["Items"][start : start + 25]]
                dynamodb.batch_write_item(RequestItems={table: requests})

    def reset_capacity(self, table: str, credit: str = "new") -> None:
        dynamodb = self.client("dynamodb")
        arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
        value = str(BURST_CREDIT_SECONDS.get(credit, credit))
        dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": CAPACITY_RESET_TAG, "Value": value}])
        dynamodb.untag_resource(ResourceArn=arn, TagKeys=[CAPACITY_RESET_TAG])

    def recreate(self, table: str) -> None:
        """A new table: the same (empty) burst credit for every variant, not what a run before left."""
        dynamodb = self.client("dynamodb")
        dynamodb.delete_table(TableName=table)
        dynamodb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig={"Delay": 0.5})
        self.ensure_table(table, lambda _: None)

    @contextlib.contextmanager
    def _faults(self, table: str, outage: tuple[float, float] | None, error_rate: float) -> Iterator[None]:
        dynamodb = self.client("dynamodb")
        arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
        tags = []
        if outage:
            tags.append({"Key": TABLE_OUTAGE_TAG, "Value": f"{int(outage[0] * 1000)},{int(outage[1] * 1000)}"})
        if error_rate:
            tags.append({"Key": TABLE_ERROR_RATE_TAG, "Value": str(error_rate)})
        dynamodb.tag_resource(ResourceArn=arn, Tags=tags)
        try:
            yield
        finally:
            dynamodb.untag_resource(ResourceArn=arn, TagKeys=[tag["Key"] for tag in tags])

    def view(self, table: str, samples: Sequence[dict[str, Any]], since: float) -> BackendView:
        mode, _, write = table_capacity(self.client("dynamodb").describe_table(TableName=table)["Table"])
        cloudwatch = self.client("cloudwatch")

        def per_second(metric: str) -> list[tuple[float, float]]:
            return observe.per_second_sums(cloudwatch, "AWS/DynamoDB", "TableName", table, metric, since)

        consumed = per_second("ConsumedWriteCapacityUnits")
        throttles = added(per_second("WriteThrottleEvents"), per_second("ReadThrottleEvents"))
        return BackendView(
            kind=self.kind,
            capacity=None if mode == "PAY_PER_REQUEST" else float(write),
            capacity_unit="write units / s",
            peak=max((value for _, value in consumed), default=0.0),
            errors=int(sum(value for _, value in throttles)),
            load=consumed,
            refused=throttles,
            throughput=consumed,
            throughput_unit="write units / s",
            refusal="throttled",
            burst_window_s=None if mode == "PAY_PER_REQUEST" else BURST_CREDIT_SECONDS["full"],
        )
