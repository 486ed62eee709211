"""PostgreSQL, the RDS of the original pattern, as the backend: a real server whose capacity is its
connection limit. Its view of a run comes from the server itself, probed once a second (connections in
use, commits, and the connections it refused, SQLSTATE 53300, counted from its log); its faults are done
inside the server (the application's role locked out, a trigger failing inserts)."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Sequence
from typing import Any

from harness.backend.base import Backend, ClientFactory, Hosting, Probe, Progress
from harness.backend.config import BackendSettings
from harness.backend.pooler import running_pooler, stop_pooler
from harness.backend.postgres_server import APP_USER, DATABASE, PostgresServer, connect, require, server_for
from harness.evidence import BackendView
from harness.outputs import Outputs

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
"""The rows table: what the harness's subscriber writes (functions/subscriber/app.py)."""


class PostgresBackend(Backend):
    kind = "postgres"

    def __init__(self, settings: BackendSettings, hosting: Hosting, client: ClientFactory) -> None:
        super().__init__(settings, hosting, client)
        self.server = server_for(hosting, settings)

    @property
    def port(self) -> int:
        return self.settings.postgres_port

    def describe(self) -> str:
        return f"postgres on port {self.port} (capacity {self.settings.backend_max_connections} connections)"

    # --- its server -------------------------------------------------------------------------------

    def start(self, progress: Progress = lambda _: None) -> str | None:
        connection = self.server.start(progress=progress)
        return f"PostgreSQL is ready: {connection.url} (capacity {self.settings.backend_max_connections} connections)"

    @classmethod
    def running_servers(cls, hosting: Hosting) -> list[str]:
        record = server_for(hosting, BackendSettings.from_env(validate=False)).running_record()
        if not record:
            return []
        where = f"pid {record['pid']}" if record.get("pid") else "Compose service postgres"
        capacity = BackendSettings.capacity_of(record["max_connections"])
        return [f"PostgreSQL running ({where}) on 127.0.0.1:{record['port']}, capacity {capacity} connections"]

    @classmethod
    def stop_servers(cls, hosting: Hosting) -> list[str]:
        server = server_for(hosting, BackendSettings.from_env(validate=False))
        if not server.running_record():
            return []
        return [f"stopped PostgreSQL: {server.stop()} process(es)"]

    # --- deploying --------------------------------------------------------------------------------

    def ensure_table(self, table: str, changed: Progress) -> dict[str, str]:
        port = require(self.server)["port"]
        if ensure_table(port, table):
            changed(f"created PostgreSQL table {table}")
        connection = self.server.function_connection(port)
        return {
            "PGHOST": connection.host,
            "PGPORT": str(connection.port),
            "PGDATABASE": connection.database,
            "PGUSER": connection.user,
            "PGPASSWORD": connection.password,
        }

    @classmethod
    def as_deployed(
        cls, settings: BackendSettings, outputs: Outputs, hosting: Hosting, client: ClientFactory
    ) -> dict[str, Any]:
        """The recorded server's port and proxy, and the capacity the running server has, unless given."""
        changes: dict[str, Any] = {}
        if "backend_proxy" not in settings.given:
            changes["backend_proxy"] = outputs.backend_proxy
        pooler = running_pooler(hosting)
        if pooler and "proxy_port" not in settings.given:
            changes["proxy_port"] = pooler["port"]
        if "postgres_port" not in settings.given and outputs.backend_port:
            changes["postgres_port"] = outputs.backend_port
        running = server_for(hosting, settings).running_record()
        if running and "backend_max_connections" not in settings.given:
            changes["backend_max_connections"] = BackendSettings.capacity_of(running["max_connections"])
        return changes

    # --- a run ------------------------------------------------------------------------------------

    def rows(self, table: str) -> list[dict[str, Any]]:
        admin = connect(self.port)
        try:
            result = admin.run(f'SELECT * FROM "{table}"')
            names = [column["name"] for column in admin.columns]
            return [dict(zip(names, row, strict=True)) for row in result]
        finally:
            admin.close()

    def empty(self, table: str) -> None:
        _run(self.port, f'TRUNCATE "{table}"')

    def recreate(self, table: str) -> None:
        """Empty, and no pooler left holding the database's connections: every variant starts with all of them."""
        super().recreate(table)
        stop_pooler(self.hosting)

    def probe(self, table: str) -> Probe | None:
        return ServerProbe(self.server, self.port)

    def _faults(
        self, table: str, outage: tuple[float, float] | None, error_rate: float
    ) -> contextlib.AbstractContextManager[None]:
        return ServerFaults(self.port, table, outage, error_rate)

    def view(self, table: str, samples: Sequence[dict[str, Any]], since: float) -> BackendView:
        probed = [s for s in samples if "backend_in_use" in s]
        load = [(max(0.0, s["t"] - since), float(s["backend_in_use"])) for s in probed]
        refused, commits = [], []
        for before, after in itertools.pairwise(probed):
            t = max(0.0, after["t"] - since)
            refused.append((t, float(after["backend_refused"] - before["backend_refused"])))
            commits.append((t, float(after["backend_commits"] - before["backend_commits"])))
        errors = probed[-1]["backend_refused"] - probed[0]["backend_refused"] if probed else 0
        return BackendView(
            kind=self.kind,
            capacity=float(probed[-1]["backend_capacity"]) if probed else None,
            capacity_unit="connections",
            peak=max((value for _, value in load), default=0.0),
            errors=int(errors),
            load=load,
            refused=refused,
            throughput=commits,
            throughput_unit="commits / s",
            refusal="refused connections",
        )


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


def role_capacity(port: int) -> int:
    """The application's capacity on the server at ``port`` (from its max_connections)."""
    admin = connect(port)
    try:
        ((limit,),) = admin.run("SHOW max_connections")
        return BackendSettings.capacity_of(int(limit))
    finally:
        admin.close()


def _run(port: int, *statements: str) -> None:
    admin = connect(port)
    try:
        for statement in statements:
            admin.run(statement)
    finally:
        admin.close()


class ServerProbe:
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
        return {
            "backend_in_use": in_use,
            "backend_capacity": BackendSettings.capacity_of(int(limit)),
            "backend_commits": commits,
            "backend_refused": self.server.refused_so_far(),
        }

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None


class ServerFaults(contextlib.AbstractContextManager):
    """Faults in the server itself: an outage (the application's role may not connect, and its sessions are
    ended) and a share of inserts failing with a transient error (SQLSTATE 40001), from a trigger."""

    def __init__(self, port: int, table: str, outage: tuple[float, float] | None, error_rate: float) -> None:
        self.port, self.table, self.outage, self.error_rate = port, table, outage, error_rate
        self.capacity = role_capacity(port)
        """The application role's connection limit, given back when the outage ends."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> None:
        if self.error_rate:
            _run(
                self.port,
                "CREATE OR REPLACE FUNCTION harness_fault() RETURNS trigger AS $$ BEGIN "
                f"IF random() < {float(self.error_rate)} THEN RAISE EXCEPTION 'injected transient backend error' "
                "USING ERRCODE = '40001'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                f'CREATE OR REPLACE TRIGGER harness_fault BEFORE INSERT ON "{self.table}" '
                "FOR EACH ROW EXECUTE FUNCTION harness_fault()",
            )
        if self.outage:
            self._thread = threading.Thread(target=self._lock_out, args=self.outage, name="pg-outage", daemon=True)
            self._thread.start()

    def _lock_out(self, start: float, end: float) -> None:
        if self._stop.wait(max(0.0, start - time.time())):
            return
        _run(
            self.port,
            f"ALTER ROLE {APP_USER} CONNECTION LIMIT 0",
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{APP_USER}'",
        )
        self._stop.wait(max(0.0, end - time.time()))
        _run(self.port, f"ALTER ROLE {APP_USER} CONNECTION LIMIT {self.capacity}")

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        _run(
            self.port,
            f"ALTER ROLE {APP_USER} CONNECTION LIMIT {self.capacity}",
            f'DROP TRIGGER IF EXISTS harness_fault ON "{self.table}"',
            "DROP FUNCTION IF EXISTS harness_fault()",
        )
