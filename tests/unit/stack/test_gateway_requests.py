"""The gateway's twisted requests: the body left to the WSGI application, unparsed, and no access-log line."""

import io

from rolo.gateway import Gateway
from rolo.serving.twisted import TwistedGateway
from twisted.internet.address import IPv4Address
from twisted.web.resource import Resource
from twisted.web.server import Site

from harness.localstack_extensions.gateway import FormlessRequest, QuietTwistedGateway


class Transport:
    """What an HTTP channel writes to (twisted's test transports ship with trial, not installed)."""

    disconnecting = False
    negotiatedProtocol = None

    def __init__(self) -> None:
        self.written = b""

    def write(self, data: bytes) -> None:
        self.written += data

    def writeSequence(self, data) -> None:
        self.written += b"".join(data)

    def getPeer(self):
        return IPv4Address("TCP", "127.0.0.1", 50000)

    def getHost(self):
        return IPv4Address("TCP", "127.0.0.1", 4566)

    def __getattr__(self, name):  # producer registration, timeouts, closing: nothing to do here
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


class Recorder(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bytes, bytes, dict, bytes]] = []

    def render(self, request):
        self.seen.append((request.method, request.path, request.args, request.content.read()))
        return b"ok"


def serve(site: Site, request: bytes) -> Transport:
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
    transport = Transport()
    channel.makeConnection(transport)
    channel.dataReceived(request)
    return transport


def test_a_form_post_keeps_its_body_for_the_application_and_its_query_arguments():
    recorder = Recorder()
    site = Site(recorder)
    site.requestFactory = FormlessRequest
    transport = serve(
        site,
        b"POST /queue/q?Action=SendMessage&x=1 HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\nMessageBody=abc",
    )
    assert recorder.seen == [(b"POST", b"/queue/q", {b"Action": [b"SendMessage"], b"x": [b"1"]}, b"MessageBody=abc")]
    assert transport.written.startswith(b"HTTP/1.1 200")


def test_the_gateway_writes_no_access_log_line_per_request():
    written = {}
    for kind in (TwistedGateway, QuietTwistedGateway):
        site = kind(Gateway())
        site.resource = Recorder()  # answers in this thread: no reactor, no thread pool
        site.logFile, site._logDateTime = io.BytesIO(), "25/Nov/2026:00:00:00 +0000"
        transport = serve(site, b"GET /_localstack/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert transport.written.startswith(b"HTTP/1.1 200")
        written[kind] = site.logFile.getvalue()
    assert b'"GET /_localstack/health HTTP/1.1" 200' in written[TwistedGateway]  # what stock formats each time
    assert written[QuietTwistedGateway] == b""
