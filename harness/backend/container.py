"""PostgreSQL inside the Compose `postgres` service, and RDS Proxy inside `rds-proxy`: the embedded mode's
server and pooler, in containers.

Each listens on loopback and on the container's own interface (the Compose file publishes it on the host's
127.0.0.1 only), and writes its log into the bind-mounted folder the host reads refusals from.
Run as ``python -m harness.backend.container`` (PostgreSQL) or ``... container rds-proxy`` (the pooler, in
front of the ``postgres`` service); each ends on SIGTERM (`docker stop`).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.backend.config import BackendSettings
from harness.backend.pooler import ContainerPooler, Pooler
from harness.backend.postgres_server import ContainerPostgres, PostgresServer
from harness.network import LOOPBACK_HOST, own_addresses

HOME = Path("/var/lib/harness/postgres")
"""The container's own data folder (its file system: data goes when the container does)."""
LOG_DIR = Path("/var/log/harness-postgres")
"""Bind-mounted from the host's state folder (docker-compose.yml), where the harness counts refusals."""
STARTUP_TIMEOUT_S = 60.0
PROXY_HOME = Path("/var/lib/harness/rds-proxy")
PROXY_LOG_DIR = Path("/var/log/harness-rds-proxy")


def say(message: str) -> None:
    print(f"harness: {message}", file=sys.stderr, flush=True)


def serve(name: str, start: Callable[[], object], process: Callable[[], Any], stop: Callable[[], object]) -> None:
    """Start, say so, and run until the process ends or SIGTERM comes (SystemExit: the finally stops it)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        start()
        say(f"{name} is ready")
        sys.exit(process().wait())
    finally:
        stop()


def run_pooler() -> None:
    """pgbouncer in front of the ``postgres`` service, on the container's port; its log on the bind mount."""
    settings = BackendSettings.from_env().replace(proxy_port=ContainerPooler.CONTAINER_PORT)
    pooler = Pooler(
        PROXY_HOME,
        settings,
        STARTUP_TIMEOUT_S,
        listen_hosts=[LOOPBACK_HOST, *own_addresses()],
        database_host=ContainerPostgres.SERVICE,
        log_file=PROXY_LOG_DIR / "pgbouncer.log",
    )
    serve("RDS Proxy", lambda: pooler.start(ContainerPostgres.CONTAINER_PORT, say), lambda: pooler.process, pooler.stop)


def main() -> None:
    backend = BackendSettings.from_env().replace(postgres_port=ContainerPostgres.CONTAINER_PORT)
    server = PostgresServer(
        HOME,
        backend,
        STARTUP_TIMEOUT_S,
        listen_hosts=[LOOPBACK_HOST, *own_addresses()],
        log_file=LOG_DIR / "postgres.log",
    )
    serve("PostgreSQL", lambda: server.start(progress=say), lambda: server.process, server.stop)


if __name__ == "__main__":
    run_pooler() if sys.argv[1:] == [ContainerPooler.SERVICE] else main()
