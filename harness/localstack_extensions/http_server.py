"""A threaded HTTP/1.1 server for LocalStack's gateway: a connection's thread reads, serves and answers.

twisted, LocalStack's default, parses each request on its reactor thread, hands it to a thread pool
for the WSGI application, and hands every write and the finish back to the reactor, each hop a lock,
a queue and a wake-up of another thread, all of it under one GIL. Under a webhook flood that plumbing,
not AWS's logic, was most of the gateway's time (the README's "Benchmark"). Here one thread per
connection does all of it: the standard library's ``socketserver``, a lean HTTP/1.1 reader, and the
same WSGI adapter of rolo that twisted drives (``WsgiGateway``), raw header names and their case kept.

What it speaks: HTTP/1.0 and 1.1, keep-alive, ``Expect: 100-continue``, chunked request bodies,
responses of unknown length as chunked (or, to an HTTP/1.0 client, ended by closing), and TLS on the
same port when LocalStack hands it a certificate (a TLS handshake is recognised by its first byte, as
LocalStack's ``TLSMultiplexer`` does). No WebSockets: nothing the harness emulates uses them. Each
listener binds exactly the host given in GATEWAY_LISTEN. Selected with ``GATEWAY_SERVER=threaded-loopback``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import socketserver
import ssl
import sys
import threading
from typing import Any
from urllib.parse import unquote_to_bytes

from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin
from rolo.gateway.wsgi import WsgiGateway

LOG = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 120.0
"""A kept-alive connection with no new request for this long is closed (clients reconnect)."""
MAX_LINE = 65536
MAX_HEADERS = 200
TLS_HANDSHAKE = 0x16
NO_BODY_STATUSES = frozenset({204, 304})


class BadRequest(Exception):
    pass


def read_line(stream: Any) -> bytes:
    line = stream.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise BadRequest("line too long")
    return line


def read_chunked(stream: Any) -> bytes:
    """A chunked body, its trailers dropped."""
    parts = []
    while True:
        size_line = read_line(stream)
        if not size_line:
            raise BadRequest("connection closed inside a chunked body")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while read_line(stream) not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        parts.append(stream.read(size))
        stream.readline()  # the chunk's CRLF


class GatewayConnection(socketserver.StreamRequestHandler):
    """One client connection: requests in turn, until either side closes it."""

    server: ThreadedGatewayServer
    timeout = IDLE_TIMEOUT_S

    def setup(self) -> None:
        if self.server.tls is not None and self._starts_tls():
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
            self.scheme = "https"
        else:
            self.scheme = "http"
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def _starts_tls(self) -> bool:
        self.request.settimeout(self.timeout)
        with contextlib.suppress(OSError):
            first = self.request.recv(1, socket.MSG_PEEK)
            return bool(first) and first[0] == TLS_HANDSHAKE
        return False

    def handle(self) -> None:
        try:
            while self.handle_one():
                pass
        except (OSError, ssl.SSLError):
            pass  # the client went away, or stayed idle too long
        except BadRequest as error:
            with contextlib.suppress(OSError):
                self._write_simple(400, str(error))

    def handle_one(self) -> bool:
        """Serve one request; whether the connection stays open for another."""
        line = read_line(self.rfile)
        while line in (b"\r\n", b"\n"):  # tolerated between requests
            line = read_line(self.rfile)
        if not line:
            return False
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        except ValueError:
            raise BadRequest(f"malformed request line {line[:100]!r}") from None
        raw_headers = self._read_headers()
        environ = self._environ(method, target, version, raw_headers)
        keep_alive = self._keeps_alive(version, environ.get("HTTP_CONNECTION", ""))
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = read_chunked(self.rfile)
            environ["CONTENT_LENGTH"] = str(len(body))
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = self.rfile.read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return self._respond(environ, method, version, keep_alive)

    def _read_headers(self) -> list[tuple[bytes, bytes]]:
        headers = []
        while True:
            line = read_line(self.rfile)
            if line in (b"\r\n", b"\n", b""):
                return headers
            if line[:1] in (b" ", b"\t") and headers:  # an obsolete folded continuation
                name, value = headers[-1]
                headers[-1] = (name, value + b" " + line.strip())
                continue
            name, sep, value = line.partition(b":")
            if not sep:
                raise BadRequest(f"malformed header line {line[:100]!r}")
            headers.append((name.strip(), value.strip()))
            if len(headers) > MAX_HEADERS:
                raise BadRequest("too many headers")

    def _environ(self, method: str, target: str, version: str, raw_headers: list[tuple[bytes, bytes]]) -> dict:
        path, _, query = target.partition("?")
        if not path.startswith("/"):  # absolute form: http://host/path
            path = "/" + path.split("://", 1)[-1].partition("/")[2]
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": _unquote_latin1(path),
            "QUERY_STRING": query,
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": version,
            "REQUEST_URI": target,
            "RAW_URI": target,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "rolo.headers": raw_headers,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.scheme,
            "wsgi.errors": sys.stderr,
            "wsgi.input_terminated": True,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for raw_name, raw_value in raw_headers:
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            value = raw_value.decode("latin-1")
            key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    @staticmethod
    def _keeps_alive(version: str, connection: str) -> bool:
        tokens = {token.strip().lower() for token in connection.split(",")}
        if version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens

    def _respond(self, environ: dict, method: str, version: str, keep_alive: bool) -> bool:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return self.wfile.write

        try:
            body = self.server.application(environ, start_response)
        except Exception:
            LOG.exception("the gateway failed to serve %s %s", method, environ.get("RAW_URI"))
            self._write_simple(500, "internal error")
            return False
        try:
            status, headers = started
            code = int(status.split(" ", 1)[0])
            names = {name.lower() for name, _ in headers}
            if "connection" in names and any(n.lower() == "connection" and v.lower() == "close" for n, v in headers):
                keep_alive = False
            bodiless = method == "HEAD" or code in NO_BODY_STATUSES or code < 200
            chunked = not bodiless and "content-length" not in names and version == "HTTP/1.1"
            if not bodiless and "content-length" not in names and not chunked:
                keep_alive = False  # an HTTP/1.0 client reads to the end of the connection
            head = [f"HTTP/1.1 {status}"]
            head += [f"{name}: {value}" for name, value in headers]
            if chunked:
                head.append("Transfer-Encoding: chunked")
            if not keep_alive and "connection" not in names:
                head.append("Connection: close")
            head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
            if not bodiless and not chunked and isinstance(body, list | tuple):
                self.wfile.write(head_bytes + b"".join(body))  # one send: most answers are one buffer
                return keep_alive
            self.wfile.write(head_bytes)
            if not bodiless:
                for part in body:
                    if not part:
                        continue
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
        finally:
            if hasattr(body, "close"):
                body.close()
        return keep_alive

    def _write_simple(self, code: int, text: str) -> None:
        data = text.encode()
        reason = {400: "Bad Request", 500: "Internal Server Error"}[code]
        self.wfile.write(
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(data)}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + data
        )


def _unquote_latin1(path: str) -> str:
    """PATH_INFO as WSGI servers give it: percent-decoded bytes, as latin-1 text."""
    return unquote_to_bytes(path).decode("latin-1") if "%" in path else path


class ThreadedGatewayServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 1024  # a burst of new connections waits in the backlog instead of being refused

    def __init__(self, address: tuple[str, int], application: Any, tls: ssl.SSLContext | None) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.application, self.tls = application, tls
        super().__init__(address, GatewayConnection)


class ThreadedRuntimeServer(RuntimeServer):
    def __init__(self) -> None:
        self.servers: list[ThreadedGatewayServer] = []
        self.stopped = threading.Event()

    def register(self, gateway, listen, ssl_creds=None) -> None:
        tls = None
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(cert_file_name, key_file_name)
        application = WsgiGateway(gateway)
        for host_and_port in listen:
            self.servers.append(ThreadedGatewayServer((host_and_port.host, host_and_port.port), application, tls))

    def run(self) -> None:
        for server in self.servers:
            threading.Thread(
                target=server.serve_forever, name=f"gateway-{server.server_address[1]}", daemon=True
            ).start()
        self.stopped.wait()

    def shutdown(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        self.stopped.set()


class ThreadedRuntimeServerPlugin(RuntimeServerPlugin):
    name = "threaded-loopback"

    def load(self, *args, **kwargs) -> RuntimeServer:
        return ThreadedRuntimeServer()
