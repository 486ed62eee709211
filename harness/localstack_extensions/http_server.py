"""A threaded HTTP/1.1 server for LocalStack's gateway: one worker reads a request, serves it and answers.

twisted, LocalStack's default, parses each request on its reactor thread, hands it to a thread pool
for the WSGI application, and hands every write and the finish back to the reactor, each hop a lock,
a queue and a wake-up of another thread, all of it under one GIL. Under a webhook flood that plumbing,
not AWS's logic, was a large share of the gateway's time (docs/performance.md). Here one loop
thread only accepts connections and waits, with a one-shot ``epoll`` watch, for the next request on each
idle one (an idle connection holds no thread, whatever a client leaves open); a worker of a bounded pool
(GATEWAY_WORKER_COUNT, as twisted's) then reads that request, runs the same WSGI adapter of rolo that
twisted drives (``WsgiGateway``, raw header names and their case kept), writes the answer itself (its
head and first part in one send) and arms the watch again. Every system call in a request's path lets go
of the GIL, and with requests in flight each is a hand-over to another thread and back: the path has as
few as it can (no wake-up of the loop between requests, timeouts kept by the kernel, not polled for).

What it speaks: HTTP/1.0 and 1.1, keep-alive (a connection idle for ``IDLE_TIMEOUT_S`` is closed),
pipelined requests, ``Expect: 100-continue``, chunked request bodies, answers of unknown length as
chunked (or, to an HTTP/1.0 client, ended by closing), and TLS on the same port when LocalStack hands it
a certificate (a TLS handshake is recognised by its first byte, as LocalStack's ``TLSMultiplexer``
does). No WebSockets: nothing the harness emulates uses them. Each listener binds exactly the host given
in GATEWAY_LISTEN. Selected with ``GATEWAY_SERVER=threaded-loopback``.
"""

from __future__ import annotations

import collections
import contextlib
import io
import logging
import os
import queue
import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from localstack import config
from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin
from rolo.gateway.wsgi import WsgiGateway

LOG = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 120.0
"""A kept-alive connection with no new request for this long is closed (clients reconnect)."""
READ_TIMEOUT_S = 60.0
"""How long a request that has begun may pause between its bytes."""
MAX_LINE = 65536
MAX_HEADERS = 200
RECEIVE = 65536
TLS_HANDSHAKE = 0x16
NO_BODY_STATUSES = frozenset({204, 304})
WATCH_ONCE = select.EPOLLIN | select.EPOLLONESHOT


class BadRequest(Exception):
    pass


class Closed(Exception):
    """The client closed the connection."""


class Connection:
    """A client connection and the bytes read from it but not yet used (the next request's, when pipelined)."""

    def __init__(self, sock: socket.socket, address: tuple, server: ThreadedGatewayServer) -> None:
        self.sock, self.address, self.server = sock, address, server
        self.buffer = bytearray()
        self.scheme = ""
        self.last_active = time.monotonic()

    # --- reading ---------------------------------------------------------------------------------

    def _fill(self) -> None:
        chunk = self.sock.recv(RECEIVE)
        if not chunk:
            raise Closed
        self.buffer += chunk

    def read_line(self) -> bytes:
        start = 0
        while (end := self.buffer.find(b"\n", start)) < 0:
            if len(self.buffer) > MAX_LINE:
                raise BadRequest("line too long")
            start = len(self.buffer)
            self._fill()
        line = bytes(self.buffer[: end + 1])
        del self.buffer[: end + 1]
        return line

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_chunked(self) -> bytes:
        """A chunked body, its trailers dropped."""
        parts = []
        while True:
            size = int(self.read_line().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.read_line() not in (b"\r\n", b"\n"):
                    pass
                return b"".join(parts)
            parts.append(self.read(size))
            self.read_line()  # the chunk's CRLF

    def has_more(self) -> bool:
        """A request's bytes already here (pipelined, or held by TLS): serve it without waiting for the socket."""
        pending = self.sock.pending() if isinstance(self.sock, ssl.SSLSocket) else 0
        return bool(self.buffer) or pending > 0

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    # --- serving ---------------------------------------------------------------------------------

    def serve(self) -> bool:
        """Serve the requests that are here; whether the connection stays open for more."""
        try:
            if not self.scheme:
                self._start()
            while True:
                if not self.serve_one():
                    return False
                if not self.has_more():
                    self.last_active = time.monotonic()
                    return True
        except (Closed, OSError, ssl.SSLError):
            return False  # the client went away, or stalled mid-request
        except BadRequest as error:
            with contextlib.suppress(OSError):
                self._write_simple(400, str(error))
            return False

    def _start(self) -> None:
        """Plain HTTP or TLS, told by the first byte, as LocalStack's multiplexer does."""
        first = self.sock.recv(1, socket.MSG_PEEK)
        if not first:
            raise Closed
        if self.server.tls is not None and first[0] == TLS_HANDSHAKE:
            self.sock = self.server.tls.wrap_socket(self.sock, server_side=True)
            self.scheme = "https"
        else:
            self.scheme = "http"

    def serve_one(self) -> bool:
        line = self.read_line()
        while line in (b"\r\n", b"\n"):  # tolerated between requests
            line = self.read_line()
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        except ValueError:
            raise BadRequest(f"malformed request line {line[:100]!r}") from None
        raw_headers = self._read_headers()
        environ = self._environ(method, target, version, raw_headers)
        keep_alive = _keeps_alive(version, environ.get("HTTP_CONNECTION", ""))
        if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = self.read_chunked()
            environ["CONTENT_LENGTH"] = str(len(body))
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = self.read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return self._respond(environ, method, version, keep_alive)

    def _read_headers(self) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        while True:
            line = self.read_line()
            if line in (b"\r\n", b"\n"):
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
        host, port = self.server.address[:2]
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
            "REMOTE_ADDR": self.address[0],
            "REMOTE_PORT": str(self.address[1]),
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

    def _respond(self, environ: dict, method: str, version: str, keep_alive: bool) -> bool:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return self.write

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
            if any(name.lower() == "connection" and value.lower() == "close" for name, value in headers):
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
            out = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
            if not bodiless:  # the head goes out with the first part: most answers are one send
                for part in body:
                    if part:
                        out += b"%x\r\n%s\r\n" % (len(part), part) if chunked else part
                        self.write(out)
                        out = b""
                if chunked:
                    out += b"0\r\n\r\n"
            if out:
                self.write(out)
        finally:
            if hasattr(body, "close"):
                body.close()
        return keep_alive

    def _write_simple(self, code: int, text: str) -> None:
        data = text.encode()
        reason = {400: "Bad Request", 500: "Internal Server Error"}[code]
        self.write(
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(data)}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + data
        )

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _keeps_alive(version: str, connection: str) -> bool:
    tokens = {token.strip().lower() for token in connection.split(",")}
    if version == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens


def _unquote_latin1(path: str) -> str:
    """PATH_INFO as WSGI servers give it: percent-decoded bytes, as latin-1 text."""
    return unquote_to_bytes(path).decode("latin-1") if "%" in path else path


class WorkerPool:
    """Threads, started as they are needed up to a bound and then kept, that run the work handed to them.

    What ``ThreadPoolExecutor`` does, less what a server handing over a connection per request pays for and
    never reads: a ``Future`` (and its ``Condition``) per hand-over, and, as LocalStack patches it, a walk
    over all of its threads on every one. Idle workers are counted in a deque, not a ``Semaphore``: its
    ``append`` and ``pop`` are each one step under the GIL, where a semaphore is a lock the loop thread
    and every worker take on each hand-over (and queue on, when the one holding it is switched out).
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self.max_workers, self.name = max_workers, name
        self.threads: list[threading.Thread] = []
        self._work: queue.SimpleQueue[tuple[Callable[[Any], None], Any] | None] = queue.SimpleQueue()
        self._idle: collections.deque[None] = collections.deque()  # a token per idle worker
        self._starting = threading.Lock()

    def submit(self, work: Callable[[Any], None], argument: Any) -> None:
        self._work.put((work, argument))
        try:
            self._idle.pop()  # one step under the GIL: no lock for the loop thread and the workers to share
            return  # a waiting worker takes it
        except IndexError:
            pass
        with self._starting:
            if len(self.threads) < self.max_workers:
                thread = threading.Thread(target=self._run, name=f"{self.name}_{len(self.threads)}", daemon=True)
                self.threads.append(thread)
                thread.start()

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            work, argument = item
            try:
                work(argument)
            except Exception:
                LOG.exception("a gateway worker failed")
            self._idle.append(None)

    def shutdown(self) -> None:
        for _ in self.threads:
            self._work.put(None)


class ThreadedGatewayServer:
    """One listening socket: a loop thread accepts and watches idle connections; workers serve requests.

    Each connection is watched with a one-shot ``epoll`` registration: when its next request arrives the
    loop hands it to a worker, and the worker that served it arms the watch again itself (one system call,
    the loop is not woken). A socket's read and write timeouts are the kernel's (``SO_RCVTIMEO``,
    ``SO_SNDTIMEO``), set once: Python's own timeout would poll before every read and write.
    """

    def __init__(
        self,
        address: tuple[str, int],
        application: Any,
        tls: ssl.SSLContext | None,
        workers: int | None = None,
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.listener = socket.create_server(address, family=family, backlog=1024, reuse_port=False)
        self.listener.setblocking(False)
        self.address = self.listener.getsockname()
        self.application, self.tls = application, tls
        self.pool = WorkerPool(workers or config.GATEWAY_WORKER_COUNT, "gateway")
        self.epoll = select.epoll()
        self.connections: dict[int, Connection] = {}
        """Open connections by descriptor; one being served is in ``busy`` too, and the idle sweep skips it."""
        self.busy: set[int] = set()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK)
        self._stopped = threading.Event()
        self._done = threading.Event()

    @property
    def server_address(self) -> tuple:
        return self.address

    def serve_forever(self) -> None:
        listener = self.listener.fileno()
        self.epoll.register(listener, select.EPOLLIN)
        self.epoll.register(self._wake, select.EPOLLIN)
        last_sweep = time.monotonic()
        try:
            while not self._stopped.is_set():
                for descriptor, _ in self.epoll.poll(1.0):
                    if descriptor == listener:
                        self._accept()
                    elif (connection := self.connections.get(descriptor)) is not None:
                        self.busy.add(descriptor)
                        self.pool.submit(self._serve, connection)
                if time.monotonic() - last_sweep > 1.0:
                    last_sweep = time.monotonic()
                    self._close_idle(last_sweep)
        finally:
            for descriptor in list(self.connections):
                self._forget(descriptor)
            self.epoll.close()
            self._done.set()

    def _accept(self) -> None:
        timeout = struct.pack("ll", int(READ_TIMEOUT_S), int(READ_TIMEOUT_S % 1 * 1_000_000))
        while True:
            try:
                sock, address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # out of descriptors for a moment: the backlog keeps the rest
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
            connection = Connection(sock, address, self)
            self.connections[sock.fileno()] = connection
            self.epoll.register(sock.fileno(), WATCH_ONCE)

    def _serve(self, connection: Connection) -> None:
        descriptor = connection.sock.fileno()
        if connection.serve() and not self._stopped.is_set():
            self.busy.discard(descriptor)
            try:
                self.epoll.modify(descriptor, WATCH_ONCE)
            except (ValueError, OSError):  # the server stopped meanwhile
                self._forget(descriptor)
        else:
            self._forget(descriptor)

    def _forget(self, descriptor: int) -> None:
        connection = self.connections.pop(descriptor, None)
        self.busy.discard(descriptor)
        with contextlib.suppress(ValueError, OSError):
            self.epoll.unregister(descriptor)
        if connection is not None:
            connection.close()

    def _close_idle(self, now: float) -> None:
        for descriptor, connection in list(self.connections.items()):
            if descriptor not in self.busy and now - connection.last_active > IDLE_TIMEOUT_S:
                self._forget(descriptor)

    def shutdown(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            os.eventfd_write(self._wake, 1)
        self._done.wait(5)

    def server_close(self) -> None:
        self.listener.close()
        os.close(self._wake)
        self.pool.shutdown()


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
            threading.Thread(target=server.serve_forever, name=f"gateway-{server.address[1]}", daemon=True).start()
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
