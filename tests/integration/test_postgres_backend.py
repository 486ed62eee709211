"""PostgreSQL, the RDS of the original pattern, as the backend: a real server, its capacity, its view."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from harness.backend.postgres import ServerFaults, ensure_table
from harness.backend.postgres_server import REFUSED_LOG_LINES, connect, server_for
from harness.network import free_port
from harness.polling import wait_until
from harness.webhook import post_webhook


@pytest.fixture(scope="module")
def pg_topology(deploy_topology, postgres):
    return deploy_topology(backend="postgres", postgres_port=postgres.port)


def test_a_webhook_becomes_one_postgres_row_even_when_delivered_twice(pg_topology, aws_client):
    outputs = pg_topology.outputs
    assert outputs.backend == "postgres" and outputs.backend_port == pg_topology.backend.postgres_port
    status, body = post_webhook(outputs.webhook_url, "/orders")
    assert status == 202
    wait_until(lambda: any(r["id"] == body["id"] for r in pg_topology.rows()), 20, what="the row in PostgreSQL")
    message = json.dumps({"id": body["id"], "path": "/orders", "method": "POST", "received_at_ms": 1})
    for _ in range(2):  # at-least-once delivery, made visible
        aws_client("sqs").send_message(QueueUrl=outputs.queue_url, MessageBody=message)
    wait_until(
        lambda: (
            aws_client("sqs").get_queue_attributes(
                QueueUrl=outputs.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
            == "0"
        ),
        20,
        what="the redeliveries to be consumed",
    )
    rows = [r for r in pg_topology.rows() if r["id"] == body["id"]]
    assert len(rows) == 1 and rows[0]["message"] == "hello from /orders"


def test_connections_beyond_the_capacity_are_refused_and_counted_by_the_server(postgres, localstack):
    from harness.backend.config import BackendSettings

    server = server_for(localstack.hosting(), BackendSettings.from_env().replace(postgres_port=postgres.port))
    capacity = BackendSettings.from_env().backend_max_connections
    refused_before, in_use_before = server.refused_so_far(), _app_connections_in_use(postgres.port)
    held = []
    try:
        with pytest.raises(Exception) as refused:
            for _ in range(capacity + 1):
                held.append(connect(postgres.port, superuser=False))
        assert "53300" in str(refused.value)
        assert len(held) == capacity - in_use_before  # exactly the capacity, then SQLSTATE 53300
        wait_until(lambda: server.refused_so_far() > refused_before, 5, what="the refusal in the server's log")
    finally:
        for connection in held:
            connection.close()
    assert any(line in server.logs(200) for line in REFUSED_LOG_LINES)


def _app_connections_in_use(port: int) -> int:
    """Connections the subscribers' environments hold already (the earlier test's)."""
    admin = connect(port)
    try:
        return admin.run("SELECT count(*) FROM pg_stat_activity WHERE usename = 'webhook'")[0][0]
    finally:
        admin.close()


@pytest.mark.slow
def test_a_load_on_postgres_reports_the_backends_view_and_passes(pg_topology, run_load):
    verdict, run_dir = run_load(pg_topology, shape="burst", users=6, spawn_rate=6.0, duration_s=8, user_rps=4.0)
    assert verdict.verdict == "PASS", verdict.reasons
    backend = json.loads((run_dir / "verify.json").read_text())["backend"]
    assert backend["kind"] == "postgres" and backend["capacity_unit"] == "connections"
    assert backend["capacity"] == 10 and backend["errors"] == 0
    assert 1 <= backend["peak"] <= 2  # the throttle: at most reserved-concurrency connections
    assert "Backend (postgres) load against its capacity" in (run_dir / "report.html").read_text()


def test_make_up_starts_postgres_and_make_down_leaves_nothing(tmp_path):
    env = {
        **os.environ,
        "HARNESS_PORT": str(free_port()),
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
        "HARNESS_BACKEND": "postgres",
        "HARNESS_POSTGRES_PORT": str(free_port()),
    }

    def harness(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "harness.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)

    try:
        up = harness("up", "--no-deploy")
        assert up.returncode == 0, up.stderr
        assert "PostgreSQL is ready" in up.stderr
        status = harness("status")
        assert "PostgreSQL running" in status.stdout and "capacity 10 connections" in status.stdout
        data_dir = str(tmp_path / "state" / "postgres" / "data")
        assert _postgres_processes(data_dir)
    finally:
        down = harness("down")
    assert down.returncode == 0 and "stopped PostgreSQL" in down.stderr
    assert _postgres_processes(data_dir) == []


def _postgres_processes(data_dir: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if data_dir in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


def test_faults_live_in_the_server_an_outage_refuses_and_drops_connections(postgres):
    ensure_table(postgres.port, "FaultTable")
    held = connect(postgres.port, superuser=False)
    now = time.time()
    with ServerFaults(postgres.port, "FaultTable", outage=(now, now + 60), error_rate=0.0):
        wait_until(lambda: _refused(postgres.port), 10, what="the outage to refuse the application's connections")
        # The open session is ended too (pg_terminate_backend signals it; it ends a moment later).
        wait_until(lambda: _ended(held), 10, what="the outage to end the application's open session")
    connect(postgres.port, superuser=False).close()  # the outage is over


def test_an_error_rate_fails_inserts_with_a_transient_error(postgres):
    ensure_table(postgres.port, "RateTable")
    app = connect(postgres.port, superuser=False)
    try:
        with ServerFaults(postgres.port, "RateTable", outage=None, error_rate=1.0):
            with pytest.raises(Exception) as failed:
                app.run("""INSERT INTO "RateTable" (id) VALUES ('x')""")
            assert "40001" in str(failed.value)
        app.run("""INSERT INTO "RateTable" (id) VALUES ('y')""")
    finally:
        app.close()


def _ended(session) -> bool:
    try:
        session.run("SELECT 1")
        return False
    except Exception:
        return True


def _refused(port: int) -> bool:
    try:
        connect(port, superuser=False).close()
        return False
    except Exception:
        return True
