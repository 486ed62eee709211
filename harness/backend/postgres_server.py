"""The PostgreSQL server the postgres backend runs: a real server on 127.0.0.1, its data in the state folder.

The binaries come from PyPI's ``pgserver`` (PostgreSQL 16); the harness runs ``initdb`` and ``postgres``
itself, in a process group of its own, so `harness down` stops it and leaves nothing. As root (these
machines), PostgreSQL refuses to run, so the server runs as a system user ``pgserver`` (created once,
as pgserver does it). ``max_connections`` is the backend's capacity plus slots for the harness's own
sessions and a superuser reserve; the application role's connection limit is the capacity: it can hold
``HARNESS_BACKEND_MAX_CONNECTIONS`` connections, and the next one is refused with SQLSTATE 53300 ("too many
connections for role"), which the server logs: that is how refusals
are counted from the backend's side. On the Docker path the same server runs as the Compose service
``postgres`` (``ContainerPostgres``), started through the stack's ``Services``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import psutil

from harness.backend.base import Hosting, Progress, Services
from harness.backend.config import POSTGRES_RESERVED_CONNECTIONS, BackendSettings
from harness.exceptions import StackError, StartupError
from harness.network import LOOPBACK_HOST
from harness.polling import DeadlineExceeded, poll
from harness.processes import group_members, live_record, log_tail, read_record, signal_and_wait

DATABASE = "webhook"
APP_USER, APP_PASSWORD = "webhook", "webhook"
SUPERUSER, SUPERUSER_PASSWORD = "postgres", "postgres"
"""Dummy local credentials, like the AWS ones: the server listens on loopback only."""
SYSTEM_USER = "pgserver"
REFUSED_LOG_LINES = (
    f'too many connections for role "{APP_USER}"',
    "sorry, too many clients already",
    "remaining connection slots are reserved",
)
"""PostgreSQL's wordings of SQLSTATE 53300, refused for capacity: the application role at its limit (the
capacity), the server full, and the server full but for the superuser reserve."""


def binaries() -> Path:
    with warnings.catch_warnings():  # pgserver's import asks platformdirs for a runtime folder it never uses
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH  # PostgreSQL 16, shipped by the pgserver wheel

    return POSTGRES_BIN_PATH


def system_user(*folders: Path) -> str | None:
    """The user PostgreSQL (and its pooler) runs as: as root, a system user that owns ``folders``; else None."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():  # as in binaries(): pgserver's import asks for an unused runtime folder
        warnings.simplefilter("ignore")
        from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    # The system user must reach both its data and the binaries: a checkout (and so the venv) under a
    # 0700 folder, such as root's home or `mktemp -d`, is opened for traversal (o+rx), as pgserver does.
    for folder in folders:
        ensure_prefix_permissions(folder)
    ensure_prefix_permissions(binaries())
    for folder in set(folders):
        subprocess.run(["chown", "-R", SYSTEM_USER, str(folder)], check=True)
    return SYSTEM_USER


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
    """The server as a process of this machine (the embedded stack), or inside a container (``listen_hosts``).

    ``home`` holds its data, its log and the record of the running server (``server.json``).
    """

    def __init__(
        self,
        home: Path,
        backend: BackendSettings,
        startup_timeout_s: float,
        functions_host: str = LOOPBACK_HOST,
        listen_hosts: Sequence[str] = (LOOPBACK_HOST,),
        log_file: Path | None = None,
    ) -> None:
        self.backend, self.listen_hosts, self.startup_timeout_s = backend, listen_hosts, startup_timeout_s
        self.functions_host = functions_host
        self.home = home
        self.data = self.home / "data"
        self.log_file = log_file or self.home / "postgres.log"
        self.record_file = self.home / "server.json"
        self.process: subprocess.Popen | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self, progress: Progress = lambda _: None) -> Connection:
        """Start (or keep) the server with the configured capacity; the application's connection."""
        running = self.running_record()
        if running:
            if running["max_connections"] == self.backend.postgres_max_connections:
                return Connection(LOOPBACK_HOST, running["port"])
            progress(f"PostgreSQL: capacity changed to {self.backend.backend_max_connections} connections, restarting")
            self.stop()
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        run_as = system_user(self.home, self.log_file.parent)
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
                timeout_s=self.startup_timeout_s,
                what="PostgreSQL to accept connections",
            )
            if process.poll() is not None:
                raise StartupError(f"PostgreSQL exited with code {process.returncode}:\n{self.logs()}")
            self._create_database()
        except (DeadlineExceeded, StartupError):
            self.stop()
            raise StartupError(
                f"PostgreSQL did not start within {self.startup_timeout_s:.0f}s on port "
                f"{self.backend.postgres_port} (taken? set HARNESS_POSTGRES_PORT); last lines of {self.log_file}:\n"
                f"{self.logs()}"
            ) from None
        return Connection(LOOPBACK_HOST, self.backend.postgres_port)

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
            admin.run(f"ALTER ROLE {APP_USER} CONNECTION LIMIT {self.backend.backend_max_connections}")
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
        return read_record(self.record_file)

    def running_record(self) -> dict[str, Any] | None:
        return live_record(self.record_file, "postgres")

    def logs(self, lines: int = 30) -> str:
        return log_tail(self.log_file, lines)

    def function_connection(self, port: int) -> Connection:
        """How the subscriber reaches the server: the functions run on this machine, like the harness."""
        return Connection(self.functions_host, port)

    def refused_so_far(self) -> int:
        """Connections the server refused for capacity since its log began (the backend's own count)."""
        try:
            with open(self.log_file, errors="replace") as log:
                return sum(1 for line in log if any(refused in line for refused in REFUSED_LOG_LINES))
        except OSError:
            return 0


class ComposeService:
    """A server run as a Compose service: its record says so, and the engine says whether it still runs."""

    SERVICE: ClassVar[str]
    services: Services
    record_file: Path

    def running_record(self) -> dict[str, Any] | None:
        record = read_record(self.record_file)
        if record.get("kind") == "docker" and self.services.service_running(self.SERVICE):
            return record
        return None

    def stop(self, timeout_s: float = 15) -> int:
        self.record_file.unlink(missing_ok=True)
        return self.services.remove_service(self.SERVICE, timeout_s)


class ContainerPostgres(ComposeService, PostgresServer):
    """The same server as the Compose service ``postgres`` (the Docker path), published on 127.0.0.1.

    Its log is written into this machine's state folder (a bind mount), so refusals are counted from the
    server's own log exactly as in the embedded mode. The subscriber, inside the LocalStack container,
    reaches it by service name.
    """

    SERVICE = "postgres"
    CONTAINER_PORT = 5432
    LOG_DIR_VARIABLE = "HARNESS_POSTGRES_LOG_DIR"
    """docker-compose.yml bind-mounts this host folder as the container's log folder."""

    def __init__(self, home: Path, backend: BackendSettings, startup_timeout_s: float, services: Services) -> None:
        # A folder of its own for the bind mount: the container's PostgreSQL user owns it.
        log_file = home.parent / "postgres-container" / "postgres.log"
        super().__init__(home, backend, startup_timeout_s, log_file=log_file)
        self.services = services

    def environment(self) -> dict[str, str]:
        return {
            self.backend.env_name("backend_max_connections"): str(self.backend.backend_max_connections),
            self.backend.env_name("postgres_port"): str(self.backend.postgres_port),
            self.LOG_DIR_VARIABLE: str(self.log_file.parent),
        }

    def start(self, progress: Progress = lambda _: None) -> Connection:
        """Start the service (recreated by Compose when its capacity or port changed)."""
        for folder in (self.home, self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        start_answering(
            self.services, self.SERVICE, self.environment(), self._answers, self.startup_timeout_s,
            f"PostgreSQL's container on {LOOPBACK_HOST}:{self.backend.postgres_port}", progress,
        )  # fmt: skip
        self.record_file.write_text(
            json.dumps({"kind": "docker", "port": self.backend.postgres_port,
                        "max_connections": self.backend.postgres_max_connections})
        )  # fmt: skip
        return Connection(LOOPBACK_HOST, self.backend.postgres_port)

    def function_connection(self, port: int) -> Connection:
        return Connection(self.SERVICE, self.CONTAINER_PORT)


def start_answering(
    services: Services,
    service: str,
    environment: dict[str, str],
    answers: Callable[[], bool],
    timeout_s: float,
    what: str,
    progress: Progress,
) -> None:
    """Start a Compose service and wait until it accepts connections; its log in the error when it does not."""
    services.start_service(service, environment, progress)
    try:
        poll(answers, timeout_s=timeout_s, what=f"{what} to answer")
    except DeadlineExceeded:
        raise StartupError(
            f"{what} did not accept connections within {timeout_s:.0f}s; its log:\n{services.service_logs(service)}"
        ) from None


def server_for(hosting: Hosting, backend: BackendSettings) -> PostgresServer:
    """The harness's PostgreSQL beside the stack: a process of this machine, or the stack's Compose service."""
    home = hosting.state_path / "postgres"
    if hosting.services is not None:
        return ContainerPostgres(home, backend, hosting.startup_timeout_s, hosting.services)
    return PostgresServer(home, backend, hosting.startup_timeout_s, functions_host=hosting.functions_host)


def require(server: PostgresServer) -> dict[str, Any]:
    record = server.running_record()
    if not record:
        raise StackError(
            "HARNESS_BACKEND=postgres, but no PostgreSQL of the harness runs; start it with `make up` "
            "(it starts PostgreSQL with LocalStack)"
        )
    return record
