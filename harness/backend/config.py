"""Settings of the backend the pattern protects: which one, and its capacity."""

from __future__ import annotations

from dataclasses import dataclass

from harness.settings import SettingsGroup, option

BACKENDS = ("dynamodb", "postgres")
"""Every kind (``harness.backend.kinds`` maps each to its module); the first is the default."""
PROXIES = ("none", "rds-proxy")
"""What may stand between the subscriber and PostgreSQL: nothing, or RDS Proxy (``harness.backend.rds_proxy``)."""
POSTGRES_RESERVED_CONNECTIONS = 3
"""Kept for superusers, as RDS keeps some for rdsadmin: not the app's capacity."""
POSTGRES_HARNESS_SESSIONS = 3
"""Slots for the harness's own sessions (its probe, its faults): PostgreSQL counts a superuser's session
against the general slots first, so without these the probe would take one of the application's."""


@dataclass(frozen=True)
class BackendSettings(SettingsGroup):
    title = "backend"

    backend: str = option(
        BACKENDS[0],
        "the scale-limited backend: dynamodb (the reference stack's table) or postgres (the RDS of the original "
        "pattern, a real PostgreSQL 16 server on 127.0.0.1)",
        choices=BACKENDS,
    )
    table_billing_mode: str = option(
        "PAY_PER_REQUEST",
        "dynamodb: billing mode, PROVISIONED (held to its capacity units, like the reference stack's 5/5) or "
        "PAY_PER_REQUEST (on demand, nothing to exceed)",
        choices=("PROVISIONED", "PAY_PER_REQUEST"),
    )
    table_read_capacity: int = option(5, "dynamodb: read capacity units of a PROVISIONED table (CDK default 5)", low=1,
                                      high=40_000)  # fmt: skip
    table_write_capacity: int = option(
        5, "dynamodb: write capacity units of a PROVISIONED table (CDK default 5; 1 WCU = one 1 KB write/s)", low=1,
        high=40_000,
    )  # fmt: skip
    backend_max_connections: int = option(
        10,
        "postgres: connections the application may hold, its capacity (RDS derives max_connections from memory; "
        "10 is small enough for a burst here to exceed)",
        low=1,
        high=5000,
    )
    postgres_port: int = option(5433, "postgres: TCP port of the server on 127.0.0.1", low=1, high=65535)

    backend_proxy: str = option(
        PROXIES[0],
        "postgres: rds-proxy puts RDS Proxy (a real connection pooler, Debian's pgbouncer in transaction mode) "
        "between the subscriber and PostgreSQL; none: the subscriber connects to the database itself",
        choices=PROXIES,
    )
    proxy_port: int = option(6433, "rds-proxy: TCP port of the proxy's endpoint on 127.0.0.1", low=1, high=65535)
    proxy_max_connections_percent: int = option(
        100, "rds-proxy: MaxConnectionsPercent, the share of the database's capacity the proxy may open", low=1,
        high=100,
    )  # fmt: skip
    proxy_max_idle_connections_percent: int = option(
        50, "rds-proxy: MaxIdleConnectionsPercent, the share of the database's capacity kept open while idle",
        low=0, high=100,
    )  # fmt: skip
    proxy_connection_borrow_timeout_s: int = option(
        120, "rds-proxy: ConnectionBorrowTimeout, how long a client waits for a database connection before it "
        "gets an error", low=1, high=3600,
    )  # fmt: skip
    proxy_idle_client_timeout_s: int = option(
        1800, "rds-proxy: IdleClientTimeout, how long an idle client connection is kept before the proxy closes it",
        low=1, high=28_800,
    )  # fmt: skip

    def problems(self) -> list[str]:
        if self.backend_proxy != "none" and self.backend != "postgres":
            return [
                f"backend_proxy={self.backend_proxy}: RDS Proxy pools PostgreSQL connections, and the backend is "
                f"{self.backend}; set HARNESS_BACKEND=postgres too, or HARNESS_BACKEND_PROXY=none"
            ]
        if self.backend_proxy != "none" and self.proxy_port == self.postgres_port:
            return [f"proxy_port={self.proxy_port} is PostgreSQL's port too: give the proxy a port of its own"]
        return []

    @property
    def proxy_pool_size(self) -> int:
        """The database connections the proxy may hold: MaxConnectionsPercent of the application's capacity."""
        return max(1, self.backend_max_connections * self.proxy_max_connections_percent // 100)

    @property
    def proxy_idle_pool_size(self) -> int:
        return min(self.proxy_pool_size, self.backend_max_connections * self.proxy_max_idle_connections_percent // 100)

    @staticmethod
    def capacity_of(max_connections: int) -> int:
        """The application's capacity of a server started with ``max_connections``."""
        return max_connections - POSTGRES_HARNESS_SESSIONS - POSTGRES_RESERVED_CONNECTIONS

    @property
    def postgres_max_connections(self) -> int:
        """The server's max_connections: the application's capacity (also its role's connection limit, so it
        is exact whatever else connects), the harness's sessions and the superuser reserve."""
        return self.backend_max_connections + POSTGRES_HARNESS_SESSIONS + POSTGRES_RESERVED_CONNECTIONS
