"""The backend the pattern protects, seen from its own side: DynamoDB (a table with capacity) or PostgreSQL.

One place knows both kinds: reading rows, emptying the table between runs, probing the backend each
second during a run, and turning what was measured into the backend's view of the run (its load
against its capacity, and the work it refused for capacity).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness import observe
from harness.backend.config import POSTGRES_RESERVED_CONNECTIONS, BackendSettings
from harness.outputs import Outputs
from harness.stack.config import StackSettings


def deployed_settings(stack: StackSettings, environ: Mapping[str, str] | None = None) -> BackendSettings:
    """The backend settings a command acts on: what you set (variables, config file), else what was deployed.

    After `HARNESS_BACKEND=postgres make up`, a plain `make compare` or `harness deploy` keeps using
    PostgreSQL (its port and capacity), and a PROVISIONED table keeps its units, as `make down` stops the
    stack that was started whatever HARNESS_STACK says later.
    """
    from harness.exceptions import DeployError
    from harness.outputs import load_outputs
    from harness.settings import config_file

    environ = os.environ if environ is None else environ
    settings = BackendSettings.from_env(environ)
    explicit = {n for n in BackendSettings.names() if BackendSettings.env_name(n) in environ} | set(
        config_file(environ)
    )
    try:
        outputs = load_outputs(stack)
    except DeployError:
        return settings
    changes: dict[str, Any] = {}
    if "backend" not in explicit:
        changes["backend"] = outputs.backend
    if changes.get("backend", settings.backend) == outputs.backend == "postgres":
        from harness.backend.postgres import server_for

        if "postgres_port" not in explicit and outputs.backend_port:
            changes["postgres_port"] = outputs.backend_port
        running = server_for(stack, settings).running_record()
        if running and "backend_max_connections" not in explicit:
            changes["backend_max_connections"] = running["max_connections"] - POSTGRES_RESERVED_CONNECTIONS
    capacity = {"table_billing_mode", "table_read_capacity", "table_write_capacity"}
    if outputs.backend == "dynamodb" and not capacity & explicit:
        with contextlib.suppress(Exception):  # no stack answering, or no table: the settings as they are
            from harness import aws

            table = aws.client("dynamodb", stack).describe_table(TableName=outputs.table_name)["Table"]
            mode = (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
            changes["table_billing_mode"] = mode
            if mode == "PROVISIONED":
                changes["table_read_capacity"] = int(table["ProvisionedThroughput"]["ReadCapacityUnits"])
                changes["table_write_capacity"] = int(table["ProvisionedThroughput"]["WriteCapacityUnits"])
    return settings.replace(**changes) if changes else settings


@dataclass(frozen=True)
class BackendView:
    """The backend's side of a run, in the unit of its capacity."""

    kind: str
    capacity: float | None
    """What it can take: provisioned write units per second, or connections; None: on demand, no limit."""
    capacity_unit: str
    peak: float
    """The highest load it saw, in the capacity's unit."""
    errors: int
    """Requests it refused for capacity: throttle events, or connections refused (SQLSTATE 53300)."""
    load: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the load started, load in the capacity's unit), once a second."""
    refused: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the load started, refusals in that second)."""
    throughput: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the load started, writes or commits in that second)."""
    throughput_unit: str = "writes / s"

    def describe(self) -> str:
        unit = self.capacity_unit
        if self.capacity is None:
            return f"peaked at {self.peak:g} {unit} (on demand: no capacity to exceed)"
        refused = f", refused {self.errors} for capacity" if self.errors else ", refused nothing"
        return f"peaked at {self.peak:g} of {self.capacity:g} {unit}{refused}"


def rows(outputs: Outputs, client: Callable[[str], Any]) -> list[dict[str, Any]]:
    """Every row of the backend table."""
    if outputs.backend == "postgres":
        from harness.backend import postgres

        return postgres.rows(outputs.backend_port, outputs.table_name)
    return observe.rows(client("dynamodb"), outputs.table_name)


def empty(outputs: Outputs, client: Callable[[str], Any]) -> None:
    """Delete every row (a comparison starts each variant from an empty table)."""
    if outputs.backend == "postgres":
        from harness.backend import postgres

        postgres.truncate(outputs.backend_port, outputs.table_name)
        return
    dynamodb = client("dynamodb")
    table = outputs.table_name
    key_names = [key["AttributeName"] for key in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
    projection = {"ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(key_names))),
                  "ExpressionAttributeNames": {f"#k{i}": name for i, name in enumerate(key_names)}}  # fmt: skip
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, **projection):
        for start in range(0, len(page["Items"]), 25):
            requests = [{"DeleteRequest": {"Key": item}} for item in page["Items"][start : start + 25]]
            dynamodb.batch_write_item(RequestItems={table: requests})


OUTAGE_TAG = "harness:fault-outage-ms"
ERROR_RATE_TAG = "harness:fault-error-rate"
"""The tags the embedded stack's DynamoDB reads as faults (see harness/localstack_extensions/dynamodb.py)."""
CAPACITY_RESET_TAG = "harness:capacity-reset"
"""Tagging a table with it starts its capacity accounting afresh, as for a new table (no burst credit)."""


def reset_capacity(outputs: Outputs, client: Callable[[str], Any]) -> None:
    """The table's burst credit as a new table's, so runs on the same table start alike (DynamoDB only)."""
    if outputs.backend != "dynamodb":
        return
    dynamodb = client("dynamodb")
    arn = dynamodb.describe_table(TableName=outputs.table_name)["Table"]["TableArn"]
    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": CAPACITY_RESET_TAG, "Value": "now"}])
    dynamodb.untag_resource(ResourceArn=arn, TagKeys=[CAPACITY_RESET_TAG])


@contextlib.contextmanager
def faults(
    outputs: Outputs, client: Callable[[str], Any], outage: tuple[float, float] | None, error_rate: float
) -> Iterator[None]:
    """Backend faults for the block: an outage window (epoch s) and a share of failing writes, injected in the
    backend itself (not in the subscriber), so they judge any subscriber. Removed afterwards."""
    if not outage and not error_rate:
        yield
        return
    if outputs.backend == "postgres":
        from harness.backend.postgres import Faults

        injector = Faults(outputs.backend_port, outputs.table_name)
        injector.start(outage, error_rate)
        try:
            yield
        finally:
            injector.stop()
        return
    dynamodb = client("dynamodb")
    arn = dynamodb.describe_table(TableName=outputs.table_name)["Table"]["TableArn"]
    tags = []
    if outage:
        tags.append({"Key": OUTAGE_TAG, "Value": f"{int(outage[0] * 1000)},{int(outage[1] * 1000)}"})
    if error_rate:
        tags.append({"Key": ERROR_RATE_TAG, "Value": str(error_rate)})
    dynamodb.tag_resource(ResourceArn=arn, Tags=tags)
    try:
        yield
    finally:
        dynamodb.untag_resource(ResourceArn=arn, TagKeys=[tag["Key"] for tag in tags])


def probe(stack: StackSettings, outputs: Outputs) -> Callable[[], dict[str, float]] | None:
    """What the sampler adds each second from the backend itself (PostgreSQL); None where CloudWatch has it."""
    if outputs.backend != "postgres":
        return None
    from harness.backend import postgres

    server = postgres.server_for(stack, BackendSettings.from_env(validate=False))
    return postgres.Probe(server, outputs.backend_port)


def view(
    outputs: Outputs, client: Callable[[str], Any], samples: Sequence[dict[str, Any]], since: float
) -> BackendView:
    """The backend's view of the run that started at ``since``: from CloudWatch (DynamoDB) or the probes."""
    if outputs.backend == "postgres":
        return _postgres_view(outputs, samples, since)
    return _dynamodb_view(outputs, client, since)


def _dynamodb_view(outputs: Outputs, client: Callable[[str], Any], since: float) -> BackendView:
    table = client("dynamodb").describe_table(TableName=outputs.table_name)["Table"]
    mode = (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    capacity = None if mode == "PAY_PER_REQUEST" else float(table["ProvisionedThroughput"]["WriteCapacityUnits"])
    cloudwatch = client("cloudwatch")

    def per_second(metric: str) -> list[tuple[float, float]]:
        return observe.per_second_sums(cloudwatch, "AWS/DynamoDB", "TableName", outputs.table_name, metric, since)

    consumed = per_second("ConsumedWriteCapacityUnits")
    throttles = _added(per_second("WriteThrottleEvents"), per_second("ReadThrottleEvents"))
    return BackendView(
        kind="dynamodb",
        capacity=capacity,
        capacity_unit="write units / s",
        peak=max((value for _, value in consumed), default=0.0),
        errors=int(sum(value for _, value in throttles)),
        load=consumed,
        refused=throttles,
        throughput=consumed,
        throughput_unit="write units / s",
    )


def _added(*series: list[tuple[float, float]]) -> list[tuple[float, float]]:
    totals: dict[float, float] = {}
    for points in series:
        for t, value in points:
            totals[t] = totals.get(t, 0.0) + value
    return sorted(totals.items())


def _postgres_view(outputs: Outputs, samples: Sequence[dict[str, Any]], since: float) -> BackendView:
    probed = [s for s in samples if "backend_in_use" in s]
    load = [(max(0.0, s["t"] - since), float(s["backend_in_use"])) for s in probed]
    refused, commits = [], []
    for before, after in itertools.pairwise(probed):
        t = max(0.0, after["t"] - since)
        refused.append((t, float(after["backend_refused"] - before["backend_refused"])))
        commits.append((t, float(after["backend_commits"] - before["backend_commits"])))
    errors = probed[-1]["backend_refused"] - probed[0]["backend_refused"] if probed else 0
    return BackendView(
        kind="postgres",
        capacity=float(probed[-1]["backend_capacity"]) if probed else None,
        capacity_unit="connections",
        peak=max((value for _, value in load), default=0.0),
        errors=int(errors),
        load=load,
        refused=refused,
        throughput=commits,
        throughput_unit="commits / s",
    )
