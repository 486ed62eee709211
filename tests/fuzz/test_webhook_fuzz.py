"""Hypothesis-generated requests against the real webhook: every answer is documented, the stack survives.

`make test` runs a small, derandomized sample; `make fuzz` runs HARNESS_FUZZ_EXAMPLES (default 300) new
random ones. Traffic goes to the local stack only, bounded by the example count.
"""

from __future__ import annotations

import http.client
import json
import os
from urllib.parse import quote, urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("HARNESS_FUZZ_EXAMPLES", "25"))
RANDOM = os.environ.get("HARNESS_FUZZ_RANDOM") == "1"

methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
paths = st.lists(st.text(min_size=1, max_size=30), min_size=0, max_size=6).map(
    lambda parts: "/" + "/".join(quote(part, safe="") for part in parts)
)
header_names = st.from_regex(r"\AX-[A-Za-z0-9-]{1,20}\Z")
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100)
bodies = st.one_of(st.none(), st.binary(max_size=4096), st.text(max_size=2000).map(str.encode))
content_types = st.sampled_from(["application/json", "text/plain", "application/octet-stream", None])
idempotency_keys = st.one_of(st.none(), st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300))


def send(url: str, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    target = urlparse(url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    try:
        connection.request(method, target.path + path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def webhook_url(webhook_topology) -> str:
    return webhook_topology.outputs.webhook_url


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=methods,
    path=paths,
    body=bodies,
    content_type=content_types,
    key=idempotency_keys,
    extra=st.dictionaries(header_names, header_values, max_size=10),
)
def test_any_request_gets_a_documented_answer(webhook_url, method, path, body, content_type, key, extra):
    headers = dict(extra)
    if content_type:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["Idempotency-Key"] = key.encode("latin-1").decode("latin-1")
    status, payload = send(webhook_url, method, path, body, headers)
    answer = json.loads(payload)
    if status == 202:
        assert answer["status"] == "queued" and answer["id"]
    else:
        assert status in (400, 413), (status, payload[:300])
        assert answer["error"] and answer["reason"]


def test_the_stack_still_serves_after_the_fuzzing(webhook_url):
    status, payload = send(webhook_url, "POST", "/after-fuzz", b"{}", {"Content-Type": "application/json"})
    assert status == 202 and json.loads(payload)["status"] == "queued"


@pytest.fixture(scope="module", params=("standard", "github", "stripe"))
def signed_url(request, deploy_topology) -> str:
    return deploy_topology(signature_scheme=request.param, backend_latency_ms=0).outputs.webhook_url


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
timestamps = st.one_of(st.integers(-(10**15), 10**15).map(str), printable)
signature_headers = st.fixed_dictionaries(
    {},
    optional={
        "webhook-id": printable,
        "webhook-timestamp": timestamps,
        "webhook-signature": st.lists(st.tuples(st.sampled_from(["v1", "v1a", ""]), printable), max_size=12).map(
            lambda entries: " ".join(f"{version},{value}" for version, value in entries)
        ),
        "X-Hub-Signature-256": st.one_of(printable, printable.map(lambda value: f"sha256={value}")),
        "X-GitHub-Delivery": printable,
        "Stripe-Signature": st.lists(
            st.tuples(st.sampled_from(["t", "v1", "v0", ""]), st.one_of(timestamps, printable)), max_size=12
        ).map(lambda entries: ",".join(f"{key}={value}" for key, value in entries)),
    },
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, headers=signature_headers)
def test_no_made_up_signature_gets_in(signed_url, body, headers):
    status, payload = send(signed_url, "POST", "/signed", body, {"Content-Type": "application/json", **headers})
    answer = json.loads(payload)
    assert status == 401, (status, payload[:300])
    assert answer["error"] == "invalid signature" and answer["reason"]
