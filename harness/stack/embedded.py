"""The embedded stack: LocalStack's Python runtime as a background process on this machine.

No Docker, no internet: the project's LocalStack extensions supply Lambda (local processes) and
DynamoDB (moto), and the gateway binds to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence

import psutil

from harness.backend.base import Hosting
from harness.exceptions import AlreadyRunningError, PortInUseError, StartupError
from harness.localstack_extensions.lambda_executor import runtimes
from harness.localstack_extensions.lambda_executor.runtime import PARENT_PID_VARIABLE
from harness.localstack_extensions.sqs_scaling.config import default_host_ceiling
from harness.network import LOOPBACK_HOST
from harness.processes import group_members, log_tail, signal_and_wait
from harness.resources import ensure_node_sdk
from harness.stack.base import StackStatus, is_healthy, read_record, record_path, wait_until_healthy, write_record
from harness.stack.config import GATEWAY_SERVERS, StackSettings

# Ambient variables that must not leak into LocalStack (or, through it, into functions).
_SCRUBBED_PREFIXES = ("AWS_", "LOCALSTACK_", "PROVIDER_OVERRIDE_", "LAMBDA_", "GATEWAY_")


def localstack_environment(
    settings: StackSettings, base: dict[str, str] | None = None, listen_hosts: Sequence[str] = (LOOPBACK_HOST,)
) -> dict[str, str]:
    """The environment that makes stock LocalStack 4.8.1 run offline, Docker-free and loopback-only.

    ``listen_hosts``: the interfaces the gateway binds; loopback first (function processes call it there).
    In a container, its own interface is added so that Docker can publish the port on the host's loopback.
    """
    base = dict(os.environ if base is None else base)
    env = {key: value for key, value in base.items() if not key.startswith(_SCRUBBED_PREFIXES)}
    state = settings.state_path
    listen = f"{LOOPBACK_HOST}:{settings.port}"
    env.update(settings.scaling_environment())
    env.update(
        {
            "GATEWAY_LISTEN": ",".join(f"{host}:{settings.port}" for host in listen_hosts),
            "LOCALSTACK_HOST": listen,
            "GATEWAY_SERVER": GATEWAY_SERVERS[settings.gateway_server],  # harness extension: binds the host only
            "LAMBDA_RUNTIME_EXECUTOR": "local-process",  # harness extension: no Docker
            "PROVIDER_OVERRIDE_DYNAMODB": "moto",  # harness extension: no Java, no download
            "PROVIDER_OVERRIDE_CLOUDWATCH": "buffered",  # harness extension: batched metric writes
            "PROVIDER_OVERRIDE_LAMBDA": "sqs_scaling",  # harness extension: SQS pollers scale as on AWS
            "PROVIDER_OVERRIDE_SQS": "faults",  # harness extension: a send outage on a queue, by its tag
            "LAMBDA_KEEPALIVE_MS": str(settings.lambda_keepalive_ms),
            # Offline: no analytics (its shutdown hook fails and keeps the process alive), no DNS
            # server on port 53, no certificate download.
            "DISABLE_EVENTS": "1",
            "DNS_ADDRESS": "0",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            # These machines carry /.dockerenv; LocalStack must not believe it runs in a container.
            "OVERRIDE_IN_DOCKER": "0",
            # URLs that resolve without DNS: http://127.0.0.1:PORT/queue/REGION/ACCOUNT/NAME.
            "SQS_ENDPOINT_STRATEGY": "path",
            # LocalStack's internal AWS calls skip the HTTP round trip through its own gateway.
            "IN_MEMORY_CLIENT": "1",
            # Stock SQS pollers sleep 1 s after every batch and back off to 10 s when idle; a webhook
            # row should appear within a second or two.
            "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0",
            "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "1",
            "LS_LOG": settings.localstack_log_level,
            # glibc gives each thread that allocates its own heap (up to 8 per core) and keeps what they
            # free: a long run's memory grew with the gateway's worker threads, not with what it held.
            "MALLOC_ARENA_MAX": base.get("MALLOC_ARENA_MAX", "2"),
            "FILESYSTEM_ROOT": str(state / "filesystem"),
            "TMPDIR": str(state / "tmp"),
        }
    )
    return env


class EmbeddedStack:
    kind = "embedded"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.state = settings.state_path
        self.record_file = record_path(settings)
        self.log_file = self.state / "localstack.log"
        self.healthy_after_s: float | None = None
        """How long the last start took until LocalStack's health endpoint answered (`make bench`)."""

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint_url

    @property
    def log_location(self) -> str:
        return str(self.log_file)

    def hosting(self) -> Hosting:
        """Servers run as processes of this machine, beside LocalStack, as the functions do."""
        return Hosting(self.settings.state_path, self.settings.startup_timeout_s, self.settings.endpoint_host)

    # --- start -----------------------------------------------------------------------------------

    def start(self, progress: Callable[[str], None] = lambda _: None) -> str:
        pid = self._running_pid()
        if pid is not None:
            raise AlreadyRunningError(
                f"LocalStack is already running (pid {pid}) at {self._recorded_endpoint() or self.endpoint}; "
                "use it as it is, or run `make down` first"
            )
        self._ensure_port_free()
        ensure_node_sdk(progress)
        started = time.monotonic()
        for folder in ("filesystem", "tmp"):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "localstack.runtime.main"],
                env=localstack_environment(self.settings),
                cwd=self.state,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `down` stops it and every child
            )
        write_record(self.settings, kind=self.kind, pid=process.pid, endpoint=self.endpoint)
        try:
            self._wait_healthy(process, progress)
            self.healthy_after_s = time.monotonic() - started
            self._warm_up(progress)
        except BaseException:
            self._terminate_group(process.pid)
            self.record_file.unlink(missing_ok=True)
            raise
        return self.endpoint

    def _ensure_port_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As the gateway itself binds: connections of a previous run in TIME_WAIT don't count.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((LOOPBACK_HOST, self.settings.port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                raise PortInUseError(
                    f"port {self.settings.port} on {LOOPBACK_HOST} is already in use by another program; "
                    f"stop it, or choose another port with HARNESS_PORT=<port>"
                ) from None

    def _wait_healthy(self, process: subprocess.Popen, progress: Callable[[str], None]) -> None:
        def healthy_or_exited() -> bool:
            if process.poll() is not None:
                raise StartupError(
                    f"LocalStack exited during start-up with code {process.returncode}; "
                    f"last lines of {self.log_file}:\n{self.logs()}"
                )
            return self.is_healthy()

        # A local process answers within a second; polling finely puts `make up` (and the bench's
        # start_to_healthy_s) within 50 ms of the moment it does, for a few cheap GETs more.
        wait_until_healthy(healthy_or_exited, self.settings, "LocalStack", self.logs, progress, interval_s=0.05)

    def _warm_up(self, progress: Callable[[str], None]) -> None:
        """Load the services the topology uses now, so the user's first call is not the slow one (a fresh
        state folder also makes LocalStack build its service-catalog cache, once)."""
        from harness import aws

        progress("loading Lambda, SQS and DynamoDB ...")
        aws.client("sqs", self.settings).list_queues()
        aws.client("dynamodb", self.settings).list_tables()
        aws.client("lambda", self.settings).list_functions()

    def is_healthy(self) -> bool:
        return is_healthy(self.endpoint)

    def logs(self, lines: int = 30) -> str:
        return log_tail(self.log_file, lines)

    # --- stop ------------------------------------------------------------------------------------

    def stop(self) -> int:
        """Stop LocalStack and every function process it started; returns how many processes ended."""
        pid = self._recorded_pid()
        ended = 0
        if pid is not None:
            ended += self._terminate_group(pid)
        ended += self._kill_orphaned_functions(pid)
        if self._recorded():  # never a record of another kind of stack
            self.record_file.unlink(missing_ok=True)
        return ended

    def _terminate_group(self, pid: int) -> int:
        """SIGTERM the process group (LocalStack plus its function processes), then SIGKILL stragglers."""
        members = group_members(pid)
        if not members:
            return 0
        alive = signal_and_wait(members, signal.SIGTERM, self.settings.stop_timeout_s)
        signal_and_wait(alive, signal.SIGKILL, 5)
        return len(members)

    def _kill_orphaned_functions(self, localstack_pid: int | None) -> int:
        """Function processes whose LocalStack is gone (they also exit by themselves on their own)."""
        orphans = list(self.function_processes(localstack_pid, only_orphans=localstack_pid is None))
        signal_and_wait(orphans, signal.SIGKILL, 5)
        return len(orphans)

    @staticmethod
    def function_processes(localstack_pid: int | None, only_orphans: bool = False) -> Iterator[psutil.Process]:
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                owner = process.environ().get(PARENT_PID_VARIABLE)
                if owner is None:
                    continue
                if only_orphans:
                    if not psutil.pid_exists(int(owner)):
                        yield process
                elif int(owner) == localstack_pid:
                    yield process

    # --- status ----------------------------------------------------------------------------------

    def status(self) -> StackStatus:
        pid = self._running_pid()
        ceiling = self.settings.max_concurrent_environments or default_host_ceiling()
        return StackStatus(
            kind=self.kind,
            running=pid is not None,
            healthy=pid is not None and self.is_healthy(),
            endpoint=self._recorded().get("endpoint") or self.endpoint,
            pid=pid,
            function_processes=sum(1 for _ in self.function_processes(pid)) if pid else 0,
            notes=[
                f"host ceiling: at most {ceiling} concurrent function processes (HARNESS_MAX_CONCURRENT_ENVIRONMENTS)",
                node_note(),
            ],
        )

    def _recorded(self) -> dict:
        record = read_record(self.settings)
        return record if record.get("kind") == self.kind else {}

    def _recorded_pid(self) -> int | None:
        return self._recorded().get("pid")

    def _recorded_endpoint(self) -> str | None:
        return self._recorded().get("endpoint")

    def _running_pid(self) -> int | None:
        pid = self._recorded_pid()
        if pid is None:
            return None
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE and "localstack" in " ".join(process.cmdline()):
                return pid
        except psutil.Error:
            pass
        return None


def node_note() -> str:
    """Which Node.js runs Node.js functions: a fidelity limit when its major differs from the runtime's."""
    major = runtimes.node_major()
    if major is None:
        return "no `node` on the PATH: Node.js functions fail to create (install Node.js 20 or later)"
    offered = ", ".join(runtimes.NODE_RUNTIMES)
    return f"Node.js functions ({offered}) run on this machine's Node.js {major}, whatever major their runtime names"
