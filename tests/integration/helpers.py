"""Helpers several integration test modules share (fixtures are in conftest.py)."""

from __future__ import annotations

import base64
import http.client
import json
import uuid
from pathlib import Path
from urllib.parse import urlparse

NODE_SLEEPER = """
exports.handler = async (event) => {
  const started = Date.now() / 1000;
  console.log(`sleeping ${event.sleep || 0} s`);
  await new Promise((resolve) => setTimeout(resolve, (event.sleep || 0) * 1000));
  return { started, ended: Date.now() / 1000 };
};
"""


def invoke(lambda_client, name, event=None, **kwargs):
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event or {}), LogType="Tail", **kwargs)
    payload = json.loads(response["Payload"].read() or b"null")
    return response, payload, base64.b64decode(response.get("LogResult", "")).decode()


def create_queue_and_table(aws_client, queue: str, table: str) -> str:
    """A queue and an on-demand table (key ``id``) for a function to write to; the queue's URL."""
    aws_client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return aws_client("sqs").create_queue(QueueName=queue)["QueueUrl"]


TIMED_SUBSCRIBER = Path(__file__).parent / "functions" / "timed_subscriber"


def flood(sqs, queue_url: str, count: int, **fields) -> list[str]:
    ids = [f"m-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps({"id": item_id, "path": "/load", **fields})}
                for n, item_id in enumerate(ids[start : start + 10])
            ],
        )
    return ids


def send(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    target = urlparse(url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    connection.request(method, target.path + path, body=body, headers=headers or {})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, payload
