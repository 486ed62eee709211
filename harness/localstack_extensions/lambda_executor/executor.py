"""A LocalStack Lambda runtime executor that runs each execution environment as a local process.

LocalStack's own executor needs Docker and an init binary from GitHub. This one starts ``runtime.py``
with the interpreter LocalStack runs on (Python functions) or ``runtime.js`` with this machine's
``node`` (Node.js functions), and talks to it over two pipes: an invocation is one write and
one read, with no HTTP round trip through the (single, GIL-bound) gateway. LocalStack's assignment
service still decides how many environments exist and gives each one invocation at a time, so
reserved concurrency and throttling behave as stock.

AWS behaviour kept: the function timeout is enforced here (``Sandbox.Timedout``), a crashed process
yields ``Runtime.ExitError``, and either way the environment starts a fresh process on its next
invocation (a new cold start), as a Lambda sandbox is reset. What the function printed goes straight to
the environment's log file as it prints (its stdout and stderr), not through the result frame, so the lines
written before a timeout or a crash reach the log group as they do on AWS.

Crash fault: a function whose environment has ``HARNESS_FAULT_CRASH_AT_MS`` (epoch ms) has the process of
its first invocation from then on killed (SIGKILL) ``HARNESS_FAULT_CRASH_DELAY_MS`` into it, or, when it
finishes sooner, just before its result returns: its work may be half or wholly done and is never
acknowledged. Done here, outside the function, so it crashes any function's code, in any language.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import StatusErrorException
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
    PackageType,
)
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from ..contract import CRASH_AT_VARIABLE, CRASH_DELAY_VARIABLE
from ..metrics import LAMBDA_METRICS
from . import runtimes
from .runtime import PARENT_PID_VARIABLE, read_frame, write_frame

LOG = logging.getLogger(__name__)

RUNTIME_SCRIPT = Path(__file__).with_name("runtime.py")

# Variables of LocalStack's own process a function process may see (AWS gives a similar minimal set).
_INHERITED_VARIABLES = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
_STOP_GRACE_S = 1.0
_crashes_done: set[tuple[str, str]] = set()
_crashes_lock = threading.Lock()


def claim_crash(function_arn: str, env: dict[str, str], now_ms: float) -> float | None:
    """Seconds into this invocation to kill its process, for the one invocation the crash fault picks."""
    at = env.get(CRASH_AT_VARIABLE, "")
    try:
        if not at or now_ms < float(at):
            return None
        delay_s = float(env.get(CRASH_DELAY_VARIABLE) or 0) / 1000
    except ValueError:
        return None
    with _crashes_lock:
        if (function_arn, at) in _crashes_done:
            return None
        _crashes_done.add((function_arn, at))
    return delay_s


def _ended(logs: str) -> str:
    """The logs with a line break after the last line, so the runtime's own line starts a line."""
    return logs if not logs or logs.endswith("\n") else logs + "\n"


def _language(function_version: FunctionVersion) -> str:
    return runtimes.language(function_version.config.runtime)


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._request_fd: int | None = None
        self._response_fd: int | None = None
        self._env: dict[str, str] = {}
        self._init_ms: float | None = None
        self._init_logs = ""
        self._stopped = False
        self._log_file = Path(tempfile.gettempdir()) / "lambda-envs" / f"{id}.log"
        self._log_fd: int | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        self._env = self._process_environment(env_vars)
        self._spawn()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._kill()
        if self._log_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._log_fd)
            self._log_fd = None
        with contextlib.suppress(OSError):
            self._log_file.unlink()

    def _take_logs(self) -> str:
        """What the process wrote since the last call; the file is emptied (its writer appends)."""
        if self._log_fd is None:
            return ""
        chunks = []
        size = os.fstat(self._log_fd).st_size
        offset = 0
        while offset < size and (chunk := os.pread(self._log_fd, size - offset, offset)):
            chunks.append(chunk)
            offset += len(chunk)
        os.ftruncate(self._log_fd, 0)
        return b"".join(chunks).decode(errors="replace")

    def _spawn(self) -> None:
        """Start the process and wait for its init; raises StatusErrorException on init failure."""
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        if self._log_fd is None:
            self._log_fd = os.open(self._log_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            with open(self._log_file, "ab") as log:
                self._process = subprocess.Popen(
                    [*self._command(), str(request_read), str(response_write)],
                    pass_fds=(request_read, response_write),
                    env=self._env,
                    cwd=self._env["LAMBDA_TASK_ROOT"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        finally:
            os.close(request_read)
            os.close(response_write)
        self._request_fd, self._response_fd = request_write, response_read
        deadline = time.monotonic() + config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT
        try:
            frame = read_frame(self._response_fd, deadline)
        except TimeoutError:
            frame = None
        if frame is None or frame.get("type") != "ready":
            error = (frame or {}).get("error") or self._exit_error("", during_init=True)
            self._init_logs = self._take_logs()
            self._kill()
            raise StatusErrorException(error["errorMessage"], payload=json.dumps(error).encode())
        self._init_ms = frame["init_ms"]
        self._init_logs = self._take_logs()

    def _command(self) -> list[str]:
        if _language(self.function_version) == "nodejs":
            node = runtimes.node_binary() or "node"
            return [
                node,
                "--require",
                str(runtimes.NODE_AWS_ENDPOINT),
                "--import",
                str(runtimes.NODE_PATH_HOOKS),
                str(runtimes.NODE_RUNTIME_SCRIPT),
            ]
        return [sys.executable, "-s", str(RUNTIME_SCRIPT)]

    def _kill(self) -> None:
        process, self._process = self._process, None
        for fd in (self._request_fd, self._response_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._request_fd = self._response_fd = None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    # --- invocation --------------------------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        function = self.function_version.id
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException(f"execution environment {self.id} was stopped")
            if self._process is None:
                self._spawn()  # a previous invocation timed out or crashed: a fresh sandbox
            init_ms, self._init_ms = self._init_ms, None  # reported once, on the first invocation
            timeout_s = float(self.function_version.config.timeout)
            LAMBDA_METRICS.invocation_started(function.account, function.region, function.function_name)
            crash_after_s = claim_crash(self.function_version.qualified_arn, self._env, time.time() * 1000)
            killer = None
            if crash_after_s is not None:
                killer = threading.Timer(crash_after_s, self._process.kill)
                killer.start()
                LOG.warning("injected crash: %s's process is killed mid-invocation", function.function_name)
            try:
                frame = self._round_trip(payload, timeout_s)
            finally:
                LAMBDA_METRICS.invocation_finished(function.account, function.region, function.function_name)
            if killer is not None:
                killer.cancel()
                self._process.kill()  # finished before the timer: the result is lost all the same
                frame = None
            init_logs, self._init_logs = self._init_logs, ""
            if frame is TimeoutError:
                self._kill()
                return self._timed_out(request_id, timeout_s, init_ms, init_logs + self._take_logs())
            if frame is None:
                error = self._exit_error(request_id)
                self._kill()
                logs = _ended(init_logs + self._take_logs()) + error["errorMessage"] + "\n"
                return self._result(request_id, error, False, logs, None, 0.0, init_ms)
            logs = init_logs + self._take_logs()
        return self._result(
            request_id,
            frame["payload"],
            frame["ok"],
            logs,
            frame["max_memory_mb"],
            frame["duration_ms"],
            init_ms,
        )

    def _round_trip(self, payload: dict[str, str], timeout_s: float) -> dict | type[TimeoutError] | None:
        """Send the request and wait for its result: a frame, None (the process died) or TimeoutError."""
        started = time.monotonic()
        write_frame(self._request_fd, {**payload, "deadline-ms": time.time() * 1000 + timeout_s * 1000})
        try:
            return read_frame(self._response_fd, started + timeout_s)
        except TimeoutError:
            return TimeoutError

    def _timed_out(self, request_id: str, timeout_s: float, init_ms: float | None, logs: str) -> InvocationResult:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        message = f"{stamp} {request_id} Task timed out after {timeout_s:.2f} seconds"
        error = {"errorMessage": message, "errorType": "Sandbox.Timedout"}
        return self._result(
            request_id, error, False, _ended(logs) + message + "\n", None, timeout_s * 1000, init_ms, "timeout"
        )

    def _exit_error(self, request_id: str, during_init: bool = False) -> dict:
        process = self._process
        code = process.wait(_STOP_GRACE_S) if process is not None else None
        reason = f"signal: {signal.Signals(-code).name}" if code and code < 0 else f"exit status {code}"
        phase = "init" if during_init else "invoke"
        return {
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason} ({phase})",
            "errorType": "Runtime.ExitError",
        }

    def _result(
        self,
        request_id: str,
        payload: str | dict,
        ok: bool,
        logs: str,
        max_memory_mb: int | None,
        duration_ms: float,
        init_ms: float | None,
        status: str | None = None,
    ) -> InvocationResult:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        memory = self.function_version.config.memory_size
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory} MB\t"
            f"Max Memory Used: {max_memory_mb if max_memory_mb is not None else '-'} MB\t"
        )
        if init_ms is not None:
            report += f"Init Duration: {init_ms:.2f} ms\t"
        if status:
            report += f"Status: {status}"
        lines = (
            f"START RequestId: {request_id} Version: {self.function_version.id.qualifier}\n"
            f"{logs}END RequestId: {request_id}\n{report}\n"
        )
        return InvocationResult(request_id=request_id, payload=body.encode(), is_error=not ok, logs=lines)

    # --- environment ------------------------------------------------------------------------------

    def _process_environment(self, env_vars: dict[str, str]) -> dict[str, str]:
        code_dir = self.function_version.config.code.get_unzipped_code_location()
        layers = [layer.code.get_unzipped_code_location() for layer in self.function_version.config.layers or []]
        env = {key: os.environ[key] for key in _INHERITED_VARIABLES if key in os.environ}
        env.update({key: str(value) for key, value in env_vars.items()})
        runtime = self.function_version.config.runtime or ""
        env.update({"LAMBDA_TASK_ROOT": str(code_dir), PARENT_PID_VARIABLE: str(os.getpid())})
        # Set by AWS's runtimes themselves (LocalStack leaves a placeholder for them to replace).
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
        if _language(self.function_version) == "nodejs":
            # As on AWS: layers' node_modules, then the provided SDK, then the function's own folder.
            major = runtimes.runtime_major(runtime)
            folders = [str(root / f"nodejs/node{major}/node_modules") for root in layers]
            folders += [str(root / "nodejs/node_modules") for root in layers]
            folders += [str(runtimes.PROVIDED_NODE_MODULES), str(code_dir)]
            env["NODE_PATH"] = os.pathsep.join(folders)
        else:
            paths = [str(code_dir)]
            for root in layers:
                paths += [str(root / "python/lib/python3.11/site-packages"), str(root / "python")]
            env.update({"PYTHONPATH": os.pathsep.join(paths), "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
        return env

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        # Function processes share LocalStack's network namespace: the gateway's own listen address.
        host = config.GATEWAY_LISTEN[0].host
        return "127.0.0.1" if host in ("", "0.0.0.0") else host

    def get_runtime_endpoint(self) -> str:
        # Unused (results come back over a pipe), but part of the environment LocalStack builds.
        return f"pipe://{self.id}"

    def get_logs(self) -> str:
        # LocalStack asks after a failed start: what the init printed was already taken from the file.
        try:
            return self._init_logs + self._log_file.read_text(errors="replace")
        except OSError:
            return self._init_logs

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.package_type != PackageType.Zip:
            raise LambdaRuntimeException(
                "the local-process Lambda executor runs only zip-packaged functions; "
                "run image functions with the LocalStack-image variant of the Docker path "
                "(docker-compose.localstack-image.yml)"
            )
        runtime = function_version.config.runtime
        language = _language(function_version)
        if language not in ("python", "nodejs"):
            raise LambdaRuntimeException(
                f"the local-process Lambda executor runs Python and Node.js functions, not {runtime}; "
                "use the LocalStack-image variant of the Docker path (docker-compose.localstack-image.yml)"
            )
        if language == "nodejs":
            if runtimes.node_binary() is None:
                raise LambdaRuntimeException(
                    f"{runtime} needs Node.js on this machine, and no `node` is on the PATH: install Node.js 20 or "
                    "later (Debian: apt-get install nodejs npm), then `make venv` for the provided AWS SDK"
                )
            if note := runtimes.node_fidelity_note(runtime):
                LOG.warning("fidelity: %s (function %s)", note, function_version.id.function_name)
        function_version.config.code.prepare_for_execution()
        for layer in function_version.config.layers or []:
            layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return True
