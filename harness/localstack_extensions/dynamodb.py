"""A DynamoDB provider served entirely by moto, which localstack-core already bundles, with capacity as on AWS.

LocalStack's default provider forwards to DynamoDB Local, a Java jar it downloads at first use; offline
and without Java that cannot work. Selected with ``PROVIDER_OVERRIDE_DYNAMODB=moto``.

moto's backend is not thread-safe (a conditional put is a check followed by a write, and a scan
iterates a dict other requests change), while LocalStack serves requests on many threads. Every
operation therefore runs under one lock, which makes ``attribute_not_exists`` conditions atomic as on
AWS.

Capacity (``dynamodb_capacity``): PROVISIONED tables are held to their read and write units, with up to
300 s of unused capacity as burst credit; beyond that a request is answered
``ProvisionedThroughputExceededException`` (HTTP 400) and nothing is written. ``UpdateTable`` changes it
live. ``AWS/DynamoDB`` metrics per ``TableName`` are published once a second. Requests carrying the
header ``X-Harness-Observer`` (the harness's own reads of the evidence) are not counted, so verifying a
run never disturbs what it measures.

Faults, in the backend rather than in anybody's function: a table tagged ``harness:fault-outage-ms`` =
``start,end`` (epoch ms) answers every item request in that window ``InternalServerError`` (HTTP 500, as a
DynamoDB outage does; SDKs retry it), and one tagged ``harness:fault-error-rate`` = ``0.01`` fails that
share of item requests the same way. Set and removed with TagResource / UntagResource.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from localstack.aws.api import RequestContext
from localstack.aws.api.dynamodb import DynamodbApi, InternalServerError, ProvisionedThroughputExceededException
from localstack.aws.forwarder import create_aws_request_context
from localstack.aws.skeleton import DispatchTable
from localstack.services.moto import MotoFallbackDispatcher, call_moto
from localstack.services.plugins import ServiceLifecycleHook

from .contract import CAPACITY_RESET_TAG, OBSERVER_HEADER, TABLE_ERROR_RATE_TAG, TABLE_OUTAGE_TAG
from .dynamodb_capacity import TableCapacity, item_size, read_units, write_units
from .metrics import Batch, PerSecondPublisher, datum

THROTTLED = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)
Handler = Callable[[RequestContext, dict], Any]


class MotoDynamoDBProvider(DynamodbApi, ServiceLifecycleHook):
    """Implements nothing itself: every operation falls through to moto."""


def capacity_of(description: dict[str, Any]) -> tuple[str, float, float]:
    """(billing mode, RCU, WCU) of a table description; no billing mode means PROVISIONED, as on AWS."""
    mode = (description.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"
    throughput = description.get("ProvisionedThroughput") or {}
    return mode, float(throughput.get("ReadCapacityUnits") or 0), float(throughput.get("WriteCapacityUnits") or 0)


class Capacity(PerSecondPublisher):
    """Every table's capacity state, and its per-second AWS/DynamoDB metrics."""

    name = "dynamodb-metrics"

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[tuple[str, str, str], TableCapacity] = {}

    def table(self, context: RequestContext, name: str) -> TableCapacity:
        key = (context.account_id, context.region, name)
        if key not in self.tables:
            self.tables[key] = TableCapacity(*capacity_of(_describe(context, name)))
            self._ensure_flusher()
        return self.tables[key]

    def forget(self, context: RequestContext, name: str) -> None:
        self.tables.pop((context.account_id, context.region, name), None)

    def collect(self) -> Batch:
        now = datetime.now(UTC)
        batch: Batch = defaultdict(lambda: defaultdict(list))
        for (account, region, name), table in list(self.tables.items()):
            usage = table.drain_usage()
            if not (usage.consumed_read or usage.consumed_write or usage.read_throttles or usage.write_throttles):
                continue  # as on AWS: no datapoints for an idle table
            data = batch[(account, region)]["AWS/DynamoDB"]
            for metric, value in (
                ("ConsumedReadCapacityUnits", usage.consumed_read),
                ("ConsumedWriteCapacityUnits", usage.consumed_write),
                ("ReadThrottleEvents", usage.read_throttles),
                ("WriteThrottleEvents", usage.write_throttles),
                ("ProvisionedReadCapacityUnits", table.provisioned_read),
                ("ProvisionedWriteCapacityUnits", table.provisioned_write),
            ):
                data.append(datum(metric, "TableName", name, value, now))
        return batch


CAPACITY = Capacity()


class Faults:
    """Fault windows and error rates per table, from its ``harness:fault-*`` tags."""

    def __init__(self) -> None:
        self.outage: dict[tuple[str, str, str], tuple[float, float]] = {}
        self.error_rate: dict[tuple[str, str, str], float] = {}

    def tagged(self, context: RequestContext, arn: str, tags: dict[str, str]) -> None:
        key = (context.account_id, context.region, arn.rpartition("/")[2])
        if TABLE_OUTAGE_TAG in tags:
            start, _, end = tags[TABLE_OUTAGE_TAG].partition(",")
            self.outage[key] = (float(start), float(end))
        if TABLE_ERROR_RATE_TAG in tags:
            self.error_rate[key] = float(tags[TABLE_ERROR_RATE_TAG])

    def untagged(self, context: RequestContext, arn: str, keys: list[str]) -> None:
        key = (context.account_id, context.region, arn.rpartition("/")[2])
        if TABLE_OUTAGE_TAG in keys:
            self.outage.pop(key, None)
        if TABLE_ERROR_RATE_TAG in keys:
            self.error_rate.pop(key, None)

    def check(self, context: RequestContext, table: str) -> None:
        key = (context.account_id, context.region, table)
        window = self.outage.get(key)
        now_ms = time.time() * 1000
        if window and window[0] <= now_ms < window[1]:
            raise InternalServerError("Internal server error (injected backend outage)", status_code=500)
        rate = self.error_rate.get(key)
        if rate and random.random() < rate:
            raise InternalServerError("Internal server error (injected transient error)", status_code=500)


FAULTS = Faults()


def _describe(context: RequestContext, name: str) -> dict[str, Any]:
    """DescribeTable through moto, from inside another operation (same account and region)."""
    local = create_aws_request_context("dynamodb", "DescribeTable", {"TableName": name}, region=context.region)
    headers = copy.deepcopy(context.request.headers)
    headers.update(local.request.headers)
    local.request.headers = headers
    return call_moto(local)["Table"]


def _throttled() -> ProvisionedThroughputExceededException:
    return ProvisionedThroughputExceededException(THROTTLED)


def _request_size(request: dict[str, Any]) -> int:
    """UpdateItem and DeleteItem are sized by what they send (the key and the new values)."""
    return item_size(request.get("Key")) + item_size(request.get("ExpressionAttributeValues"))


def _write(units_of: Callable[[dict], list[tuple[str, float]]]) -> Callable[[Handler], Handler]:
    """Take every table's write units before the write runs; throttled: nothing runs, nothing is spent."""

    def wrap(handler: Handler) -> Handler:
        def guarded(context: RequestContext, request: dict) -> Any:
            if context.request.headers.get(OBSERVER_HEADER):
                return handler(context, request)
            tables = units_of(request)
            for table, _ in tables:
                FAULTS.check(context, table)
            for table, units in tables:
                if not CAPACITY.table(context, table).take_write(units):
                    raise _throttled()
            return handler(context, request)

        return guarded

    return wrap


def _read(table_of: Callable[[dict], list[str]], units_of: Callable[[dict, dict], list[tuple[str, float]]]):
    """Admit a read while its tables have credit; pay for what it returned afterwards."""

    def wrap(handler: Handler) -> Handler:
        def guarded(context: RequestContext, request: dict) -> Any:
            if context.request.headers.get(OBSERVER_HEADER):
                return handler(context, request)
            for table in table_of(request):
                FAULTS.check(context, table)
                if not CAPACITY.table(context, table).admit_read():
                    raise _throttled()
            response = handler(context, request)
            for table, units in units_of(request, response):
                CAPACITY.table(context, table).spend_read(units)
            return response

        return guarded

    return wrap


def _consistent(request: dict) -> bool:
    return bool(request.get("ConsistentRead"))


def _items_read(request: dict, response: dict) -> list[tuple[str, float]]:
    size = sum(item_size(item) for item in response.get("Items") or [])
    return [(request["TableName"], read_units(size, _consistent(request)))]


def _batch_write_units(request: dict) -> list[tuple[str, float]]:
    """Each table's units for a BatchWriteItem: puts by the item, deletes by the key."""
    units = []
    for table, writes in request["RequestItems"].items():
        sizes = [
            item_size(write["PutRequest"]["Item"])
            if "PutRequest" in write
            else item_size(write["DeleteRequest"]["Key"])
            for write in writes
        ]
        units.append((table, sum(write_units(size) for size in sizes)))
    return units


CAPACITY_GUARDS: dict[str, Callable[[Handler], Handler]] = {
    "PutItem": _write(lambda r: [(r["TableName"], write_units(item_size(r["Item"])))]),
    "UpdateItem": _write(lambda r: [(r["TableName"], write_units(_request_size(r)))]),
    "DeleteItem": _write(lambda r: [(r["TableName"], write_units(_request_size(r)))]),
    "BatchWriteItem": _write(_batch_write_units),
    "TransactWriteItems": _write(
        lambda r: [
            (op["TableName"], write_units(item_size(op.get("Item")) + _request_size(op), transactional=True))
            for entry in r["TransactItems"]
            for op in entry.values()
        ]
    ),
    "GetItem": _read(
        lambda r: [r["TableName"]],
        lambda r, resp: [(r["TableName"], read_units(item_size(resp.get("Item")), _consistent(r)))],
    ),
    "Query": _read(lambda r: [r["TableName"]], _items_read),
    "Scan": _read(lambda r: [r["TableName"]], _items_read),
    "BatchGetItem": _read(
        lambda r: list(r["RequestItems"]),
        lambda r, resp: [
            (table, read_units(sum(item_size(i) for i in items), _consistent(r["RequestItems"].get(table, {}))))
            for table, items in (resp.get("Responses") or {}).items()
        ],
    ),
}


def _track_fault_tags(operation: str, handler: Handler) -> Handler:
    def tracked(context: RequestContext, request: dict) -> Any:
        response = handler(context, request)
        if operation == "TagResource":
            tags = {t["Key"]: t["Value"] for t in request.get("Tags", [])}
            FAULTS.tagged(context, request["ResourceArn"], tags)
            if CAPACITY_RESET_TAG in tags:
                name = request["ResourceArn"].rpartition("/")[2]
                CAPACITY.forget(context, name)
                if (credit_s := _seconds(tags[CAPACITY_RESET_TAG])) is not None:
                    CAPACITY.table(context, name).bank(credit_s)
        else:
            FAULTS.untagged(context, request["ResourceArn"], request.get("TagKeys", []))
        return response

    return tracked


def _seconds(value: str) -> float | None:
    """Seconds of burst credit a reset tag asks for; None: as a new table."""
    try:
        return float(value)
    except ValueError:
        return None


def _track_table_changes(operation: str, handler: Handler) -> Handler:
    """UpdateTable changes capacity live; DeleteTable (and a re-create) starts afresh."""

    def tracked(context: RequestContext, request: dict) -> Any:
        response = handler(context, request)
        name = request.get("TableName")
        if operation == "UpdateTable" and name:
            description = response.get("TableDescription") or _describe(context, name)
            CAPACITY.table(context, name).update(*capacity_of(description))
        elif operation in ("DeleteTable", "CreateTable") and name:
            CAPACITY.forget(context, name)
        return response

    return tracked


def serialized_moto_dispatcher(provider: object) -> DispatchTable:
    table = MotoFallbackDispatcher(provider)
    lock = threading.RLock()

    def serialize(handler: Handler) -> Handler:
        def locked(context: RequestContext, request: dict) -> Any:
            with lock:
                return handler(context, request)

        return locked

    dispatch = {}
    for operation, handler in table.items():
        if operation in CAPACITY_GUARDS:
            handler = CAPACITY_GUARDS[operation](handler)
        if operation in ("UpdateTable", "DeleteTable", "CreateTable"):
            handler = _track_table_changes(operation, handler)
        if operation in ("TagResource", "UntagResource"):
            handler = _track_fault_tags(operation, handler)
        dispatch[operation] = serialize(handler)
    return dispatch
