"""Signed webhooks: only senders with the secret get in, forged and stale deliveries leave no trace, a replay
inside the tolerance is one row; signed by the senders' own libraries (tests/senders, from npm)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness.observe import queue_depth, rows
from harness.polling import wait_until
from harness.secrets import finish_rotation, rotate_signing_secret
from harness.signing import Signer, new_secret
from tests.integration.helpers import send

SENDERS = Path(__file__).parents[1] / "senders"
SCHEMES = ("standard", "github", "stripe")
SHORT = {"shape": "burst", "users": 6, "spawn_rate": 6.0, "duration_s": 10, "user_rps": 5.0}


@pytest.fixture(scope="module")
def senders(tmp_path_factory) -> Path:
    """The senders' libraries, installed from tests/senders' lock file into a folder of the test's own."""
    if shutil.which("npm") is None:
        pytest.skip("no `npm` on this machine: the senders' own libraries cannot be installed")
    folder = tmp_path_factory.mktemp("senders")
    for name in ("package.json", "package-lock.json", "sign.mjs"):
        shutil.copy(SENDERS / name, folder / name)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True, capture_output=True
    )
    return folder


@pytest.fixture(scope="module", params=SCHEMES)
def signed(request, deploy_topology):
    secret = new_secret()
    topology = deploy_topology(signature_scheme=request.param, signing_secret=secret, backend_latency_ms=0)
    return topology, secret


def post(topology, body: bytes, headers: dict[str, str], path: str = "/signed") -> tuple[int, dict]:
    status, payload = send(
        topology.outputs.webhook_url, "POST", path, body, {"Content-Type": "application/json", **headers}
    )
    return status, json.loads(payload)


def body_for(delivery_id: str) -> bytes:
    return json.dumps({"id": delivery_id, "type": "test.event", "data": {"amount": 5}}).encode()


def row_ids(aws_client, topology) -> set[str]:
    return {row["id"] for row in rows(aws_client("dynamodb"), topology.outputs.table_name)}


@pytest.mark.registry
def test_a_delivery_signed_by_the_senders_own_library_becomes_one_row_and_a_replay_adds_none(
    signed, senders, aws_client, tmp_path
):
    topology, secret = signed
    scheme = topology.outputs.signature_scheme
    delivery_id = f"evt_{scheme}_{int(time.time() * 1000)}"
    (tmp_path / "body.json").write_bytes(body_for(delivery_id))
    headers = json.loads(
        subprocess.run(
            ["node", "sign.mjs", scheme, secret, delivery_id, str(tmp_path / "body.json")],
            cwd=senders,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    first = post(topology, body_for(delivery_id), headers)
    replay = post(topology, body_for(delivery_id), headers)  # the same bytes again, inside the tolerance
    assert first == (202, {"id": delivery_id, "status": "queued"})
    assert replay == first
    sqs = aws_client("sqs")
    wait_until(lambda: delivery_id in row_ids(aws_client, topology), 20, what="the signed delivery's row")
    wait_until(lambda: queue_depth(sqs, topology.outputs.queue_url).total == 0, 20, what="the replay to be consumed")
    matching = [r for r in rows(aws_client("dynamodb"), topology.outputs.table_name) if r["id"] == delivery_id]
    assert len(matching) == 1


def malformed(scheme: str, secret: str, body: bytes) -> dict[str, dict[str, str]]:
    """Signature headers broken every way a test can think of: each must get 401 and queue nothing."""
    now = int(time.time())
    good = Signer(scheme, secret).headers("evt_bad", now, body)
    cases: dict[str, dict[str, str]] = {
        "no signature headers": {},
        "a wrong secret": Signer(scheme, new_secret()).headers("evt_bad", now, body),
        "a huge signature": {name: value + "A" * 5000 for name, value in good.items()},
        "a signature that is not hex or base64": {
            name: value.replace(value[-8:], "!!??~~%%") for name, value in good.items() if "signature" in name.lower()
        }
        | {name: value for name, value in good.items() if "signature" not in name.lower()},
    }
    if scheme == "standard":
        cases |= {
            "no webhook-id": {k: v for k, v in good.items() if k != "webhook-id"},
            "a timestamp an hour old": Signer(scheme, secret).headers("evt_bad", now - 3600, body),
            "a timestamp an hour ahead": Signer(scheme, secret).headers("evt_bad", now + 3600, body),
            "a timestamp that is not a number": good | {"webhook-timestamp": "yesterday"},
            "twenty wrong signatures": good | {"webhook-signature": " ".join(["v1,AAAA"] * 20)},
            "only an unknown version": good | {"webhook-signature": good["webhook-signature"].replace("v1,", "v9,")},
        }
    if scheme == "github":
        cases |= {
            "sha1 instead of sha256": {"X-Hub-Signature-256": "sha1=" + good["X-Hub-Signature-256"][7:]},
            "no sha256= prefix": {"X-Hub-Signature-256": good["X-Hub-Signature-256"][7:]},
        }
    if scheme == "stripe":
        signature = good["Stripe-Signature"]
        cases |= {
            "a timestamp an hour old": Signer(scheme, secret).headers("evt_bad", now - 3600, body),
            "a timestamp in the year 33658": {"Stripe-Signature": f"t=999999999999,{signature.split(',')[1]}"},
            "no timestamp": {"Stripe-Signature": signature.split(",")[1]},
            "two timestamps": {"Stripe-Signature": f"t={now},{signature}"},
            "twenty wrong v1 entries": {"Stripe-Signature": f"t={now}," + ",".join(["v1=00"] * 20)},
        }
    return cases


def test_forged_malformed_and_stale_deliveries_get_401_and_leave_no_trace(signed, aws_client):
    topology, secret = signed
    body = body_for("evt_bad")
    cases = malformed(topology.outputs.signature_scheme, secret, body)
    for case, headers in cases.items():
        status, answer = post(topology, body, headers)
        assert status == 401, (case, answer)
        assert answer["error"] == "invalid signature" and answer["reason"], case
    altered = Signer(topology.outputs.signature_scheme, secret).headers("evt_bad", int(time.time()), body)
    assert post(topology, body.replace(b"5", b"6"), altered)[0] == 401  # the body changed after signing
    assert queue_depth(aws_client("sqs"), topology.outputs.queue_url).total == 0
    assert "evt_bad" not in row_ids(aws_client, topology)


def test_a_binary_body_is_verified_on_the_bytes_sent(signed):
    topology, secret = signed
    if topology.outputs.signature_scheme == "stripe":
        pytest.skip("Stripe's delivery id lives in a JSON body")
    raw = bytes(range(256)) * 4
    headers = Signer(topology.outputs.signature_scheme, secret).headers("evt_binary", int(time.time()), raw)
    status, answer = post(topology, raw, {**headers, "Content-Type": "application/octet-stream"})
    assert (status, answer.get("id")) == (202, "evt_binary")


def test_a_rotation_accepts_both_secrets_until_it_is_finished(signed, aws_client):
    topology, old = signed
    scheme, arn = topology.outputs.signature_scheme, topology.outputs.signing_secret_arn
    new = new_secret()
    secrets = aws_client("secretsmanager")
    rotate_signing_secret(secrets, arn, new)
    try:
        for name, secret in (("new", new), ("old", old)):
            delivery = f"evt_rot_{name}_{time.time_ns()}"
            headers = Signer(scheme, secret).headers(delivery, int(time.time()), body_for(delivery))
            # The publisher re-reads the secret on a mismatch, at most every 5 s: poll, do not sleep.
            wait_until(
                lambda h=headers, d=delivery: post(topology, body_for(d), h)[0] == 202, 15, what=f"{name} secret"
            )
        assert finish_rotation(secrets, arn)
        stale = f"evt_rot_retired_{time.time_ns()}"
        headers = Signer(scheme, old).headers(stale, int(time.time()), body_for(stale))
        wait_until(lambda: post(topology, body_for(stale), headers)[0] == 401, 15, what="the old secret refused")
    finally:
        rotate_signing_secret(secrets, arn, old)  # the module's other tests sign with the first secret
        finish_rotation(secrets, arn)


@pytest.mark.slow
def test_a_load_with_forged_stale_and_replayed_deliveries_passes_and_reports_them(signed, run_load):
    topology, _ = signed
    timestamped = topology.outputs.signature_scheme != "github"
    verdict, run_dir = run_load(
        topology, forged_share=0.1, replay_share=0.2, stale_share=0.1 if timestamped else 0.0, **SHORT
    )
    assert verdict.verdict == "PASS", verdict.reasons
    signed_numbers = verdict.signed
    assert signed_numbers["forged"] > 0 and signed_numbers["forged_accepted"] == 0
    assert signed_numbers["replays"] > 0 and signed_numbers["refused_rows"] == 0
    assert (signed_numbers["stale"] > 0) == timestamped and signed_numbers["stale_accepted"] == 0
    assert verdict.duplicate_rows == 0 and verdict.lost == 0
    report = (run_dir / "report.html").read_text()
    assert "forged deliveries: sent / accepted" in report and "replays inside the tolerance" in report
