"""The threaded gateway server speaks HTTP/1.x as LocalStack's clients expect: a real socket on loopback,
with a small WSGI application standing in for LocalStack's gateway."""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
from collections.abc import Iterator

import pytest
from localstack.config import HostAndPort
from rolo.gateway import Gateway

from harness.localstack_extensions.http_server import ThreadedGatewayServer, ThreadedRuntimeServerPlugin, WorkerPool
from harness.polling import poll


def echo(environ, start_response):
    """Answers what it was asked, as JSON; /stream answers in parts of unknown length; /fail raises."""
    path = environ["PATH_INFO"]
    if path == "/fail":
        raise RuntimeError("boom")
    body = environ["wsgi.input"].read()
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one,", b"", b"two"])
    answer = json.dumps(
        {
            "method": environ["REQUEST_METHOD"],
            "path": path,
            "raw": environ["RAW_URI"],
            "query": environ["QUERY_STRING"],
            "body": body.decode(),
            "headers": [[k.decode(), v.decode()] for k, v in environ["rolo.headers"]],
            "content_type": environ.get("CONTENT_TYPE"),
            "remote": environ["REMOTE_ADDR"],
        }
    ).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer))), ("X-Case-Kept", "1")]
    )
    return [answer]


@pytest.fixture
def server() -> Iterator[ThreadedGatewayServer]:
    server = ThreadedGatewayServer(("127.0.0.1", 0), echo, tls=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def connect(server: ThreadedGatewayServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(*server.server_address[:2], timeout=5)


def test_a_kept_alive_connection_serves_requests_in_turn_with_raw_header_case(server):
    connection = connect(server)
    for number in range(3):
        connection.request("POST", f"/a%20b/{number}?x=1&y=2", body=b"hello", headers={"X-Amz-Target": "Svc.Op"})
        response = connection.getresponse()
        seen = json.loads(response.read())
        assert response.status == 200 and response.getheader("X-Case-Kept") == "1"
        assert seen["path"] == f"/a b/{number}" and seen["raw"] == f"/a%20b/{number}?x=1&y=2"
        assert seen["query"] == "x=1&y=2" and seen["body"] == "hello" and seen["remote"] == "127.0.0.1"
        assert ["X-Amz-Target", "Svc.Op"] in seen["headers"]  # the case a client sent, as rolo expects
    assert connection.sock is not None  # still the same connection: not closed between requests
    connection.close()


def test_a_chunked_request_body_and_expect_continue_are_honoured(server):
    with socket.create_connection(server.server_address[:2], timeout=5) as raw:
        raw.sendall(
            b"PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: text/plain\r\n\r\n"
        )
        assert raw.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        raw.sendall(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
        response = http.client.HTTPResponse(raw)
        response.begin()
        seen = json.loads(response.read())
    assert seen["body"] == "hello world" and seen["content_type"] == "text/plain"


def test_an_answer_of_unknown_length_is_chunked_to_http11_and_closed_for_http10(server):
    connection = connect(server)
    connection.request("GET", "/stream")
    response = connection.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked" and response.read() == b"one,two"
    with socket.create_connection(server.server_address[:2], timeout=5) as raw:
        raw.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
        received = b""
        while chunk := raw.recv(4096):  # the server closes: that is the end of the body
            received += chunk
    assert received.endswith(b"\r\n\r\none,two") and b"Connection: close" in received


def test_head_has_no_body_and_the_connection_stays_usable(server):
    connection = connect(server)
    connection.request("HEAD", "/")
    response = connection.getresponse()
    assert response.status == 200 and response.read() == b""
    connection.request("GET", "/after")
    assert json.loads(connection.getresponse().read())["path"] == "/after"


def test_a_failing_application_answers_500_and_a_garbled_request_400(server):
    connection = connect(server)
    connection.request("GET", "/fail")
    assert connection.getresponse().status == 500
    with socket.create_connection(server.server_address[:2], timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400 Bad Request")


def test_the_runtime_server_serves_a_rolo_gateway_on_exactly_the_listen_host():
    def answer(chain, context, response):
        response.set_response(f"{context.request.method} {context.request.headers.get('X-Mixed-Case')}".encode())

    runtime = ThreadedRuntimeServerPlugin().load()
    runtime.register(Gateway(request_handlers=[answer]), [HostAndPort("127.0.0.1", 0)])
    (server,) = runtime.servers
    assert server.server_address[0] == "127.0.0.1"
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    connection = connect(server)
    connection.request("POST", "/up", body=b"{}", headers={"X-Mixed-Case": "kept"})
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"POST kept")
    runtime.shutdown()
    thread.join(5)
    assert not thread.is_alive()


def test_idle_connections_hold_no_thread_and_pipelined_requests_are_all_answered(server):
    before = threading.active_count()
    idle = [socket.create_connection(server.server_address[:2], timeout=5) for _ in range(60)]
    connection = connect(server)
    connection.request("GET", "/one")
    assert connection.getresponse().read()
    assert threading.active_count() - before < 10  # a worker per request being served, none per connection
    with socket.create_connection(server.server_address[:2], timeout=5) as raw:
        raw.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 2 or not received.endswith(b"}"):
            received += raw.recv(65536)
    first, second = received.split(b"HTTP/1.1 200 OK")[1:]
    assert b'"path": "/first"' in first and b'"path": "/second"' in second  # in order, each answered
    for sock in idle:
        sock.close()


def test_a_connection_idle_past_the_timeout_is_closed(server, monkeypatch):
    from harness.localstack_extensions import http_server
    from harness.polling import poll

    monkeypatch.setattr(http_server, "IDLE_TIMEOUT_S", 0.5)
    connection = connect(server)
    connection.request("GET", "/once")
    connection.getresponse().read()
    sock = connection.sock
    sock.settimeout(5)
    assert poll(lambda: sock.recv(1), lambda data: data == b"", timeout_s=5, what="the idle connection closed") == b""


def test_a_request_that_stalls_midway_is_dropped_after_the_read_timeout_and_others_are_served(server, monkeypatch):
    from harness.localstack_extensions import http_server
    from harness.polling import poll

    monkeypatch.setattr(http_server, "READ_TIMEOUT_S", 0.5)  # read when a connection is accepted
    stalled = socket.create_connection(server.server_address[:2], timeout=5)
    stalled.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    connection = connect(server)
    connection.request("GET", "/meanwhile")
    assert connection.getresponse().status == 200  # the stalled one holds a worker, not the server
    closed = poll(lambda: stalled.recv(1), lambda data: data == b"", timeout_s=5, what="the stalled connection closed")
    assert closed == b""
    stalled.close()


def test_the_pool_hands_work_to_an_idle_worker_and_starts_one_only_when_none_is_idle():
    pool = WorkerPool(max_workers=3, name="test")
    done: queue.SimpleQueue[int] = queue.SimpleQueue()
    try:
        for number in range(20):  # one at a time: the worker that finished takes the next
            pool.submit(done.put, number)
            assert done.get(timeout=10) == number
            poll(lambda: len(pool._idle), lambda idle: idle == 1, timeout_s=10, interval_s=0.001)  # back, idle
        assert len(pool.threads) == 1
        release = threading.Event()
        for number in range(5):  # all at once, each held: workers up to the bound, the rest queued
            pool.submit(lambda number: (release.wait(10), done.put(number)), number)
        assert len(pool.threads) == 3
        release.set()
        assert sorted(done.get(timeout=10) for _ in range(5)) == [0, 1, 2, 3, 4]
    finally:
        pool.shutdown()
