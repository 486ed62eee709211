"""The publisher's verification against the load generator's signing, each scheme, every way to fail."""

from __future__ import annotations

import base64
import importlib
import json

import pytest

from harness.signing import Signer, new_secret
from tests.unit.functions.test_handlers import FakeSQS, api_event, load

load("publisher")  # puts functions/publisher on the import path, as Lambda does
signatures = importlib.import_module("signatures")
verify, SignatureError = signatures.verify, signatures.SignatureError
NOW = 1_790_000_000
BODY = b'{"id": "evt_1", "amount": 5}'
SECRET = new_secret()


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


@pytest.mark.parametrize("scheme", ["standard", "github", "stripe"])
def test_a_delivery_signed_by_the_sender_verifies_and_names_its_id(scheme):
    headers = lower(Signer(scheme, SECRET).headers("evt_1", NOW, BODY))
    assert verify(scheme, headers, BODY, [SECRET], NOW).delivery_id == "evt_1"


@pytest.mark.parametrize("scheme", ["standard", "github", "stripe"])
def test_a_wrong_secret_or_an_altered_body_is_refused(scheme):
    headers = lower(Signer(scheme, SECRET).headers("evt_1", NOW, BODY))
    with pytest.raises(SignatureError, match="wrong secret or altered"):
        verify(scheme, headers, BODY, [new_secret()], NOW)
    with pytest.raises(SignatureError, match="wrong secret or altered"):
        verify(scheme, headers, BODY.replace(b"5", b"6"), [SECRET], NOW)


@pytest.mark.parametrize("scheme", ["standard", "github", "stripe"])
def test_during_a_rotation_old_and_new_secrets_both_verify(scheme):
    old, new = new_secret(), new_secret()
    for secret in (old, new):
        headers = lower(Signer(scheme, secret).headers("evt_1", NOW, BODY))
        assert verify(scheme, headers, BODY, [new, old], NOW).delivery_id == "evt_1"


@pytest.mark.parametrize("scheme", ["standard", "stripe"])
@pytest.mark.parametrize(("offset", "why"), [(-301, "old"), (301, "in the future")])
def test_a_timestamp_outside_the_tolerance_is_refused(scheme, offset, why):
    headers = lower(Signer(scheme, SECRET).headers("evt_1", NOW + offset, BODY))
    with pytest.raises(SignatureError, match=f"more than 300 s {why}"):
        verify(scheme, headers, BODY, [SECRET], NOW)
    assert verify(scheme, headers, BODY, [SECRET], NOW, tolerance_s=400).delivery_id == "evt_1"


def test_several_standard_signatures_verify_when_one_matches_and_unknown_versions_are_ignored():
    headers = lower(Signer("standard", SECRET).headers("msg_1", NOW, BODY))
    headers["webhook-signature"] = f"v1a,abc v1,{base64.b64encode(b'x' * 32).decode()} {headers['webhook-signature']}"
    assert verify("standard", headers, BODY, [SECRET], NOW).delivery_id == "msg_1"


MALFORMED = [
    ("standard", {}, "missing header webhook-id"),
    ("standard", {"webhook-id": "m", "webhook-timestamp": "soon", "webhook-signature": "v1,x"}, "whole number"),
    ("standard", {"webhook-id": "m", "webhook-timestamp": str(NOW), "webhook-signature": "v2,x"}, "no 'v1,<base64>'"),
    ("standard", {"webhook-id": "m", "webhook-timestamp": str(NOW), "webhook-signature": "v1," + "A" * 5000}, "longer"),
    ("github", {"x-hub-signature-256": "sha1=abc"}, "not 'sha256=<hex>'"),
    ("github", {"x-hub-signature-256": "sha256=zz\u00e9"}, "wrong secret"),
    ("stripe", {"stripe-signature": f"t={NOW}"}, "not 't=<unix>"),
    ("stripe", {"stripe-signature": f"t={NOW},t={NOW},v1=ab"}, "not 't=<unix>"),
    ("stripe", {"stripe-signature": "t=-5,v1=ab"}, "whole number"),
    ("stripe", {"stripe-signature": f"t={10**15},v1=ab"}, "whole number"),
]


@pytest.mark.parametrize(("scheme", "headers", "reason"), MALFORMED, ids=[f"{c[0]}-{c[2]}" for c in MALFORMED])
def test_malformed_signature_headers_are_refused_with_a_reason(scheme, headers, reason):
    with pytest.raises(SignatureError, match=reason):
        verify(scheme, headers, BODY, [SECRET], NOW)


class FakeSecrets:
    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, current: str, previous: str | None = None) -> None:
        self.stages = {"AWSCURRENT": current, "AWSPREVIOUS": previous}
        self.reads = 0

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict:
        self.reads += 1
        if self.stages.get(VersionStage) is None:
            raise self.exceptions.ResourceNotFoundException(VersionStage)
        return {"SecretString": self.stages[VersionStage]}


@pytest.fixture
def signed_publisher(monkeypatch):
    module = load("publisher")
    monkeypatch.setenv("QUEUE_URL", "http://127.0.0.1:4566/queue/us-east-1/000000000000/q")
    monkeypatch.setenv("SIGNATURE_SCHEME", "standard")
    monkeypatch.setenv("SIGNING_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:000000000000:secret:s")
    module._sqs = FakeSQS()
    module._secrets = module.SigningSecrets("arn", FakeSecrets(SECRET))
    return module


def signed_event(secret: str, delivery_id: str = "msg_1", body: str = '{"a": 1}', timestamp=None, **extra):
    import time

    headers = Signer("standard", secret).headers(delivery_id, timestamp or int(time.time()), body.encode())
    return api_event(body=body, headers={"Content-Type": "application/json", **headers}, **extra)


def test_the_publisher_queues_a_signed_delivery_under_its_own_id(signed_publisher):
    response = signed_publisher.handler(signed_event(SECRET), None)
    assert response["statusCode"] == 202 and json.loads(response["body"])["id"] == "msg_1"
    assert [message["id"] for message in signed_publisher._sqs.sent] == ["msg_1"]


def test_the_publisher_refuses_a_forged_or_stale_delivery_with_401_and_queues_nothing(signed_publisher):
    for event in (signed_event(new_secret()), signed_event(SECRET, timestamp=1_000_000_000)):
        response = signed_publisher.handler(event, None)
        answer = json.loads(response["body"])
        assert response["statusCode"] == 401 and answer["error"] == "invalid signature" and answer["reason"]
    unsigned = signed_publisher.handler(api_event(), None)
    assert unsigned["statusCode"] == 401 and "missing header webhook-id" in unsigned["body"]
    assert signed_publisher._sqs.sent == []


def test_the_publisher_verifies_the_raw_bytes_of_a_binary_body(signed_publisher):
    raw = bytes(range(256))
    event = signed_event(SECRET, body="x")
    event["headers"] = {
        **event["headers"],
        **Signer("standard", SECRET).headers("bin_1", int(__import__("time").time()), raw),
    }
    event.update(body=base64.b64encode(raw).decode(), isBase64Encoded=True)
    assert signed_publisher.handler(event, None)["statusCode"] == 202


def test_a_rotation_is_seen_without_a_cold_start(signed_publisher, monkeypatch):
    rotated = new_secret()
    secrets = signed_publisher._secrets
    secrets.read()
    secrets.client.stages.update(AWSCURRENT=rotated, AWSPREVIOUS=SECRET)
    monkeypatch.setattr(signed_publisher, "SECRET_REFRESH_S", 0.0)
    assert signed_publisher.handler(signed_event(rotated, "msg_new"), None)["statusCode"] == 202
    assert signed_publisher.handler(signed_event(SECRET, "msg_old"), None)["statusCode"] == 202  # old: still valid
    secrets.client.stages["AWSPREVIOUS"] = None  # `harness rotate-secret --finish`
    secrets.refresh()
    assert signed_publisher.handler(signed_event(SECRET, "msg_old2"), None)["statusCode"] == 401
