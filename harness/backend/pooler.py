"""RDS Proxy's pooler: Debian's pgbouncer configured as an RDS Proxy target group, as a process of this machine
(``Pooler``) or as the Compose service ``rds-proxy`` (``ContainerPooler``: the same pooler in the project image).

``rds_proxy.py`` puts it in front of the PostgreSQL backend; this module runs it and reads it: its admin
console (``SHOW POOLS``) and its log (borrow timeouts, clients refused at its limit).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from harness.backend.base import Hosting, Progress
from harness.backend.config import BackendSettings
from harness.backend.postgres_server import (
    APP_PASSWORD,
    APP_USER,
    DATABASE,
    SUPERUSER,
    SUPERUSER_PASSWORD,
    ComposeService,
    Connection,
    connect,
    start_answering,
    system_user,
)
from harness.exceptions import StartupError
from harness.network import LOOPBACK_HOST
from harness.polling import DeadlineExceeded, poll
from harness.processes import group_members, live_record, log_tail, read_record, signal_and_wait

PROXY = "rds-proxy"
BORROW_TIMEOUT_LOG_LINE = "closing because: query_wait_timeout"
REFUSED_CLIENT_LOG_LINE = "no more connections allowed"
"""pgbouncer's wording for a client refused at ``max_client_conn`` (RDS Proxy: its client connection limit)."""
MAX_CLIENT_CONNECTIONS = 1000
SERVER_IDLE_TIMEOUT_S = 60
"""Idle database connections above the idle share are closed after this long (RDS Proxy: not documented)."""
INSTALL_HINT = (
    "install Debian's pgbouncer (`apt-get install pgbouncer`; `make venv` does it where apt is available), "
    "or set HARNESS_BACKEND_PROXY=none"
)


INSTALLED_AT = (Path("/usr/sbin/pgbouncer"), Path("/usr/bin/pgbouncer"))
"""Where Debian installs it (``/usr/sbin`` is not on every PATH)."""


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or next((str(path) for path in INSTALLED_AT if path.is_file()), None)
    if not found:
        raise StartupError(f"HARNESS_BACKEND_PROXY=rds-proxy needs pgbouncer, which is not installed: {INSTALL_HINT}")
    return found


class Pooler:
    """pgbouncer as a process of this machine, its files and the record of the running pooler in ``home``.

    ``listen_hosts`` and ``database_host``: loopback here; inside the Compose service, also the container's
    own interface, and the ``postgres`` service."""

    def __init__(
        self,
        home: Path,
        settings: BackendSettings,
        startup_timeout_s: float,
        listen_hosts: list[str] | None = None,
        database_host: str = LOOPBACK_HOST,
        log_file: Path | None = None,
    ) -> None:
        self.home, self.settings, self.startup_timeout_s = home, settings, startup_timeout_s
        self.listen_hosts, self.database_host = listen_hosts or [LOOPBACK_HOST], database_host
        self.config_file = home / "pgbouncer.ini"
        self.log_file = log_file or home / "pgbouncer.log"
        self.record_file = home / "proxy.json"
        self.process: subprocess.Popen | None = None

    def config(self, database_port: int) -> str:
        s = self.settings
        return "\n".join(
            [
                "[databases]",
                f"{DATABASE} = host={self.database_host} port={database_port} dbname={DATABASE}",
                "[pgbouncer]",
                f"listen_addr = {','.join(self.listen_hosts)}",
                f"listen_port = {s.proxy_port}",
                "unix_socket_dir =",
                "auth_type = scram-sha-256",
                f"auth_file = {self.home / 'userlist.txt'}",
                f"admin_users = {SUPERUSER}",
                "pool_mode = transaction",
                f"default_pool_size = {s.proxy_pool_size}",
                f"max_db_connections = {s.proxy_pool_size}",
                f"min_pool_size = {s.proxy_idle_pool_size}",
                "reserve_pool_size = 0",
                f"max_client_conn = {MAX_CLIENT_CONNECTIONS}",
                f"query_wait_timeout = {s.proxy_connection_borrow_timeout_s}",
                f"client_idle_timeout = {s.proxy_idle_client_timeout_s}",
                f"server_idle_timeout = {SERVER_IDLE_TIMEOUT_S}",
                f"logfile = {self.log_file}",
                "log_connections = 0",
                "ignore_startup_parameters = extra_float_digits",
                "",
            ]
        )

    def wanted(self, database_port: int) -> dict[str, Any]:
        return {"port": self.settings.proxy_port, "database_port": database_port, "config": self.config(database_port)}

    def start(self, database_port: int, progress: Progress = lambda _: None) -> Connection:
        """Start (or keep, when its configuration is unchanged) the pooler in front of ``database_port``."""
        wanted = self.wanted(database_port)
        running = self.running_record()
        if running and all(running.get(key) == value for key, value in wanted.items()):
            return Connection(LOOPBACK_HOST, self.settings.proxy_port)
        if running:
            progress("RDS Proxy: its configuration changed, restarting")
            self.stop()
        binary = pgbouncer_binary()
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(wanted["config"])
        (self.home / "userlist.txt").write_text(
            f'"{APP_USER}" "{APP_PASSWORD}"\n"{SUPERUSER}" "{SUPERUSER_PASSWORD}"\n'
        )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        run_as = system_user(*{self.home, self.log_file.parent})  # pgbouncer refuses to run as root
        s = self.settings
        progress(
            f"starting RDS Proxy (pgbouncer, transaction pooling) on {LOOPBACK_HOST}:{s.proxy_port}: "
            f"{s.proxy_pool_size} database connection(s), borrow timeout {s.proxy_connection_borrow_timeout_s}s ..."
        )
        process = self.process = subprocess.Popen(
            [binary, str(self.config_file)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, user=run_as,
        )  # fmt: skip
        self.record_file.write_text(json.dumps({"pid": process.pid, **wanted}))
        try:
            poll(
                lambda: process.poll() is not None or self._answers(),
                timeout_s=self.startup_timeout_s,
                what="RDS Proxy (pgbouncer) to accept connections",
            )
            if process.poll() is not None:
                raise StartupError(f"pgbouncer exited with code {process.returncode}")
        except (DeadlineExceeded, StartupError) as error:
            self.stop()
            raise StartupError(
                f"RDS Proxy (pgbouncer) did not start on port {s.proxy_port} ({error}; the port taken? set "
                f"HARNESS_PROXY_PORT); last lines of {self.log_file}:\n{self.logs()}"
            ) from None
        return Connection(LOOPBACK_HOST, s.proxy_port)

    def _answers(self) -> bool:
        try:
            self.admin(timeout=2).close()
            return True
        except Exception:
            return False

    def admin(self, **kwargs: Any):
        """pgbouncer's admin console (simple queries only: ``SHOW POOLS``, ``SHOW STATS``)."""
        return connect(self.settings.proxy_port, database="pgbouncer", **kwargs)

    def stop(self, timeout_s: float = 10) -> int:
        """Stop the pooler (SIGTERM: its immediate shutdown), then anything left of its group; how many ended."""
        record = read_record(self.record_file)
        self.record_file.unlink(missing_ok=True)
        pid = record.get("pid")
        if not pid:
            return 0
        members = group_members(pid)
        signal_and_wait(signal_and_wait(members, signal.SIGTERM, timeout_s), signal.SIGKILL, 5)
        return len(members)

    def running_record(self) -> dict[str, Any] | None:
        return live_record(self.record_file, "pgbouncer")

    def function_connection(self, database: Connection) -> Connection:
        """Where the functions reach the proxy: the database's host, the proxy's port."""
        return Connection(database.host, self.settings.proxy_port)

    def logs(self, lines: int = 30) -> str:
        return log_tail(self.log_file, lines)

    def counted(self) -> tuple[int, int]:
        """(borrow timeouts, clients refused at the connection limit) since its log began."""
        timeouts = refused = 0
        with contextlib.suppress(OSError), open(self.log_file, errors="replace") as log:
            for line in log:
                timeouts += BORROW_TIMEOUT_LOG_LINE in line
                refused += REFUSED_CLIENT_LOG_LINE in line
        return timeouts, refused


class ContainerPooler(ComposeService, Pooler):
    """The same pooler as the Compose service ``rds-proxy``, published on 127.0.0.1:``proxy_port``.

    Its log is written into this machine's state folder (a bind mount), so borrow timeouts are counted from
    it as in the embedded mode; the subscriber, inside the LocalStack container, reaches it by service name.
    """

    SERVICE = PROXY
    CONTAINER_PORT = 6432
    LOG_DIR_VARIABLE = "HARNESS_PROXY_LOG_DIR"
    """docker-compose.yml bind-mounts this host folder as the container's log folder."""
    SETTINGS = (
        "backend_max_connections", "proxy_port", "proxy_max_connections_percent",
        "proxy_max_idle_connections_percent", "proxy_connection_borrow_timeout_s", "proxy_idle_client_timeout_s",
    )  # fmt: skip

    def __init__(self, home: Path, settings: BackendSettings, startup_timeout_s: float, services: Any) -> None:
        super().__init__(
            home, settings, startup_timeout_s, log_file=home.parent / "rds-proxy-container" / "pgbouncer.log"
        )
        self.services = services

    def environment(self) -> dict[str, str]:
        return {self.settings.env_name(name): str(getattr(self.settings, name)) for name in self.SETTINGS} | {
            self.LOG_DIR_VARIABLE: str(self.log_file.parent)
        }

    def start(self, database_port: int, progress: Progress = lambda _: None) -> Connection:
        """Start the service (recreated by Compose when its settings changed)."""
        for folder in (self.home, self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        start_answering(
            self.services, self.SERVICE, self.environment(), self._answers, self.startup_timeout_s,
            f"RDS Proxy's container on {LOOPBACK_HOST}:{self.settings.proxy_port}", progress,
        )  # fmt: skip
        self.record_file.write_text(json.dumps({"kind": "docker", "port": self.settings.proxy_port}))
        return Connection(LOOPBACK_HOST, self.settings.proxy_port)

    def function_connection(self, database: Connection) -> Connection:
        return Connection(self.SERVICE, self.CONTAINER_PORT)


def pooler_for(hosting: Hosting, settings: BackendSettings) -> Pooler:
    """The pooler beside the stack: a process of this machine, or the stack's Compose service."""
    home = hosting.state_path / PROXY
    if hosting.services is not None:
        return ContainerPooler(home, settings, hosting.startup_timeout_s, hosting.services)
    return Pooler(home, settings, hosting.startup_timeout_s)


def running_pooler(hosting: Hosting) -> dict[str, Any] | None:
    return pooler_for(hosting, BackendSettings.from_env(validate=False)).running_record()


def stop_pooler(hosting: Hosting) -> list[str]:
    pooler = pooler_for(hosting, BackendSettings.from_env(validate=False))
    if not pooler.running_record():
        return []
    return [f"stopped RDS Proxy (pgbouncer): {pooler.stop()} process(es)"]
