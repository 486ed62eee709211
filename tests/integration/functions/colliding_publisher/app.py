"""The reference stack's publisher bug, for the verifier to catch: the id is path + a timestamp.

The reference used epoch milliseconds; at this machine's request rate two requests rarely share a
millisecond, so this clock ticks every 100 ms to make the same collision show at a small load.
"""

import json
import os
import time

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    path = event.get("path") or "/"
    item_id = f"{path}{int(time.time() * 10) * 100}"
    message = {"id": item_id, "path": path, "method": event.get("httpMethod"), "body": event.get("body") or ""}
    message["received_at_ms"] = time.time() * 1000
    sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=json.dumps(message))
    return {"statusCode": 202, "body": json.dumps({"id": item_id, "status": "queued"})}
