"""Test subscriber: each batch takes BACKEND_LATENCY_MS in all (rows written, then held until then); one
row per message carries the batch's own start/end time, so tests measure concurrency from the function.

A message with ``"fail_first": true`` is reported as a batch item failure on its first receive.
"""

import contextlib
import json
import os
import time
from decimal import Decimal

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    started = time.time()
    ended = started + float(os.environ.get("BACKEND_LATENCY_MS") or 0) / 1000
    failures = []
    for record in event["Records"]:
        message = json.loads(record["body"])
        receive_count = int(record["attributes"]["ApproximateReceiveCount"])
        if message.get("fail_first") and receive_count == 1:
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        with contextlib.suppress(table.meta.client.exceptions.ConditionalCheckFailedException):
            table.put_item(
                Item={
                    "id": message["id"],
                    "batch": context.aws_request_id,
                    "started": Decimal(str(started)),
                    "ended": Decimal(str(ended)),
                    "receive_count": receive_count,
                },
                ConditionExpression="attribute_not_exists(id)",
            )
    time.sleep(max(0.0, ended - time.time()))
    return {"batchItemFailures": failures}
