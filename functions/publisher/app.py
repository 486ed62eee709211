"""Publisher: API Gateway (REST, proxy integration) -> one SQS message -> 202 {"id", "status": "queued"}.

Runs in any Lambda (a real AWS account too): standard library and boto3 only, configured by environment:
- QUEUE_URL (required): where messages go.
- IDEMPOTENCY_HEADERS: comma-separated header names whose value, when present, becomes the message id
  so a sender's retries collapse into one row (default: Idempotency-Key, X-GitHub-Delivery, X-Webhook-Id).
- SIGNATURE_SCHEME: none (default), standard (Standard Webhooks), github or stripe: a request whose
  signature does not verify gets 401 and is not queued; a verified delivery's own id becomes the message id.
- SIGNING_SECRET_ARN: the Secrets Manager secret holding the signing secret (AWSCURRENT, and AWSPREVIOUS
  while a rotation is under way: both verify). Read at cold start and cached; re-read on a mismatch at most
  every SECRET_REFRESH_S (5) seconds, so a rotation is seen without a redeploy.
- SIGNATURE_TOLERANCE_S: how far a signed timestamp may be from now (default 300).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import time
import uuid
from typing import Any

import boto3
from signatures import DEFAULT_TOLERANCE_S, SignatureError, verify

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
        "webhook-id",
        "webhook-timestamp",
    }
)
# A sender's delivery id: printable ASCII without spaces, bounded (it becomes a DynamoDB key).
VALID_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")

SECRET_REFRESH_S = 5.0

_sqs = None


def sqs_client() -> Any:
    global _sqs
    if _sqs is None:
        _sqs = boto3.client("sqs")
    return _sqs


class SigningSecrets:
    """The valid signing secrets, cached: AWSCURRENT, plus AWSPREVIOUS during a rotation.

    The current secret is trusted from the cache; the previous one only while the cache is younger than
    SECRET_REFRESH_S, so a finished rotation (AWSPREVIOUS retired) stops it within seconds."""

    def __init__(self, arn: str, client: Any) -> None:
        self.arn, self.client = arn, client
        self.values: list[str] = []
        self.read_at = float("-inf")

    def read(self) -> list[str]:
        if not self.values:
            self.refresh()
        return self.values

    def fresh(self) -> bool:
        return time.monotonic() - self.read_at < SECRET_REFRESH_S

    def refresh(self) -> bool:
        """Read again unless read within SECRET_REFRESH_S; whether it read."""
        if self.fresh():
            return False
        values = [self.client.get_secret_value(SecretId=self.arn, VersionStage="AWSCURRENT")["SecretString"]]
        with contextlib.suppress(self.client.exceptions.ResourceNotFoundException):  # none: no rotation under way
            values.append(self.client.get_secret_value(SecretId=self.arn, VersionStage="AWSPREVIOUS")["SecretString"])
        self.read_at, self.values = time.monotonic(), values
        return True


_secrets: SigningSecrets | None = None


def signing_secrets() -> SigningSecrets:
    global _secrets
    if _secrets is None:
        _secrets = SigningSecrets(os.environ["SIGNING_SECRET_ARN"], boto3.client("secretsmanager"))
    return _secrets


def verified_delivery_id(scheme: str, headers: dict[str, str], event: dict[str, Any]) -> str | None:
    """The sender's delivery id of a request whose signature verifies; SignatureError otherwise."""
    raw = raw_body(event) or b""
    tolerance = int(os.environ.get("SIGNATURE_TOLERANCE_S", DEFAULT_TOLERANCE_S))
    secrets = signing_secrets()

    def check(values: list[str]) -> str | None:
        return verify(scheme, headers, raw, values, time.time(), tolerance).delivery_id

    values = secrets.read()
    try:
        return check(values[:1])
    except SignatureError as error:
        problem = error
    if len(values) > 1 and secrets.fresh():
        with contextlib.suppress(SignatureError):
            return check(values[1:])
    if secrets.refresh():  # a rotation started or finished since the cache was filled?
        return check(secrets.values)
    raise problem


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


def raw_body(event: dict[str, Any]) -> bytes | None:
    """The bytes the sender sent (and signed), as API Gateway hands them over."""
    body = event.get("body")
    if body is None:
        return None
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")


def encode_body(event: dict[str, Any]) -> tuple[str | None, str]:
    """The body as text when it is UTF-8, else base64; (body, encoding)."""
    raw = raw_body(event)
    if raw is None:
        return None, "none"
    try:
        return raw.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    received_at_ms = time.time() * 1000
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    scheme = os.environ.get("SIGNATURE_SCHEME", "none")
    delivery_id = None
    if scheme != "none":
        try:
            delivery_id = verified_delivery_id(scheme, headers, event)
        except SignatureError as error:
            return respond(401, {"error": "invalid signature", "reason": str(error)})
        except (ValueError, TypeError) as error:  # an undecodable body, or a secret that is not the scheme's
            return respond(401, {"error": "invalid signature", "reason": f"cannot verify: {error}"})
    if delivery_id is not None:
        item_id, problem = delivery_id, None
        if not VALID_IDEMPOTENCY_KEY.match(delivery_id):
            problem = "the delivery id must be 1-200 printable ASCII characters without spaces"
    else:
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
