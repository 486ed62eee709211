"""Publisher: API Gateway (REST, proxy integration) -> one SQS message -> 202 {"id", "status": "queued"}.

Runs in any Lambda (a real AWS account too): standard library and boto3 only, configured by environment:
- QUEUE_URL (required): where messages go.
- IDEMPOTENCY_HEADERS: comma-separated header names whose value, when present, becomes the message id
  so a sender's retries collapse into one row (default: Idempotency-Key, X-GitHub-Delivery, X-Webhook-Id).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from typing import Any

import boto3

DEFAULT_IDEMPOTENCY_HEADERS = "Idempotency-Key,X-GitHub-Delivery,X-Webhook-Id"
SQS_MAX_MESSAGE_BYTES = 256 * 1024
# Headers worth keeping for the consumer; credentials and cookies are never forwarded.
SAFE_HEADERS = frozenset(
    {
        "content-type",
        "user-agent",
        "x-github-event",
        "x-github-hook-id",
        "x-hub-signature-256",
        "x-request-id",
        "x-forwarded-for",
        "stripe-signature",
    }
)
# A sender's delivery id: printable ASCII without spaces, bounded (it becomes a DynamoDB key).
VALID_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")

_sqs = None


def sqs_client() -> Any:
    global _sqs
    if _sqs is None:
        _sqs = boto3.client("sqs")
    return _sqs


def respond(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def idempotency_header_names() -> list[str]:
    raw = os.environ.get("IDEMPOTENCY_HEADERS", DEFAULT_IDEMPOTENCY_HEADERS)
    return [name.strip().lower() for name in raw.split(",") if name.strip()]


def message_id(headers: dict[str, str], event: dict[str, Any]) -> tuple[str | None, str | None]:
    """(id, error): the sender's idempotency key if given, else API Gateway's request id."""
    for name in idempotency_header_names():
        if name in headers:
            key = headers[name]
            if not VALID_IDEMPOTENCY_KEY.match(key):
                return None, f"header {name!r} must be 1-200 printable ASCII characters without spaces"
            return key, None
    request_id = (event.get("requestContext") or {}).get("requestId")
    return request_id or str(uuid.uuid4()), None


def encode_body(event: dict[str, Any]) -> tuple[str | None, str]:
    """The body as text when it is UTF-8, else base64; (body, encoding)."""
    body = event.get("body")
    if body is None:
        return None, "none"
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    try:
        return raw.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    received_at_ms = time.time() * 1000
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    item_id, problem = message_id(headers, event)
    if problem:
        return respond(400, {"error": "invalid idempotency key", "reason": problem})
    try:
        body, encoding = encode_body(event)
    except (ValueError, TypeError):
        return respond(
            400, {"error": "undecodable body", "reason": "isBase64Encoded is set but the body is not base64"}
        )
    message = {
        "id": item_id,
        "method": event.get("httpMethod"),
        "path": event.get("path") or "/",
        "query": event.get("queryStringParameters") or {},
        "headers": {name: value for name, value in headers.items() if name in SAFE_HEADERS},
        "body": body,
        "body_encoding": encoding,
        "received_at_ms": received_at_ms,
        "source_ip": ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp"),
    }
    payload = json.dumps(message, separators=(",", ":"))
    size = len(payload.encode("utf-8"))
    if size > SQS_MAX_MESSAGE_BYTES:
        return respond(
            413,
            {
                "error": "payload too large",
                "reason": f"the message would be {size} bytes; SQS accepts at most {SQS_MAX_MESSAGE_BYTES}",
            },
        )
    if body and encoding == "text" and "json" in headers.get("content-type", "").lower():
        try:
            json.loads(body)
        except ValueError as error:
            return respond(
                400, {"error": "invalid JSON", "reason": f"Content-Type declares JSON but the body is not: {error}"}
            )
    try:
        sqs_client().send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=payload)
    except Exception as error:  # any failure to enqueue: the request must not be claimed as queued
        print(json.dumps({"level": "error", "event": "enqueue_failed", "id": item_id, "error": repr(error)}))
        return respond(503, {"error": "queue unavailable", "reason": "the message was not queued; retry later"})
    return respond(202, {"id": item_id, "status": "queued"})
