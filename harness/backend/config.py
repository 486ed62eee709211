"""Settings of the backend the pattern protects: which one, and its capacity."""

from __future__ import annotations

from dataclasses import dataclass

from harness.settings import SettingsGroup, option

BACKENDS = ("dynamodb", "postgres")
"""Every kind (``harness.backend.kinds`` maps each to its module); the first is the default."""
POSTGRES_RESERVED_CONNECTIONS = 3
"""Kept for superusers (the harness's own sampling), as RDS keeps some for rdsadmin: not the app's capacity."""


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

    @property
    def postgres_max_connections(self) -> int:
        """The server's max_connections: the application's capacity plus the superuser reserve."""
        return self.backend_max_connections + POSTGRES_RESERVED_CONNECTIONS
