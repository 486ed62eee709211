"""Queues the delivery as it came (path and body) and answers with the queue's message id."""

import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    message = {"path": event.get("path"), "body": event.get("body")}
    sent = sqs.send_message(QueueUrl=os.environ["INBOX_URL"], MessageBody=json.dumps(message))
    return {"statusCode": 200, "body": json.dumps({"queued": sent["MessageId"]})}
