"""Start, refuse, stop and clean up the embedded stack, as `make up` / `make down` do."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request

import psutil
import pytest

from harness import aws
from harness.exceptions import AlreadyRunningError, PortInUseError
from harness.lambda_admin import create_function
from harness.load.config import LoadSettings
from harness.network import free_port
from harness.polling import wait_until
from harness.stack.config import StackSettings
from harness.stack.embedded import EmbeddedStack
from harness.topology.config import TopologySettings
from harness.topology.deploy import Deployer


def listening_addresses(pid: int) -> set[str]:
    processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return {
        connection.laddr.ip
        for process in processes
        for connection in process.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    }


def test_every_listening_socket_is_on_loopback(localstack, deploy_function, aws_client):
    name = deploy_function({"app.py": "def handler(e, c):\n    return 1\n"})
    aws_client("lambda").invoke(FunctionName=name)  # a function process exists now too
    addresses = listening_addresses(localstack.status().pid)
    assert addresses == {"127.0.0.1"}


def test_a_second_copy_is_refused(localstack):
    with pytest.raises(AlreadyRunningError, match="already running"):
        EmbeddedStack(localstack.settings).start()


def test_a_taken_port_is_reported_before_anything_starts(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        stack = EmbeddedStack(StackSettings.from_env({}, port=port, state_dir=tmp_path))
        with pytest.raises(PortInUseError, match=f"port {port} .* HARNESS_PORT"):
            stack.start()
    assert not stack.record_file.exists()


@pytest.fixture
def own_stack(tmp_path):
    """A stack of its own, for tests that stop or kill it."""
    stack = EmbeddedStack(StackSettings.from_env({}, port=free_port(), state_dir=tmp_path))
    stack.start()
    yield stack
    stack.stop()


PYTHON_FUNCTION = ({"app.py": "def handler(e, c):\n    return 1\n"}, {})
NODE_FUNCTION = (
    {"index.js": "exports.handler = async () => 1;"},
    {"handler": "index.handler", "runtime": "nodejs22.x"},
)


def start_function_processes(stack: EmbeddedStack, count: int) -> list[psutil.Process]:
    """``count`` function processes: Python ones, and every second one Node.js where `node` exists."""
    lambda_client = aws.client("lambda", stack.settings)
    kinds = [PYTHON_FUNCTION, NODE_FUNCTION] if shutil.which("node") else [PYTHON_FUNCTION]
    for index in range(count):
        files, function = kinds[index % len(kinds)]
        create_function(lambda_client, f"fn{index}", files, **function)
        assert json.loads(lambda_client.invoke(FunctionName=f"fn{index}")["Payload"].read()) == 1
    processes = list(EmbeddedStack.function_processes(stack.status().pid))
    assert len(processes) == count
    return processes


def test_down_leaves_no_process_behind(own_stack):
    localstack_pid = own_stack.status().pid
    functions = start_function_processes(own_stack, 2)
    assert own_stack.stop() >= 3
    assert not psutil.pid_exists(localstack_pid)
    assert not any(process.is_running() for process in functions)
    assert not own_stack.status().running


def test_function_processes_exit_by_themselves_when_localstack_is_killed(own_stack):
    functions = start_function_processes(own_stack, 2)
    os.kill(own_stack.status().pid, signal.SIGKILL)
    wait_until(
        lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in functions),
        timeout_s=10,
        what="function processes to exit after LocalStack was killed",
    )
    own_stack.stop()  # and `down` still cleans up the record
    assert not own_stack.record_file.exists()


def test_the_locust_web_ui_listens_on_loopback_only(localstack, webhook_topology):
    port = free_port()
    env = {
        **os.environ,
        **webhook_topology.stack.to_environment(),
        "HARNESS_UI_PORT": str(port),
    }
    ui = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "ui"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def listening() -> set[str]:
            processes = [psutil.Process(ui.pid), *psutil.Process(ui.pid).children(recursive=True)]
            return {
                c.laddr.ip
                for p in processes
                for c in p.net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN and c.laddr.port == port
            }

        wait_until(lambda: bool(listening()), 30, what="the Locust web UI")
        assert listening() == {"127.0.0.1"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/harness", timeout=10) as page:
            assert b"Webhook topology, live" in page.read()
    finally:
        for process in [*psutil.Process(ui.pid).children(recursive=True), psutil.Process(ui.pid)]:
            process.terminate()
        ui.wait(10)


def test_verify_stops_with_a_clear_message_when_localstack_dies(own_stack, tmp_path):
    Deployer(own_stack.settings, TopologySettings.from_env()).deploy()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"load_started": 0, "load_ended": 1}))
    os.kill(own_stack.status().pid, signal.SIGKILL)
    env = {**os.environ, **own_stack.settings.to_environment(), "HARNESS_REPORTS_DIR": str(tmp_path / "reports")}
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "verify", "--run", str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a hang fails the test
    )
    assert result.returncode == 2
    assert "LocalStack stopped answering" in result.stderr and "make up" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_locust_master_listens_on_loopback_only(webhook_topology, tmp_path):
    from harness.load.run import locust_commands

    load = LoadSettings.from_env().replace(workers=1, duration_s=5)
    master_command = locust_commands(load, webhook_topology.outputs, tmp_path)[0]
    master = subprocess.Popen(
        master_command,
        env={
            **os.environ,
            **webhook_topology.stack.to_environment(),
            **load.to_environment(),
            "HARNESS_RUN_DIR": str(tmp_path),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> set[str]:
            return {
                c.laddr.ip
                for c in psutil.Process(master.pid).net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN
            }

        wait_until(lambda: bool(listening()), 30, what="the Locust master to listen")
        assert listening() == {"127.0.0.1"}
    finally:
        master.terminate()
        master.wait(10)
