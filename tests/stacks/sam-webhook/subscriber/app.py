"""Stores each delivery's body under a hash of it: the same delivery twice is one row."""

import hashlib
import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["EVENTS_TABLE"])


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            delivery = json.loads(record["body"])
            payload = delivery.get("body") or ""
            table.put_item(Item={"pk": hashlib.sha256(payload.encode()).hexdigest(), "payload": payload})
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
