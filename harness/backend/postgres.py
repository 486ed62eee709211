"""PostgreSQL, the RDS of the original pattern: a real server on 127.0.0.1, its data in the state folder.

The binaries come from PyPI's ``pgserver`` (PostgreSQL 16); the harness runs ``initdb`` and ``postgres``
itself, in a process group of its own, so `harness down` stops it and leaves nothing. As root (these
machines), PostgreSQL refuses to run, so the server runs as a system user ``pgserver`` (created once,
as pgserver does it). ``max_connections`` is the backend's capacity plus a superuser reserve: the
application role can hold ``HARNESS_BACKEND_MAX_CONNECTIONS`` connections, and the next one is refused
with SQLSTATE 53300 ("sorry, too many clients already"), which the server logs: that is how refusals
are counted from the backend's side.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from harness.backend.config import POSTGRES_RESERVED_CONNECTIONS, BackendSettings
from harness.exceptions import StackError, StartupError
from harness.polling import DeadlineExceeded, poll
from harness.processes import group_members, log_tail, signal_and_wait
from harness.settings import LOOPBACK_HOST
from harness.stack.config import StackSettings

DATABASE = "webhook"
APP_USER, APP_PASSWORD = "webhook", "webhook"
SUPERUSER, SUPERUSER_PASSWORD = "postgres", "postgres"
"""Dummy local credentials, like the AWS ones: the server listens on loopback only."""
SYSTEM_USER = "pgserver"
REFUSED_LOG_LINES = ("sorry, too many clients already", "remaining connection slots are reserved")
"""PostgreSQL's two wordings of SQLSTATE 53300, refused for capacity (the second while a superuser reserve is left)."""
COLUMNS = (
    ("id", "text PRIMARY KEY"),
    ("message", "text"),
    ("method", "text"),
    ("path", "text"),
    ("received_at_ms", "double precision"),
    ("written_at_ms", "double precision"),
    ("sqs_message_id", "text"),
    ("receive_count", "integer"),
    ("body_bytes", "integer"),
    ("body_sha256", "text"),
)


def binaries() -> Path:
    with warnings.catch_warnings():  # pgserver's import asks platformdirs for a runtime folder it never uses
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH  # PostgreSQL 16, shipped by the pgserver wheel

    return POSTGRES_BIN_PATH


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    database: str = DATABASE
    user: str = APP_USER
    password: str = APP_PASSWORD

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


def connect(port: int, host: str = LOOPBACK_HOST, superuser: bool = True, database: str = DATABASE, **kwargs: Any):
    import pg8000.native

    user, password = (SUPERUSER, SUPERUSER_PASSWORD) if superuser else (APP_USER, APP_PASSWORD)
    return pg8000.native.Connection(user, password=password, host=host, port=port, database=database, **kwargs)


class PostgresServer:
    """The server as a process of this machine (the embedded stack), or of a container (``listen_hosts``)."""

    def __init__(
        self,
        stack: StackSettings,
        backend: BackendSettings,
        listen_hosts: Sequence[str] = (LOOPBACK_HOST,),
        log_file: Path | None = None,
    ) -> None:
        self.stack, self.backend, self.listen_hosts = stack, backend, listen_hosts
        self.home = stack.state_path / "postgres"
        self.data = self.home / "data"
        self.log_file = log_file or self.home / "postgres.log"
        self.record_file = self.home / "server.json"
        self.process: subprocess.Popen | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self, progress: Callable[[str], None] = lambda _: None) -> Connection:
        """Start (or keep) the server with the configured capacity; the application's connection."""
        running = self.running_record()
        if running:
            if running["max_connections"] == self.backend.postgres_max_connections:
                return Connection(LOOPBACK_HOST, running["port"])
            progress(f"PostgreSQL: capacity changed to {self.backend.backend_max_connections} connections, restarting")
            self.stop()
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        run_as = self._system_user()
        if not (self.data / "PG_VERSION").is_file():
            progress("PostgreSQL: creating the database cluster (once) ...")
            self._initdb(run_as)
        progress(
            f"starting PostgreSQL 16 on {','.join(self.listen_hosts)}:{self.backend.postgres_port} "
            f"(capacity {self.backend.backend_max_connections} connections) ..."
        )
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                [
                    str(binaries() / "postgres"), "-D", str(self.data),
                    "-c", f"listen_addresses={','.join(self.listen_hosts)}", "-p", str(self.backend.postgres_port),
                    "-c", f"unix_socket_directories={self.home}",
                    "-c", f"max_connections={self.backend.postgres_max_connections}",
                    "-c", f"superuser_reserved_connections={POSTGRES_RESERVED_CONNECTIONS}",
                    "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, user=run_as,
            )  # fmt: skip
        self.process = process
        self.record_file.write_text(
            json.dumps(
                {"pid": process.pid, "port": self.backend.postgres_port,
                 "max_connections": self.backend.postgres_max_connections}
            )
        )  # fmt: skip
        try:
            poll(
                lambda: process.poll() is not None or self._answers(),
                timeout_s=self.stack.startup_timeout_s,
                what="PostgreSQL to accept connections",
            )
            if process.poll() is not None:
                raise StartupError(f"PostgreSQL exited with code {process.returncode}:\n{self.logs()}")
            self._create_database()
        except (DeadlineExceeded, StartupError):
            self.stop()
            raise StartupError(
                f"PostgreSQL did not start within {self.stack.startup_timeout_s:.0f}s on port "
                f"{self.backend.postgres_port} (taken? set HARNESS_POSTGRES_PORT); last lines of {self.log_file}:\n"
                f"{self.logs()}"
            ) from None
        return Connection(LOOPBACK_HOST, self.backend.postgres_port)

    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        # The system user must reach both its data and the binaries: a checkout (and so the venv) under a
        # 0700 folder, such as root's home or `mktemp -d`, is opened for traversal (o+rx), as pgserver does.
        ensure_prefix_permissions(self.home)
        ensure_prefix_permissions(binaries())
        for folder in {self.home, self.log_file.parent}:
            subprocess.run(["chown", "-R", SYSTEM_USER, str(folder)], check=True)
        return SYSTEM_USER

    def _initdb(self, run_as: str | None) -> None:
        password_file = self.home / "superuser-password"
        password_file.write_text(SUPERUSER_PASSWORD + "\n")
        if run_as:
            subprocess.run(["chown", run_as, str(password_file)], check=True)
        result = subprocess.run(
            [
                str(binaries() / "initdb"), "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={password_file}",
                "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--no-sync",
            ],
            capture_output=True, text=True, user=run_as,
        )  # fmt: skip
        password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            raise StartupError(f"initdb failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
        if any(host != LOOPBACK_HOST for host in self.listen_hosts):
            # In a container: Docker's port mapping and the Compose network connect from the container's own
            # subnets (never from elsewhere: the port is published on the host's loopback only).
            with open(self.data / "pg_hba.conf", "a") as rules:
                rules.write("host all all samenet scram-sha-256\n")

    def _answers(self) -> bool:
        try:
            connect(self.backend.postgres_port, database="postgres", timeout=2).close()
            return True
        except Exception:
            return False

    def _create_database(self) -> None:
        admin = connect(self.backend.postgres_port, database="postgres")
        try:
            if not admin.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=APP_USER):
                admin.run(f"CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}'")
            if not admin.run("SELECT 1 FROM pg_database WHERE datname = :name", name=DATABASE):
                admin.run(f"CREATE DATABASE {DATABASE} OWNER {APP_USER}")
        finally:
            admin.close()

    def stop(self, timeout_s: float = 15) -> int:
        """Stop the server (fast shutdown), then anything left of its process group; how many ended."""
        record = self._record()
        self.record_file.unlink(missing_ok=True)
        pid = record.get("pid")
        if not pid:
            return 0
        members = group_members(pid)
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown ends its children
        alive = psutil.wait_procs(members, timeout=timeout_s)[1]
        signal_and_wait(alive, signal.SIGKILL, 5)
        return len(members)

    # --- state -----------------------------------------------------------------------------------

    def _record(self) -> dict[str, Any]:
        try:
            return json.loads(self.record_file.read_text())
        except (OSError, ValueError):
            return {}

    def running_record(self) -> dict[str, Any] | None:
        record = self._record()
        pid = record.get("pid")
        with contextlib.suppress(psutil.Error):
            if (
                pid
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                and "postgres" in psutil.Process(pid).name()
            ):
                return record
        return None

    def logs(self, lines: int = 30) -> str:
        return log_tail(self.log_file, lines)

    def function_connection(self, port: int) -> Connection:
        """How the subscriber reaches the server: the functions run on this machine, like the harness."""
        return Connection(self.stack.endpoint_host, port)

    def refused_so_far(self) -> int:
        """Connections the server refused for capacity since its log began (the backend's own count)."""
        try:
            with open(self.log_file, errors="replace") as log:
                return sum(1 for line in log if any(refused in line for refused in REFUSED_LOG_LINES))
        except OSError:
            return 0


class ComposePostgres(PostgresServer):
    """The same server as the Compose `postgres` service (HARNESS_STACK=docker), published on 127.0.0.1.

    Its log is written into this machine's state folder (a bind mount), so refusals are counted from the
    server's own log exactly as in the embedded mode. The subscriber, inside the LocalStack container,
    reaches it by service name.
    """

    SERVICE = "postgres"
    CONTAINER_PORT = 5432

    def __init__(self, stack: StackSettings, backend: BackendSettings) -> None:
        # A folder of its own for the bind mount: the container's PostgreSQL user owns it.
        super().__init__(stack, backend, log_file=stack.state_path / "postgres-container" / "postgres.log")

    def _compose(self):
        from harness.stack.compose import ComposeStack

        return ComposeStack(self.stack)

    def environment(self) -> dict[str, str]:
        return {
            self.backend.env_name("backend_max_connections"): str(self.backend.backend_max_connections),
            self.backend.env_name("postgres_port"): str(self.backend.postgres_port),
            "HARNESS_POSTGRES_LOG_DIR": str(self.log_file.parent),
        }

    def start(self, progress: Callable[[str], None] = lambda _: None) -> Connection:
        """Start the service (recreated by Compose when its capacity or port changed)."""
        for folder in (self.home, self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        self._compose().start_services([self.SERVICE], progress, self.environment())
        try:
            poll(self._answers, timeout_s=self.stack.startup_timeout_s, what="PostgreSQL's container to answer")
        except DeadlineExceeded:
            raise StartupError(
                f"PostgreSQL's container did not accept connections on {LOOPBACK_HOST}:{self.backend.postgres_port} "
                f"within {self.stack.startup_timeout_s:.0f}s; its log:\n"
                f"{self._compose().logs(service=self.SERVICE)}"
            ) from None
        self.record_file.write_text(
            json.dumps({"kind": "docker", "port": self.backend.postgres_port,
                        "max_connections": self.backend.postgres_max_connections})
        )  # fmt: skip
        return Connection(LOOPBACK_HOST, self.backend.postgres_port)

    def running_record(self) -> dict[str, Any] | None:
        record = self._record()
        if record.get("kind") == "docker" and self._compose().containers(service=self.SERVICE):
            return record
        return None

    def stop(self, timeout_s: float = 15) -> int:
        self.record_file.unlink(missing_ok=True)
        running = len(self._compose().containers(service=self.SERVICE))
        self._compose().compose("rm", "--stop", "--force", self.SERVICE, timeout_s=timeout_s + 60)
        return running

    def function_connection(self, port: int) -> Connection:
        return Connection(self.SERVICE, self.CONTAINER_PORT)


def server_for(stack: StackSettings, backend: BackendSettings) -> PostgresServer:
    """The harness's PostgreSQL beside the stack that runs: a local process, or the Compose service."""
    from harness.stack import read_record

    kind = read_record(stack).get("kind") or stack.stack
    return ComposePostgres(stack, backend) if kind == "docker" else PostgresServer(stack, backend)


def ensure_table(port: int, table: str) -> bool:
    """The rows table (owned by the application role); True when it was created."""
    admin = connect(port)
    try:
        exists = admin.run("SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = :t", t=table)
        if exists:
            return False
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
        admin.run(f'CREATE TABLE "{table}" ({columns})')
        admin.run(f'ALTER TABLE "{table}" OWNER TO {APP_USER}')
        return True
    finally:
        admin.close()


def rows(port: int, table: str) -> list[dict[str, Any]]:
    admin = connect(port)
    try:
        result = admin.run(f'SELECT * FROM "{table}"')
        names = [column["name"] for column in admin.columns]
        return [dict(zip(names, row, strict=True)) for row in result]
    finally:
        admin.close()


def truncate(port: int, table: str) -> None:
    admin = connect(port)
    try:
        admin.run(f'TRUNCATE "{table}"')
    finally:
        admin.close()


class Probe:
    """The backend's view once a second: connections in use of its capacity, commits and refusals so far."""

    def __init__(self, server: PostgresServer, port: int) -> None:
        self.server, self.port = server, port
        self._connection = None

    def __call__(self) -> dict[str, float]:
        if self._connection is None:
            self._connection = connect(self.port)  # a superuser: it uses the reserve, not the app's capacity
        ((in_use,),) = self._connection.run(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = :user",
            user=APP_USER,
        )
        ((commits,),) = self._connection.run(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = :db", db=DATABASE
        )
        ((limit,),) = self._connection.run("SHOW max_connections")
        ((reserved,),) = self._connection.run("SHOW superuser_reserved_connections")
        return {
            "backend_in_use": in_use,
            "backend_capacity": int(limit) - int(reserved),
            "backend_commits": commits,
            "backend_refused": self.server.refused_so_far(),
        }

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None


@contextlib.contextmanager
def probing(server: PostgresServer, port: int) -> Iterator[Probe]:
    probe = Probe(server, port)
    try:
        yield probe
    finally:
        probe.close()


def require(server: PostgresServer) -> dict[str, Any]:
    record = server.running_record()
    if not record:
        raise StackError(
            "HARNESS_BACKEND=postgres, but no PostgreSQL of the harness runs; start it with `make up` "
            "(it starts PostgreSQL with LocalStack)"
        )
    return record


class Faults:
    """Faults in the server itself: an outage (the application's role may not connect, and its sessions are
    ended) and a share of inserts failing with a transient error (SQLSTATE 40001), from a trigger."""

    def __init__(self, port: int, table: str) -> None:
        self.port, self.table = port, table
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, outage: tuple[float, float] | None, error_rate: float) -> None:
        if error_rate:
            self._run(
                "CREATE OR REPLACE FUNCTION harness_fault() RETURNS trigger AS $$ BEGIN "
                f"IF random() < {float(error_rate)} THEN RAISE EXCEPTION 'injected transient backend error' "
                "USING ERRCODE = '40001'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                f'CREATE OR REPLACE TRIGGER harness_fault BEFORE INSERT ON "{self.table}" '
                "FOR EACH ROW EXECUTE FUNCTION harness_fault()",
            )
        if outage:
            self._thread = threading.Thread(target=self._outage, args=outage, name="postgres-outage", daemon=True)
            self._thread.start()

    def _outage(self, start: float, end: float) -> None:
        if self._stop.wait(max(0.0, start - time.time())):
            return
        self._run(
            f"ALTER ROLE {APP_USER} CONNECTION LIMIT 0",
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{APP_USER}'",
        )
        self._stop.wait(max(0.0, end - time.time()))
        self._run(f"ALTER ROLE {APP_USER} CONNECTION LIMIT -1")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._run(
            f"ALTER ROLE {APP_USER} CONNECTION LIMIT -1",
            f'DROP TRIGGER IF EXISTS harness_fault ON "{self.table}"',
            "DROP FUNCTION IF EXISTS harness_fault()",
        )

    def _run(self, *statements: str) -> None:
        admin = connect(self.port)
        try:
            for statement in statements:
                admin.run(statement)
        finally:
            admin.close()
