"""Subscriber: SQS batch -> one row per message in the backend, duplicates turned into counted no-ops.

Runs in any Lambda (a real AWS account too): standard library, boto3 and (for PostgreSQL) pg8000,
packaged with the function. Configured by environment:
- TABLE_NAME (required): the backend table, key ``id``.
- PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE: when set, the backend is PostgreSQL (the RDS of the
  original pattern, or RDS Proxy in front of it): ``INSERT ... ON CONFLICT (id) DO NOTHING`` over one
  connection per execution environment, reused across invocations. Otherwise DynamoDB, with a conditional put.
- BACKEND_LATENCY_MS: simulated latency per write, the scale-limited backend stand-in (default 0).
- FAIL_PATH_MARKER: fault injection, off when empty (default): a record whose path contains it fails
  every time, so it reaches the dead-letter queue after maxReceiveCount receives.
  (Backend outages and error rates are injected in the backend itself, crashes by the harness's Lambda
  executor: not here.)

Uses partial batch responses (``ReportBatchItemFailures``): only failed records come back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from decimal import Decimal
from typing import Any

import boto3

_table = None
_connection = None


def postgres() -> Any:
    """One connection per execution environment, opened on first use and kept, as Lambda code does."""
    global _connection
    if _connection is None:
        import pg8000.native  # packaged with the function (requirements.txt)

        _connection = pg8000.native.Connection(
            os.environ["PGUSER"],
            password=os.environ.get("PGPASSWORD"),
            host=os.environ["PGHOST"],
            port=int(os.environ.get("PGPORT") or 5432),
            database=os.environ.get("PGDATABASE"),
            timeout=10,
        )
    return _connection


def table() -> Any:
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    return _table


class PoisonRecord(Exception):
    """A record that can never succeed (fault injection, or a body that is not a message)."""


def _number(value: Any) -> Decimal | None:
    """DynamoDB numbers go through boto3 as Decimal; milliseconds kept to the microsecond."""
    return None if value is None else Decimal(str(round(float(value), 3)))


def row_for(record: dict[str, Any]) -> dict[str, Any]:
    try:
        message = json.loads(record["body"])
        item_id, path = message["id"], message["path"]
    except (ValueError, KeyError, TypeError) as error:
        raise PoisonRecord(f"not a webhook message: {error!r}") from error
    marker = os.environ.get("FAIL_PATH_MARKER", "")
    if marker and marker in path:
        raise PoisonRecord(f"fault injection: path {path!r} contains {marker!r}")
    attributes = record.get("attributes") or {}
    return {
        "id": item_id,
        "message": f"hello from {path}",
        "method": message.get("method"),
        "path": path,
        "received_at_ms": _number(message.get("received_at_ms")),
        "written_at_ms": _number(time.time() * 1000),
        "sqs_message_id": record.get("messageId"),
        "receive_count": int(attributes.get("ApproximateReceiveCount", 1)),
        "body_bytes": len((message.get("body") or "").encode()),
        # Lets verification find two rows of one logical request (a sender retry given a new id).
        "body_sha256": hashlib.sha256((message.get("body") or "").encode()).hexdigest(),
    }


def insert_once(row: dict[str, Any]) -> bool:
    """PostgreSQL: True when inserted, False when the id is already a row. A broken connection is dropped,
    so the next record (or invocation) connects afresh."""
    global _connection
    from pg8000.native import literal

    columns = ", ".join(row)
    values = ", ".join(literal(float(v) if isinstance(v, Decimal) else v) for v in row.values())
    table_name = os.environ["TABLE_NAME"]
    # One simple query, one round trip: behind RDS Proxy the extended protocol (parse, bind, execute) pins the
    # session, and behind a transaction pooler its unnamed statement may be parsed on one database connection
    # and bound on another.
    statement = f'INSERT INTO "{table_name}" ({columns}) VALUES ({values}) ON CONFLICT (id) DO NOTHING RETURNING id'
    try:
        return bool(postgres().run(statement))
    except Exception:
        with contextlib.suppress(Exception):
            if _connection is not None:
                _connection.close()
        _connection = None
        raise


def write_once(row: dict[str, Any]) -> bool:
    """True when written, False when the id is already a row (a duplicate delivery)."""
    latency_ms = float(os.environ.get("BACKEND_LATENCY_MS") or 0)
    if latency_ms:
        time.sleep(latency_ms / 1000)
    if os.environ.get("PGHOST"):
        return insert_once(row)
    try:
        table().put_item(Item=row, ConditionExpression="attribute_not_exists(id)")
        return True
    except table().meta.client.exceptions.ConditionalCheckFailedException:
        return False


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures, written, duplicates = [], 0, 0
    for record in event.get("Records") or []:
        try:
            if write_once(row_for(record)):
                written += 1
            else:
                duplicates += 1
        except Exception as error:
            failures.append({"itemIdentifier": record["messageId"]})
            print(json.dumps({"level": "error", "messageId": record["messageId"], "error": str(error)}))
    # One line per batch in CloudWatch embedded metric format: a metric on AWS, a countable log line here.
    print(
        json.dumps(
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": "ScalableWebhook",
                            "Dimensions": [["FunctionName"]],
                            "Metrics": [
                                {"Name": "RowsWritten", "Unit": "Count"},
                                {"Name": "DuplicatesSuppressed", "Unit": "Count"},
                                {"Name": "RecordsFailed", "Unit": "Count"},
                            ],
                        }
                    ],
                },
                "FunctionName": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "subscriber"),
                "RowsWritten": written,
                "DuplicatesSuppressed": duplicates,
                "RecordsFailed": len(failures),
            }
        )
    )
    return {"batchItemFailures": failures}
