"""RDS Proxy in front of the PostgreSQL backend: a real connection pooler between the subscriber and the database.

AWS's managed answer to the pattern's problem pools connections instead of throttling the consumer. Here it
is Debian's ``pgbouncer`` in transaction pool mode, configured as an RDS Proxy target group is:

- ``MaxConnectionsPercent`` of the database's capacity -> ``default_pool_size`` = ``max_db_connections``;
- ``MaxIdleConnectionsPercent`` -> ``min_pool_size`` (connections kept open while idle);
- ``ConnectionBorrowTimeout`` -> ``query_wait_timeout`` (a client that waits longer for a database connection
  is disconnected with an error);
- ``IdleClientTimeout`` -> ``client_idle_timeout``;
- a database connection goes back to the pool at the end of each transaction (``pool_mode = transaction``).

It does not detect what pins a session on RDS Proxy (SET, PREPARE, advisory locks, the extended query
protocol): pgbouncer multiplexes those sessions anyway. Its own view of a run (client and database
connections, clients waiting, as ``ClientConnections`` and ``DatabaseConnections`` of ``AWS/RDS``) comes from
its admin console; borrow timeouts and refused clients are counted from its log, as the database's refusals
are counted from PostgreSQL's.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from typing import Any

from harness.backend.base import Hosting, Probe, Progress
from harness.backend.config import BackendSettings
from harness.backend.pooler import PROXY, Pooler, pooler_for
from harness.backend.postgres import PostgresBackend, ServerProbe
from harness.backend.postgres_server import DATABASE, require
from harness.evidence import BackendView, ProxyView


class ProxiedPostgresBackend(PostgresBackend):
    """PostgreSQL behind RDS Proxy: the subscriber connects to the proxy's endpoint, the capacity stays the
    database's, and what the proxy refuses (borrow timeouts, clients over its limit) is the backend refusing."""

    proxy = PROXY

    def __init__(self, settings: BackendSettings, hosting: Hosting, client: Any) -> None:
        super().__init__(settings, hosting, client)
        self.pooler = pooler_for(hosting, settings)

    def describe(self) -> str:
        s = self.settings
        return (
            f"postgres on port {self.port} behind RDS Proxy on port {s.proxy_port} (capacity "
            f"{s.backend_max_connections} connections, the proxy may open {s.proxy_pool_size}, borrow timeout "
            f"{s.proxy_connection_borrow_timeout_s}s)"
        )

    def start(self, progress: Progress = lambda _: None) -> str | None:
        database = super().start(progress)
        connection = self.pooler.start(self.port, progress)
        pool = self.settings.proxy_pool_size
        return f"{database}\nRDS Proxy is ready: {connection.url} ({pool} database connection(s))"

    def ensure_table(self, table: str, changed: Progress) -> dict[str, str]:
        environment = super().ensure_table(table, changed)
        port = require(self.server)["port"]
        self.pooler.start(port, changed)  # kept as it runs, restarted when changed
        proxy = self.pooler.function_connection(self.server.function_connection(port))
        return environment | {"PGHOST": proxy.host, "PGPORT": str(proxy.port)}

    def recreate(self, table: str) -> None:
        """Empty, behind a pooler started afresh: every proxied variant starts from the same pool."""
        super().recreate(table)
        self.pooler.start(require(self.server)["port"])

    def probe(self, table: str) -> Probe | None:
        return ProxiedProbe(ServerProbe(self.server, self.port), self.pooler)

    def view(self, table: str, samples: Sequence[dict[str, Any]], since: float) -> BackendView:
        database = super().view(table, samples, since)
        probed = [s for s in samples if "proxy_client_connections" in s]

        def series(key: str) -> list[tuple[float, float]]:
            return [(max(0.0, s["t"] - since), float(s[key])) for s in probed]

        def grew(key: str) -> int:
            return int(probed[-1][key] - probed[0][key]) if probed else 0

        failed = ("proxy_borrow_timeouts", "proxy_refused_clients")
        refused = [
            (max(0.0, after["t"] - since), float(sum(after[key] - before[key] for key in failed)))
            for before, after in itertools.pairwise(probed)
        ]

        proxy = ProxyView(
            client_connections=series("proxy_client_connections"),
            database_connections=series("proxy_database_connections"),
            clients_waiting=series("proxy_clients_waiting"),
            borrow_timeouts=grew("proxy_borrow_timeouts"),
            refused_clients=grew("proxy_refused_clients"),
            pool_size=self.settings.proxy_pool_size,
            borrow_timeout_s=self.settings.proxy_connection_borrow_timeout_s,
            refused=refused,
        )
        return database.behind(proxy)


class ProxiedProbe:
    """The database's own view, and the proxy's from its admin console, in one sample a second."""

    def __init__(self, database: ServerProbe, pooler: Pooler) -> None:
        self.database, self.pooler = database, pooler
        self._admin = None

    def __call__(self) -> dict[str, float]:
        sample = self.database()
        if self._admin is None:
            self._admin = self.pooler.admin(timeout=5)
        pools = self._admin.run("SHOW POOLS")
        names = [column["name"] for column in self._admin.columns]
        clients = waiting = servers = 0
        for row in pools:
            pool = dict(zip(names, row, strict=True))
            if pool["database"] != DATABASE:
                continue
            clients += pool["cl_active"] + pool["cl_waiting"]
            waiting += pool["cl_waiting"]
            servers += sum(pool[key] for key in ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"))
        timeouts, refused = self.pooler.counted()
        return sample | {
            "proxy_client_connections": clients,
            "proxy_database_connections": servers,
            "proxy_clients_waiting": waiting,
            "proxy_borrow_timeouts": timeouts,
            "proxy_refused_clients": refused,
        }

    def close(self) -> None:
        self.database.close()
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
