"""PostgreSQL inside the Compose `postgres` service: the embedded mode's server, in a container.

It listens on loopback and on the container's own interface (the Compose file publishes it on the host's
127.0.0.1 only), and writes its log into the bind-mounted folder the host reads refusals from.
Run as ``python -m harness.backend.container``; ends the server on SIGTERM (`docker stop`).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from harness.backend.config import BackendSettings
from harness.backend.postgres_server import ContainerPostgres, PostgresServer
from harness.network import LOOPBACK_HOST, own_addresses

HOME = Path("/var/lib/harness/postgres")
"""The container's own data folder (its file system: data goes when the container does)."""
LOG_DIR = Path("/var/log/harness-postgres")
"""Bind-mounted from the host's state folder (docker-compose.yml), where the harness counts refusals."""
STARTUP_TIMEOUT_S = 60.0


def main() -> None:
    backend = BackendSettings.from_env().replace(postgres_port=ContainerPostgres.CONTAINER_PORT)
    server = PostgresServer(
        HOME,
        backend,
        STARTUP_TIMEOUT_S,
        listen_hosts=[LOOPBACK_HOST, *own_addresses()],
        log_file=LOG_DIR / "postgres.log",
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # SystemExit: the finally below stops the server
    try:
        server.start(progress=lambda message: print(f"harness: {message}", file=sys.stderr, flush=True))
        print("harness: PostgreSQL is ready", file=sys.stderr, flush=True)
        assert server.process is not None
        sys.exit(server.process.wait())
    finally:
        server.stop()


if __name__ == "__main__":
    main()
