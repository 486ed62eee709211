import threading
import time
import uuid

import pytest
from localstack.services.lambda_.invocation.logs import LogHandler, LogItem
from localstack.services.logs.models import get_moto_logs_backend

from harness.localstack_extensions import lambda_logs
from harness.localstack_extensions.lambda_logs import (
    BatchedLogVersions,
    BatchingLogHandler,
    ServiceWriter,
    StateWriter,
    chunks,
    log_events,
)


class NotFound(Exception):
    pass


class AlreadyExists(Exception):
    pass


class FakeLogs:
    """CloudWatch Logs as the handler uses it: streams must exist before events are put."""

    class exceptions:
        ResourceNotFoundException = NotFound
        ResourceAlreadyExistsException = AlreadyExists

    def __init__(self) -> None:
        self.groups: set[str] = set()
        self.streams: dict[tuple[str, str], list[dict]] = {}
        self.puts = 0

    def create_log_group(self, logGroupName):
        if logGroupName in self.groups:
            raise AlreadyExists(logGroupName)
        self.groups.add(logGroupName)

    def create_log_stream(self, logGroupName, logStreamName):
        self.streams[(logGroupName, logStreamName)] = []

    def put_log_events(self, logGroupName, logStreamName, logEvents):
        if (logGroupName, logStreamName) not in self.streams:
            raise NotFound(logStreamName)
        self.puts += 1
        self.streams[(logGroupName, logStreamName)].extend(logEvents)


def test_each_streams_lines_stay_in_order_and_empty_lines_are_dropped():
    batch = [
        (LogItem("g", "a", "one\n\ntwo\n"), 1),
        (LogItem("g", "b", "other\n"), 2),
        (LogItem("g", "a", "three"), 3),
    ]
    streams = log_events(batch)
    assert [e["message"] for e in streams[("g", "a")]] == ["one\n", "two\n", "three\n"]
    assert [e["timestamp"] for e in streams[("g", "a")]] == [1, 1, 3]
    assert [e["message"] for e in streams[("g", "b")]] == ["other\n"]


def test_calls_stay_within_the_event_count_and_size_limits(monkeypatch):
    monkeypatch.setattr(lambda_logs, "MAX_EVENTS", 3)
    events = [{"timestamp": 0, "message": f"{i}\n"} for i in range(7)]
    assert [len(call) for call in chunks(events)] == [3, 3, 1]
    monkeypatch.setattr(lambda_logs, "MAX_EVENTS", 10_000)
    big = [{"timestamp": 0, "message": "x" * 400_000}] * 5
    calls = chunks(big)
    assert [len(call) for call in calls] == [2, 2, 1]
    assert sum(len(call) for call in calls) == 5


def test_invocations_handed_over_together_are_shipped_in_one_call_per_stream(monkeypatch):
    monkeypatch.setattr(lambda_logs, "is_api_enabled", lambda service: True)
    handler = BatchingLogHandler("arn:aws:iam::000000000000:role/r", "us-east-1")
    logs = FakeLogs()
    for index in range(50):
        handler.add_logs(LogItem("/aws/lambda/f", f"stream-{index % 2}", f"line {index}\n"))
    handler.log_queue.put(lambda_logs.QUEUE_SHUTDOWN)
    handler.ship_until_stopped(ServiceWriter(logs))
    assert logs.puts == 2  # one per stream, the group and streams created on the way
    even = [e["message"] for e in logs.streams[("/aws/lambda/f", "stream-0")]]
    assert even == [f"line {index}\n" for index in range(0, 50, 2)]


def test_lines_waiting_when_the_handler_stops_are_still_shipped(monkeypatch):
    monkeypatch.setattr(lambda_logs, "is_api_enabled", lambda service: True)
    handler = BatchingLogHandler("arn:aws:iam::000000000000:role/r", "us-east-1")
    logs = FakeLogs()
    shipping = threading.Thread(target=handler.ship_until_stopped, args=(ServiceWriter(logs),))
    shipping.start()
    handler.add_logs(LogItem("g", "s", "last words\n"))
    handler.log_queue.put(lambda_logs.QUEUE_SHUTDOWN)
    shipping.join(timeout=5)
    assert not shipping.is_alive()
    assert [e["message"] for e in logs.streams[("g", "s")]] == ["last words\n"]


class Unused:
    def put(self, group, stream, events):
        raise AssertionError("went through the service although no metric filter asks for it")


def events(*messages: str) -> list[dict]:
    now = int(time.time() * 1000)
    return [{"timestamp": now, "message": message} for message in messages]


def test_lines_are_written_into_the_logs_backend_creating_group_and_stream():
    account = f"{uuid.uuid4().int % 10**12:012d}"
    writer = StateWriter(account, "eu-west-1", Unused)
    writer.put("/aws/lambda/f", "2026/11/25/[$LATEST]abc", events("START\n", "hello\n"))
    writer.put("/aws/lambda/f", "2026/11/25/[$LATEST]abc", events("END\n"))
    writer.put("/aws/lambda/f", "2026/11/25/[$LATEST]def", events("other\n"))
    group = get_moto_logs_backend(account, "eu-west-1").groups["/aws/lambda/f"]
    stream = group.streams["2026/11/25/[$LATEST]abc"]
    assert [event.message for event in stream.events] == ["START\n", "hello\n", "END\n"]
    assert set(group.streams) == {"2026/11/25/[$LATEST]abc", "2026/11/25/[$LATEST]def"}
    assert "/aws/lambda/f" not in get_moto_logs_backend(account, "us-east-1").groups


def test_an_account_with_metric_filters_gets_its_lines_through_the_service_which_applies_them():
    account = f"{uuid.uuid4().int % 10**12:012d}"
    backend = get_moto_logs_backend(account, "us-east-1")
    backend.create_log_group("/aws/lambda/f", tags={})
    backend.put_metric_filter("errors", "ERROR", "/aws/lambda/f", [{"metricName": "E", "metricNamespace": "N"}])
    service = FakeLogs()
    writer = StateWriter(account, "us-east-1", lambda: ServiceWriter(service))
    writer.put("/aws/lambda/f", "s", events("ERROR boom\n"))
    assert service.streams[("/aws/lambda/f", "s")][0]["message"] == "ERROR boom\n"
    assert backend.groups["/aws/lambda/f"].streams == {}  # nothing written behind the service's back


class VersionManager:
    def __init__(self) -> None:
        self.log_handler = LogHandler("arn:aws:iam::000000000000:role/r", "eu-west-1")


@pytest.mark.parametrize("existing", [{}, {"arn:old": "kept"}])
def test_versions_stored_as_starting_get_the_batching_handler(existing):
    versions = BatchedLogVersions(existing)
    manager = VersionManager()
    versions["arn:new"] = manager
    assert isinstance(manager.log_handler, BatchingLogHandler)
    assert (manager.log_handler.role_arn, manager.log_handler.region) == (
        "arn:aws:iam::000000000000:role/r",
        "eu-west-1",
    )
    assert {**existing, "arn:new": manager} == dict(versions)
