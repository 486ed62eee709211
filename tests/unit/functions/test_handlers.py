"""The publisher and subscriber handlers with fake AWS clients (no LocalStack)."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions"


def load(name: str) -> ModuleType:
    """As Lambda loads it: the function's folder is on the import path (the publisher's signatures.py)."""
    if str(FUNCTIONS / name) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS / name))
    spec = importlib.util.spec_from_file_location(f"{name}_app", FUNCTIONS / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeSQS:
    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[dict] = []
        self.fail = fail

    def send_message(self, QueueUrl: str, MessageBody: str) -> dict:
        if self.fail:
            raise self.fail
        self.sent.append(json.loads(MessageBody))
        return {"MessageId": str(len(self.sent))}


@pytest.fixture
def publisher(monkeypatch):
    module = load("publisher")
    monkeypatch.setenv("QUEUE_URL", "http://127.0.0.1:4566/queue/us-east-1/000000000000/q")
    monkeypatch.delenv("IDEMPOTENCY_HEADERS", raising=False)
    module._sqs = FakeSQS()
    return module


def api_event(path="/hello", body='{"a": 1}', headers=None, request_id="req-1", **extra):
    return {
        "httpMethod": "POST",
        "path": path,
        "headers": headers or {"Content-Type": "application/json"},
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {"requestId": request_id, "identity": {"sourceIp": "127.0.0.1"}},
        **extra,
    }


def test_publisher_queues_one_message_and_answers_202(publisher):
    response = publisher.handler(api_event(), None)
    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {"id": "req-1", "status": "queued"}
    (message,) = publisher._sqs.sent
    assert message["id"] == "req-1" and message["path"] == "/hello" and message["method"] == "POST"
    assert message["body"] == '{"a": 1}' and message["body_encoding"] == "text"
    assert message["received_at_ms"] > 0


def test_request_ids_differ_so_requests_never_collide(publisher):
    ids = {json.loads(publisher.handler(api_event(request_id=f"r{i}"), None)["body"])["id"] for i in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize("header", ["Idempotency-Key", "x-github-delivery", "X-Webhook-Id"])
def test_a_senders_delivery_id_becomes_the_id(publisher, header):
    first = publisher.handler(api_event(headers={header: "delivery-42"}, request_id="a"), None)
    retry = publisher.handler(api_event(headers={header: "delivery-42"}, request_id="b"), None)
    assert json.loads(first["body"])["id"] == json.loads(retry["body"])["id"] == "delivery-42"


def test_the_idempotency_headers_are_configurable(publisher, monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_HEADERS", "X-My-Id")
    body = publisher.handler(api_event(headers={"x-my-id": "k1", "Idempotency-Key": "ignored"}), None)["body"]
    assert json.loads(body)["id"] == "k1"


def test_an_unusable_idempotency_key_is_a_400_with_a_reason(publisher):
    response = publisher.handler(api_event(headers={"Idempotency-Key": "has spaces\n"}), None)
    assert response["statusCode"] == 400
    assert "Idempotency-Key".lower() in json.loads(response["body"])["reason"]
    assert publisher._sqs.sent == []


def test_credentials_are_not_forwarded(publisher):
    publisher.handler(api_event(headers={"Authorization": "secret", "Cookie": "c", "User-Agent": "gh"}), None)
    assert publisher._sqs.sent[0]["headers"] == {"user-agent": "gh"}


def test_binary_bodies_travel_as_base64(publisher):
    raw = bytes(range(256))
    publisher.handler(api_event(body=base64.b64encode(raw).decode(), isBase64Encoded=True), None)
    message = publisher._sqs.sent[0]
    assert message["body_encoding"] == "base64" and base64.b64decode(message["body"]) == raw


def test_a_body_over_the_sqs_limit_is_413_and_nothing_is_queued(publisher):
    response = publisher.handler(api_event(body="x" * (256 * 1024)), None)
    assert response["statusCode"] == 413
    assert json.loads(response["body"])["error"] == "payload too large"
    assert publisher._sqs.sent == []


def test_an_sqs_failure_is_503_and_not_claimed_as_queued(publisher):
    publisher._sqs = FakeSQS(fail=ConnectionError("queue down"))
    response = publisher.handler(api_event(), None)
    assert response["statusCode"] == 503
    assert "queued" not in response["body"].replace("not queued", "")


class FakeTable:
    """Enough of a boto3 Table for conditional puts."""

    class _Exceptions:
        class ConditionalCheckFailedException(Exception):
            pass

    def __init__(self, fail_ids: set[str] = frozenset()) -> None:
        self.rows: dict[str, dict] = {}
        self.fail_ids = fail_ids
        self.meta = type("Meta", (), {"client": type("Client", (), {"exceptions": self._Exceptions})()})()

    def put_item(self, Item: dict, ConditionExpression: str) -> None:
        assert ConditionExpression == "attribute_not_exists(id)"
        if Item["id"] in self.fail_ids:
            raise RuntimeError("backend unavailable")
        if Item["id"] in self.rows:
            raise self._Exceptions.ConditionalCheckFailedException()
        self.rows[Item["id"]] = Item


@pytest.fixture
def subscriber(monkeypatch):
    module = load("subscriber")
    monkeypatch.setenv("TABLE_NAME", "Messages")
    monkeypatch.delenv("FAIL_PATH_MARKER", raising=False)
    for name in ("BACKEND_LATENCY_MS", "PGHOST"):
        monkeypatch.delenv(name, raising=False)
    module._table = FakeTable()
    return module


def sqs_record(message_id: str, item_id: str, path: str = "/hello", receive_count: int = 1) -> dict:
    body = json.dumps({"id": item_id, "path": path, "method": "POST", "received_at_ms": 1.5, "body": "{}"})
    return {
        "messageId": message_id,
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
    }


def test_subscriber_writes_one_row_per_message(subscriber, capsys):
    result = subscriber.handler({"Records": [sqs_record("m1", "a"), sqs_record("m2", "b", "/other")]}, None)
    assert result == {"batchItemFailures": []}
    assert subscriber._table.rows["a"]["message"] == "hello from /hello"
    assert subscriber._table.rows["b"]["message"] == "hello from /other"
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert emf["RowsWritten"] == 2 and emf["DuplicatesSuppressed"] == 0


def test_a_duplicate_delivery_is_a_counted_no_op(subscriber, capsys):
    subscriber.handler({"Records": [sqs_record("m1", "a")]}, None)
    first_row = dict(subscriber._table.rows["a"])
    result = subscriber.handler({"Records": [sqs_record("m1-again", "a", receive_count=2)]}, None)
    assert result == {"batchItemFailures": []}  # not an error
    assert subscriber._table.rows["a"] == first_row  # not overwritten
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["DuplicatesSuppressed"] == 1


def test_only_failed_records_are_reported(subscriber, monkeypatch):
    monkeypatch.setenv("FAIL_PATH_MARKER", "poison")
    subscriber._table.fail_ids = {"flaky"}
    records = [
        sqs_record("m1", "a"),
        sqs_record("m2", "p", "/poison/1"),
        sqs_record("m3", "flaky"),
        {"messageId": "m4", "body": "not json"},
        sqs_record("m5", "b"),
    ]
    result = subscriber.handler({"Records": records}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": m} for m in ("m2", "m3", "m4")]}
    assert set(subscriber._table.rows) == {"a", "b"}


def test_fault_injection_is_off_by_default(subscriber):
    subscriber.handler({"Records": [sqs_record("m1", "p", "/poison/1")]}, None)
    assert "p" in subscriber._table.rows


def test_a_body_that_is_not_the_json_it_declares_is_a_400(publisher):
    response = publisher.handler(api_event(body="{not json", headers={"Content-Type": "application/json"}), None)
    assert response["statusCode"] == 400 and json.loads(response["body"])["error"] == "invalid JSON"
    assert publisher._sqs.sent == []


def test_an_empty_body_and_undeclared_text_are_still_webhooks(publisher):
    assert publisher.handler(api_event(body=None), None)["statusCode"] == 202
    assert (
        publisher.handler(api_event(body="plain text", headers={"Content-Type": "text/plain"}), None)["statusCode"]
        == 202
    )


def test_a_backend_error_fails_only_that_record_and_it_succeeds_once_the_backend_recovers(subscriber):
    """Outages and error rates now live in the backend; the subscriber's part is to report the failed record."""
    subscriber._table = FakeTable(fail_ids={"a"})
    result = subscriber.handler({"Records": [sqs_record("m1", "a"), sqs_record("m2", "b")]}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]} and set(subscriber._table.rows) == {"b"}
    subscriber._table.fail_ids = set()
    assert subscriber.handler({"Records": [sqs_record("m1", "a")]}, None) == {"batchItemFailures": []}


def test_the_postgres_writer_is_chosen_by_its_environment(subscriber, monkeypatch):
    inserted = []
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setattr(subscriber, "insert_once", lambda row: inserted.append(row["id"]) or True)
    assert subscriber.handler({"Records": [sqs_record("m1", "a")]}, None) == {"batchItemFailures": []}
    assert inserted == ["a"] and subscriber._table.rows == {}


def test_the_postgres_insert_is_one_simple_query_with_its_values_quoted(subscriber, monkeypatch):
    """A pooler in transaction mode may hand each message of the extended protocol to another connection."""
    sent = []

    class Connection:
        def run(self, sql, **params):
            sent.append((sql, params))
            return [["x"]]

    monkeypatch.setenv("TABLE_NAME", "Messages")
    monkeypatch.setattr(subscriber, "_connection", Connection())
    row = subscriber.row_for(sqs_record("m1", "it's"))
    assert subscriber.insert_once(row) is True
    ((sql, params),) = sent
    assert params == {} and "'it''s'" in sql and sql.startswith('INSERT INTO "Messages"')
