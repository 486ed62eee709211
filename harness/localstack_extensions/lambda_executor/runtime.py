"""The Lambda Python runtime inside one execution environment (one OS process).

Started by the executor as ``python runtime.py REQUEST_FD RESPONSE_FD``; standard library only, so a
cold start costs an interpreter start plus the user's imports. Requests and results travel as
length-prefixed JSON frames over two inherited pipes — never through LocalStack's gateway.

Frames from the executor: ``{"invoke-id", "invoked-function-arn", "payload", "deadline-ms"}``.
Frames to the executor: first ``{"type": "ready", "init_ms"}`` or ``{"type": "init_error",
"error"}``, then one ``{"type": "result", "ok", "payload", "duration_ms", "max_memory_mb"}`` per
request. What the function prints goes to this process's stdout and stderr, unbuffered: a file the
executor reads after each result, so nothing printed is lost when the process is killed mid-invocation.
When the executor's process dies the request pipe reaches EOF and this process exits at once, even
mid-invocation.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.abc
import inspect
import json
import logging
import os
import queue
import resource
import select
import struct
import sys
import threading
import time
import traceback
from typing import Any

_HEADER = struct.Struct(">I")
PARENT_PID_VARIABLE = "HARNESS_LAMBDA_PARENT_PID"
"""Set in every function process, so a clean-up can find the processes of one LocalStack."""


# --- framing (shared with the executor, which imports these two functions) ---------------------------


def write_frame(fd: int, message: dict[str, Any]) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    data = memoryview(_HEADER.pack(len(body)) + body)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_frame(fd: int, deadline: float | None = None) -> dict[str, Any] | None:
    """One frame from ``fd``; None at EOF; TimeoutError when ``deadline`` (monotonic) passes first."""
    header = _read_exactly(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    body = _read_exactly(fd, length, deadline)
    if body is None:
        return None
    return json.loads(body)


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


# --- the runtime ----------------------------------------------------------------------------------


class LambdaContext:
    """The ``context`` argument, with the attributes AWS's Python runtime gives."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id = request["invoke-id"]
        self.invoked_function_arn = request["invoked-function-arn"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = request["deadline-ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _CurrentStdout(logging.StreamHandler):
    """Writes to whatever sys.stdout is now, so a function that replaces it gets its log records too."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def _configure_logging() -> _RequestIdFilter:
    request_filter = _RequestIdFilter()
    handler = _CurrentStdout()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime
    handler.terminator = ""
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _error(error_type: str, message: str, request_id: str = "", stack: list[str] | None = None) -> dict:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def _exception_error(exc: BaseException, request_id: str) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop this runtime's own frame
    return _error(type(exc).__name__, str(exc), request_id, traceback.format_list(frames))


def load_handler(spec: str) -> Any:
    """Resolve ``_HANDLER`` (``path/module.function``) the way AWS's runtime does, errors included."""
    module_path, _, function_name = spec.rpartition(".")
    if not module_path or not function_name:
        raise _InitError(_error("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack"))
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise _InitError(
            _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
        ) from exc
    except ImportError as exc:
        raise _InitError(
            _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
        ) from exc
    except Exception as exc:
        error = _exception_error(exc, "")
        raise _InitError(error) from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _InitError(
            _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
        )
    return handler


class _InitError(Exception):
    def __init__(self, error: dict) -> None:
        super().__init__(error["errorMessage"])
        self.error = error


def _max_memory_mb() -> int:
    """Peak resident memory of this process (VmHWM; ru_maxrss would count the forking parent too)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class _BundledBotocoreEndpoint(importlib.abc.MetaPathFinder):
    """Gives a botocore the function bundles, one too old to read AWS_ENDPOINT_URL, the stack's endpoint.

    AWS's Python runtimes provide a botocore that reads the variable; a bundled one from before that
    (without the ``ignore_configured_endpoint_urls`` setting) would go for AWS's own host names.
    Clients given an ``endpoint_url`` keep it.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "botocore.session":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            self._default_endpoint(module)

        spec.loader.exec_module = exec_module
        return spec

    def _default_endpoint(self, session_module: Any) -> None:
        settings = getattr(sys.modules.get("botocore.configprovider"), "BOTOCORE_DEFAUT_SESSION_VARIABLES", {})
        if "ignore_configured_endpoint_urls" in settings:
            return  # this botocore reads AWS_ENDPOINT_URL itself
        create_client = session_module.Session.create_client
        signature = inspect.signature(create_client)
        endpoint = self.endpoint

        @functools.wraps(create_client)
        def create_client_at_the_stack(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            if bound.arguments.get("endpoint_url") is None:
                bound.arguments["endpoint_url"] = endpoint
            return create_client(*bound.args, **bound.kwargs)

        session_module.Session.create_client = create_client_at_the_stack


def _flush() -> None:
    """Everything printed is in the log file before the result frame says the invocation ended."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()


def _exit_when_parent_dies(request_fd: int, requests: queue.Queue) -> None:
    """Read requests; EOF means the executor (or all of LocalStack) is gone: exit immediately."""
    try:
        while (request := read_frame(request_fd)) is not None:
            requests.put(request)
    finally:
        os._exit(0)


def serve(request_fd: int, response_fd: int) -> None:
    requests: queue.Queue = queue.Queue()
    threading.Thread(target=_exit_when_parent_dies, args=(request_fd, requests), name="lifeline", daemon=True).start()

    request_filter = _configure_logging()
    if endpoint := os.environ.get("AWS_ENDPOINT_URL"):
        sys.meta_path.insert(0, _BundledBotocoreEndpoint(endpoint))
    started = time.perf_counter()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except _InitError as exc:
        _flush()
        write_frame(response_fd, {"type": "init_error", "error": exc.error})
        return
    _flush()
    write_frame(response_fd, {"type": "ready", "init_ms": (time.perf_counter() - started) * 1000})

    while True:
        request = requests.get()
        request_id = request["invoke-id"]
        request_filter.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace-id") or ""
        began = time.perf_counter()
        try:
            result = handler(json.loads(request["payload"] or "null"), LambdaContext(request))
            try:
                payload, ok = json.dumps(result), True
            except (TypeError, ValueError) as exc:
                payload, ok = (
                    json.dumps(_error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id)),
                    False,
                )
        except Exception as exc:
            error = _exception_error(exc, request_id)
            print(f"[ERROR] {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
            payload, ok = json.dumps(error), False
        _flush()
        write_frame(
            response_fd,
            {
                "type": "result",
                "ok": ok,
                "payload": payload,
                "duration_ms": (time.perf_counter() - began) * 1000,
                "max_memory_mb": _max_memory_mb(),
            },
        )


def main() -> None:
    # Running as a script puts this folder first on sys.path; the user's modules must win instead.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    request_fd, response_fd = int(sys.argv[1]), int(sys.argv[2])
    serve(request_fd, response_fd)


if __name__ == "__main__":
    main()
