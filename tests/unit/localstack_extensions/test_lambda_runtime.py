"""The function-process runtime, driven over its pipes exactly as the executor drives it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.localstack_extensions.lambda_executor import runtime
from harness.localstack_extensions.lambda_executor.runtime import read_frame, write_frame


class RuntimeProcess:
    """One runtime.py process with a handler module written to ``code_dir``; its output in a file, as the
    executor gives it, read with ``logs()``."""

    def __init__(self, code_dir: Path, handler: str) -> None:
        self.log_file = code_dir / "environment.log"
        request_read, self.request_fd = os.pipe()
        self.response_fd, response_write = os.pipe()
        env = {
            "PATH": os.environ["PATH"],
            "_HANDLER": handler,
            "PYTHONPATH": str(code_dir),
            "AWS_LAMBDA_FUNCTION_NAME": "unit",
            "PYTHONUNBUFFERED": "1",
        }
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-s", runtime.__file__, str(request_read), str(response_write)],
                pass_fds=(request_read, response_write),
                env=env,
                cwd=code_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        os.close(request_read)
        os.close(response_write)
        self.first = read_frame(self.response_fd, time.monotonic() + 20)

    def invoke(self, event: object, timeout_s: float = 20) -> dict:
        write_frame(
            self.request_fd,
            {
                "invoke-id": "req-1",
                "invoked-function-arn": "arn:aws:lambda:us-east-1:000000000000:function:unit",
                "payload": json.dumps(event),
                "deadline-ms": time.time() * 1000 + 3000,
            },
        )
        frame = read_frame(self.response_fd, time.monotonic() + timeout_s)
        assert frame is not None and frame["type"] == "result"
        return frame

    def logs(self) -> str:
        """What the process printed since the last call."""
        text = self.log_file.read_text()
        self.log_file.write_text("")
        return text

    def close(self) -> None:
        for fd in (self.request_fd, self.response_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.process.wait(10)


@pytest.fixture
def start(tmp_path: Path):
    started: list[RuntimeProcess] = []

    def make(source: str, handler: str = "app.handler", module: str = "app.py") -> RuntimeProcess:
        (tmp_path / module).write_text(source)
        process = RuntimeProcess(tmp_path, handler)
        started.append(process)
        return process

    yield make
    for process in started:
        process.close()


def test_frames_larger_than_the_pipe_buffer_round_trip():
    read_fd, write_fd = os.pipe()
    message = {"payload": "x" * 1_000_000, "n": 1}

    def write_then_close() -> None:
        write_frame(write_fd, message)
        os.close(write_fd)

    writer = threading.Thread(target=write_then_close)
    writer.start()
    assert read_frame(read_fd, time.monotonic() + 10) == message
    writer.join()
    assert read_frame(read_fd) is None  # EOF


def test_read_frame_times_out_when_nothing_arrives():
    read_fd, write_fd = os.pipe()
    with pytest.raises(TimeoutError):
        read_frame(read_fd, time.monotonic() + 0.05)
    os.close(read_fd)
    os.close(write_fd)


def test_successful_invocation_returns_json_and_writes_its_logs_before_the_result(start):
    process = start(
        "import logging\n"
        "print('imported')\n"
        "def handler(event, context):\n"
        "    print('hello', event['name'], context.function_name, context.aws_request_id)\n"
        "    logging.getLogger().warning('careful')\n"
        "    assert 0 < context.get_remaining_time_in_millis() <= 3000\n"
        "    return {'greeting': 'hi ' + event['name']}\n"
    )
    assert process.first["type"] == "ready"
    assert process.logs() == "imported\n"
    result = process.invoke({"name": "ada"})
    assert result["ok"] is True
    assert json.loads(result["payload"]) == {"greeting": "hi ada"}
    logs = process.logs()  # in the file before the result frame: nothing is left to arrive
    assert "hello ada unit req-1\n" in logs
    assert "[WARNING]" in logs and "\treq-1\tcareful" in logs
    assert result["max_memory_mb"] > 0


def test_unhandled_exception_has_the_aws_error_shape(start):
    process = start("def handler(event, context):\n    raise ValueError('bad input')\n")
    result = process.invoke({})
    error = json.loads(result["payload"])
    assert result["ok"] is False
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad input"
    assert error["requestId"] == "req-1"
    assert any("raise ValueError" in line for line in error["stackTrace"])
    assert "[ERROR] ValueError: bad input" in process.logs()


def test_unserialisable_result_is_a_marshal_error(start):
    process = start("def handler(event, context):\n    return {1, 2}\n")
    error = json.loads(process.invoke({})["payload"])
    assert error["errorType"] == "Runtime.MarshalError"


@pytest.mark.parametrize(
    ("source", "handler", "error_type"),
    [
        ("def handler(e, c):\n    return 1\n", "missing.handler", "Runtime.ImportModuleError"),
        ("def handler(e, c):\n    return 1\n", "app.nope", "Runtime.HandlerNotFound"),
        ("def handler(e, c) return 1\n", "app.handler", "Runtime.UserCodeSyntaxError"),
        ("def handler(e, c):\n    return 1\n", "nodot", "Runtime.MalformedHandlerName"),
        ("raise RuntimeError('init failed')\n", "app.handler", "RuntimeError"),
    ],
)
def test_init_failures_are_reported_as_aws_does(start, source, handler, error_type):
    process = start(source, handler)
    assert process.first["type"] == "init_error"
    assert process.first["error"]["errorType"] == error_type
    assert process.process.wait(10) == 0


def test_handler_in_a_subfolder_resolves_like_aws(start, tmp_path):
    (tmp_path / "pkg").mkdir()
    process = start("def handler(e, c):\n    return 'deep'\n", "pkg/mod.handler", "pkg/mod.py")
    assert json.loads(process.invoke({})["payload"]) == "deep"


def test_process_exits_when_its_parent_goes_away_even_mid_invocation(start):
    process = start("import time\ndef handler(e, c):\n    time.sleep(60)\n")
    write_frame(
        process.request_fd,
        {"invoke-id": "r", "invoked-function-arn": "a", "payload": "{}", "deadline-ms": 0},
    )
    os.close(process.request_fd)  # what the kernel does when the executor's process dies
    assert process.process.wait(10) == 0
