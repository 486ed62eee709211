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
from harness.backend.postgres import ComposePostgres, PostgresServer
from harness.settings import LOOPBACK_HOST
from harness.stack.config import StackSettings
from harness.stack.container import own_addresses

LOG_DIR = Path("/var/log/harness-postgres")


def main() -> None:
    stack = StackSettings.from_env()
    backend = BackendSettings.from_env().replace(postgres_port=ComposePostgres.CONTAINER_PORT)
    server = PostgresServer(
        stack, backend, listen_hosts=[LOOPBACK_HOST, *own_addresses()], log_file=LOG_DIR / "postgres.log"
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
