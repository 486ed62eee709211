"""The sender's side of webhook signatures: the headers Standard Webhooks, GitHub and Stripe senders add.

The publisher's side (``functions/publisher/signatures.py``) verifies; this module signs, as each scheme's
own sender libraries do (the integration tests check both against those libraries). A stale delivery is
one signed with a timestamp past the tolerance: what a captured delivery replayed later looks like.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCHEMES = ("none", "standard", "github", "stripe")
TIMESTAMPED = frozenset({"standard", "stripe"})
"""Schemes that sign a timestamp, so a stale delivery can be told from a fresh one (GitHub's cannot)."""


def new_secret() -> str:
    """Valid for every scheme: Standard Webhooks decodes the base64 after ``whsec_``, the others use it as is."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_problem(scheme: str, secret: str) -> str | None:
    if scheme == "standard":
        try:
            base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            return "a Standard Webhooks secret is 'whsec_' followed by base64"
    if not secret:
        return "the signing secret is empty"
    return None


def _hmac(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


@dataclass(frozen=True)
class Signer:
    scheme: str
    secret: str

    def headers(self, delivery_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """What the sender adds to a delivery of ``body``; ``delivery_id`` is its idempotency key."""
        if self.scheme == "standard":
            key = base64.b64decode(self.secret.removeprefix("whsec_"))
            signature = base64.b64encode(_hmac(key, f"{delivery_id}.{timestamp}.".encode() + body)).decode()
            return {
                "webhook-id": delivery_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": f"v1,{signature}",
            }
        if self.scheme == "github":
            return {
                "X-GitHub-Delivery": delivery_id,
                "X-Hub-Signature-256": "sha256=" + _hmac(self.secret.encode(), body).hex(),
            }
        if self.scheme == "stripe":  # the delivery id travels in the body, as the event's own "id"
            signature = _hmac(self.secret.encode(), f"{timestamp}.".encode() + body).hex()
            return {"Stripe-Signature": f"t={timestamp},v1={signature}"}
        return {}
