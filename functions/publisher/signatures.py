"""Webhook signature verification: Standard Webhooks, GitHub and Stripe, on the raw bytes received.

Standard library only (this runs in any Lambda). Every comparison is constant-time (``hmac.compare_digest``);
the number of signatures tried per request is bounded, so a header stuffed with entries costs nothing.
Specifications: https://www.standardwebhooks.com/ (spec/standard-webhooks.md),
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries,
https://docs.stripe.com/webhooks#verify-manually.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass

SCHEMES = ("none", "standard", "github", "stripe")
DEFAULT_TOLERANCE_S = 300
MAX_SIGNATURES = 10
"""Signatures tried per request: several are normal during a secret rotation, dozens are an attack."""
MAX_HEADER_CHARS = 4096


class SignatureError(Exception):
    """The request is not from a sender holding the secret (or not any more): 401, nothing queued."""


@dataclass(frozen=True)
class Delivery:
    """A verified delivery: the sender's own id for it (the idempotency key), None if it gives none."""

    delivery_id: str | None


def hmac_sha256(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def standard_key(secret: str) -> bytes:
    """Standard Webhooks secrets are ``whsec_`` + base64 of the key; the key is what signs."""
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a Standard Webhooks secret is 'whsec_' followed by base64") from None


def _header(headers: dict[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None or not value.strip():
        raise SignatureError(f"missing header {name}")
    if len(value) > MAX_HEADER_CHARS:
        raise SignatureError(f"header {name} is longer than {MAX_HEADER_CHARS} characters")
    return value.strip()


def _timestamp(value: str, now: float, tolerance_s: int) -> int:
    if not value.isdigit() or len(value) > 12:
        raise SignatureError("the timestamp is not a whole number of unix seconds")
    timestamp = int(value)
    if timestamp < now - tolerance_s:
        raise SignatureError(f"the timestamp is more than {tolerance_s} s old: a stale delivery or a replay")
    if timestamp > now + tolerance_s:
        raise SignatureError(f"the timestamp is more than {tolerance_s} s in the future")
    return timestamp


def _matches(expected: Sequence[bytes], offered: Sequence[bytes]) -> bool:
    """Constant-time: every pair is compared, whatever matched first."""
    found = False
    for candidate in offered[:MAX_SIGNATURES]:
        for signature in expected:
            found |= hmac.compare_digest(candidate, signature)
    return found


def verify_standard(headers: dict[str, str], body: bytes, secrets: Sequence[str], now: float, tolerance_s: int):
    delivery_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    _timestamp(timestamp, now, tolerance_s)
    content = f"{delivery_id}.{timestamp}.".encode() + body
    expected = [base64.b64encode(hmac_sha256(standard_key(secret), content)) for secret in secrets]
    offered = []
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and signature:
            offered.append(signature.encode("ascii", "replace"))
    if not offered:
        raise SignatureError("webhook-signature holds no 'v1,<base64>' signature")
    if not _matches(expected, offered):
        raise SignatureError("no v1 signature matches: wrong secret or altered content")
    return Delivery(delivery_id)


def verify_github(headers: dict[str, str], body: bytes, secrets: Sequence[str], now: float, tolerance_s: int):
    signature = _header(headers, "x-hub-signature-256")
    scheme, _, digest = signature.partition("=")
    if scheme != "sha256" or not digest:
        raise SignatureError("X-Hub-Signature-256 is not 'sha256=<hex>'")
    expected = [hmac_sha256(secret.encode(), body).hex().encode() for secret in secrets]
    if not _matches(expected, [digest.lower().encode("ascii", "replace")]):
        raise SignatureError("the signature does not match: wrong secret or altered body")
    return Delivery(headers.get("x-github-delivery"))


def verify_stripe(headers: dict[str, str], body: bytes, secrets: Sequence[str], now: float, tolerance_s: int):
    header = _header(headers, "stripe-signature")
    timestamps, offered = [], []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1" and value:
            offered.append(value.lower().encode("ascii", "replace"))
    if len(timestamps) != 1 or not offered:
        raise SignatureError("Stripe-Signature is not 't=<unix>,v1=<hex>[,v1=<hex>...]'")
    _timestamp(timestamps[0], now, tolerance_s)
    content = f"{timestamps[0]}.".encode() + body
    expected = [hmac_sha256(secret.encode(), content).hex().encode() for secret in secrets]
    if not _matches(expected, offered):
        raise SignatureError("no v1 signature matches: wrong secret or altered body")
    return Delivery(_stripe_event_id(body))


def _stripe_event_id(body: bytes) -> str | None:
    """Stripe sends no delivery header: the event's own id (``evt_...``) is what a replay repeats."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    event_id = event.get("id") if isinstance(event, dict) else None
    return event_id if isinstance(event_id, str) else None


VERIFIERS = {"standard": verify_standard, "github": verify_github, "stripe": verify_stripe}


def verify(
    scheme: str,
    headers: dict[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> Delivery:
    """``headers`` with lower-case names; ``secrets``: every secret valid now (two during a rotation)."""
    return VERIFIERS[scheme](headers, body, secrets, now, tolerance_s)
