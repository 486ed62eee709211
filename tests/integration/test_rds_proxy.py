"""RDS Proxy in front of PostgreSQL: a real pooler (pgbouncer) between real clients and a real server."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.backend.base import Hosting
from harness.backend.config import BackendSettings
from harness.backend.pooler import Pooler, pooler_for, stop_pooler
from harness.backend.postgres import ServerProbe
from harness.backend.postgres_server import APP_USER, Connection, PostgresServer, connect
from harness.backend.rds_proxy import ProxiedProbe
from harness.network import LOOPBACK_HOST, free_port
from harness.polling import wait_until

CLIENTS = 40
"""Subscribers at once, four times the database's capacity (10 connections)."""


@pytest.fixture(scope="module")
def database() -> Iterator[PostgresServer]:
    """A server of this module's own: no other test's subscribers hold its connections (its data outside
    pytest's temporary root, as the plugin's stack keeps it: see ``stack_settings``)."""
    home = Path(tempfile.mkdtemp(prefix="harness-proxied-"))
    settings = BackendSettings.from_env().replace(backend="postgres", postgres_port=free_port())
    server = PostgresServer(home / "postgres", settings, startup_timeout_s=60)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def _pooler(database: PostgresServer, home: Path, **settings) -> Pooler:
    chosen = database.backend.replace(backend_proxy="rds-proxy", proxy_port=free_port(), **settings)
    return Pooler(home, chosen, startup_timeout_s=30)


def _client(port: int):
    return connect(port, superuser=False, timeout=10)


def _clients_at_once(port: int) -> list[str]:
    """CLIENTS clients, each its own connection doing three short transactions; the errors they got."""
    errors: list[str] = []
    start = threading.Barrier(CLIENTS)

    def work() -> None:
        start.wait()
        try:
            client = _client(port)
        except Exception as error:
            errors.append(str(error))
            return
        try:
            for _ in range(3):
                client.run("SELECT pg_sleep(0.1)")
        except Exception as error:
            errors.append(str(error))
        finally:
            with contextlib.suppress(Exception):
                client.close()

    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_forty_clients_through_the_proxy_are_served_where_the_database_alone_refuses_them(database, tmp_path):
    refused_before = database.refused_so_far()
    direct = _clients_at_once(database.backend.postgres_port)
    assert any("53300" in error for error in direct), direct[:3]
    assert database.refused_so_far() > refused_before
    database_probe = ServerProbe(database, database.backend.postgres_port)
    # The direct clients' sessions end a moment after they close: the proxy must not meet them at the limit.
    wait_until(lambda: database_probe()["backend_in_use"] == 0, 10, what="the direct clients' sessions to end")

    pooler = _pooler(database, tmp_path / "proxy")
    pooler.start(database.backend.postgres_port)
    probe = ProxiedProbe(database_probe, pooler)
    samples, done = [], threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(probe())
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    try:
        refused_before = database.refused_so_far()
        sampler.start()
        proxied = _clients_at_once(pooler.settings.proxy_port)
        done.set()
        sampler.join(10)
        assert proxied == []
        assert database.refused_so_far() == refused_before  # the database refused nothing
        assert max(s["proxy_client_connections"] for s in samples) > database.backend.backend_max_connections
        assert max(s["proxy_database_connections"] for s in samples) <= pooler.settings.proxy_pool_size == 10
        assert max(s["backend_in_use"] for s in samples) <= 10
        assert max(s["proxy_clients_waiting"] for s in samples) > 0
    finally:
        done.set()
        probe.close()
        pooler.stop()


def test_a_client_that_waits_past_the_borrow_timeout_gets_an_error_that_is_counted(database, tmp_path):
    pooler = _pooler(database, tmp_path / "proxy", proxy_connection_borrow_timeout_s=1)
    pooler.start(database.backend.postgres_port)
    port = pooler.settings.proxy_port
    held = [_client(port) for _ in range(pooler.settings.proxy_pool_size)]
    try:
        for client in held:  # an open transaction keeps its database connection: the pool is held
            client.run("BEGIN")
            client.run("SELECT 1")
        with pytest.raises(Exception):  # noqa: B017 (pgbouncer closes the connection: a network error)
            _client(port).run("SELECT 1")
        wait_until(lambda: pooler.counted()[0] == 1, 10, what="the borrow timeout in the proxy's log")
    finally:
        for client in held:
            with contextlib.suppress(Exception):
                client.run("COMMIT")
                client.close()
        pooler.stop()


def test_the_proxy_refuses_to_start_where_pgbouncer_is_missing_and_says_what_to_do(database, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("harness.backend.pooler.INSTALLED_AT", ())
    with pytest.raises(Exception) as failed:
        _pooler(database, tmp_path / "proxy").start(database.backend.postgres_port)
    assert "apt-get install pgbouncer" in str(failed.value) and "HARNESS_BACKEND_PROXY=none" in str(failed.value)


def test_the_compose_path_runs_the_pooler_as_its_rds_proxy_service_reached_by_name(tmp_path):
    from harness.backend.pooler import ContainerPooler

    hosting = Hosting(state_path=tmp_path, startup_timeout_s=1, functions_host=LOOPBACK_HOST, services=object())
    pooler = pooler_for(hosting, BackendSettings.from_env().replace(proxy_connection_borrow_timeout_s=7))
    assert isinstance(pooler, ContainerPooler)
    assert pooler.function_connection(Connection("postgres", 5432)) == Connection("rds-proxy", 6432)
    environment = pooler.environment()
    assert environment["HARNESS_PROXY_CONNECTION_BORROW_TIMEOUT_S"] == "7"
    assert environment["HARNESS_PROXY_LOG_DIR"] == str(tmp_path / "rds-proxy-container")


def _end_other_sessions(port: int) -> None:
    """Other tests' idle function environments keep sessions open on the shared server: ended, so the proxy's
    pool meets the database's whole capacity (a subscriber reconnects when it next writes)."""
    admin = connect(port)
    try:
        admin.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :user", user=APP_USER)
    finally:
        admin.close()


@pytest.fixture(scope="module")
def proxied_topology(deploy_topology, postgres, localstack):
    """The harness's topology on the session's server through RDS Proxy (the deployer starts the proxy)."""
    _end_other_sessions(postgres.port)
    try:
        yield lambda **settings: deploy_topology(
            backend="postgres", postgres_port=postgres.port, backend_proxy="rds-proxy", proxy_port=free_port(),
            **settings,
        )  # fmt: skip
    finally:
        stop_pooler(localstack.hosting())


@pytest.mark.slow
def test_a_load_through_the_proxy_passes_and_reports_both_sides(proxied_topology, run_load):
    topology = proxied_topology(reserved_concurrency=None, maximum_concurrency=8, backend_latency_ms=100)
    assert topology.outputs.backend_proxy == "rds-proxy"
    verdict, run_dir = run_load(topology, shape="burst", users=8, spawn_rate=8.0, duration_s=8, user_rps=4.0)
    assert verdict.verdict == "PASS", verdict.reasons
    backend = json.loads((run_dir / "verify.json").read_text())["backend"]
    assert backend["errors"] == 0 and backend["peak"] <= 10
    proxy = backend["proxy"]
    assert proxy["pool_size"] == 10 and proxy["borrow_timeouts"] == 0
    assert proxy["client_connections_peak"] >= 1 and proxy["database_connections_peak"] <= 10
    assert "through RDS Proxy" in backend["summary"]
    assert "RDS Proxy: client connections against database connections" in (run_dir / "report.html").read_text()


@pytest.mark.slow
def test_borrow_timeouts_under_a_held_pool_are_the_backend_refusing_work(proxied_topology, run_load):
    topology = proxied_topology(
        proxy_connection_borrow_timeout_s=2, visibility_timeout_s=5, subscriber_timeout_s=5, max_receive_count=10
    )
    port = topology.backend.proxy_port
    held = [_client(port) for _ in range(topology.backend.proxy_pool_size)]
    release = threading.Timer(12, lambda: [_commit(client) for client in held])
    try:
        for client in held:
            client.run("BEGIN")
            client.run("SELECT 1")
        release.start()
        verdict, run_dir = run_load(topology, shape="burst", users=4, spawn_rate=4.0, duration_s=6, user_rps=2.0)
    finally:
        release.cancel()
        for client in held:
            _commit(client)
    assert verdict.verdict == "FAIL" and verdict.lost == 0  # retried after the visibility timeout: all rows
    backend = json.loads((run_dir / "verify.json").read_text())["backend"]
    assert backend["proxy"]["borrow_timeouts"] >= 1 and backend["errors"] >= backend["proxy"]["borrow_timeouts"]
    assert any("borrow timeouts at the proxy" in reason for reason in verdict.reasons), verdict.reasons


def _commit(client) -> None:
    with contextlib.suppress(Exception):
        client.run("COMMIT")
        client.close()


def test_make_up_starts_the_proxy_with_postgres_and_make_down_leaves_nothing(tmp_path):
    state = tmp_path / "state"
    env = {
        **os.environ,
        "HARNESS_PORT": str(free_port()),
        "HARNESS_STATE_DIR": str(state),
        "HARNESS_BACKEND": "postgres",
        "HARNESS_BACKEND_PROXY": "rds-proxy",
        "HARNESS_POSTGRES_PORT": str(free_port()),
        "HARNESS_PROXY_PORT": str(free_port()),
    }

    def harness(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "harness.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)

    def poolers() -> list[psutil.Process]:
        config = str(state / "rds-proxy" / "pgbouncer.ini")
        return [p for p in psutil.process_iter(["cmdline"]) if config in " ".join(p.info["cmdline"] or [])]

    try:
        up = harness("up", "--no-deploy")
        assert up.returncode == 0, up.stderr
        assert "RDS Proxy is ready" in up.stderr
        status = harness("status")
        assert "RDS Proxy (pgbouncer" in status.stdout and "PostgreSQL running" in status.stdout
        assert poolers()
    finally:
        down = harness("down")
    assert down.returncode == 0 and "stopped RDS Proxy" in down.stderr and "stopped PostgreSQL" in down.stderr
    assert poolers() == []


@pytest.mark.slow
def test_compare_designs_runs_the_five_designs_on_one_load_and_recommends_one(
    localstack, postgres, aws_client, tmp_path
):
    """`make compare VARIANTS=designs`: the same webhooks for every design, and a recommendation from the runs."""
    from harness import compare
    from harness.backend import backend_for
    from harness.load.config import LoadSettings
    from harness.topology.config import TopologySettings

    _end_other_sessions(postgres.port)
    settings = BackendSettings.from_env().replace(backend="postgres", postgres_port=postgres.port)
    backend = backend_for(settings, localstack.hosting(), aws_client)
    topology = TopologySettings.from_env().replace(
        name_prefix="cmp-proxy-", backend_latency_ms=200, visibility_timeout_s=20, subscriber_timeout_s=10,
        batch_size=2,
    )  # fmt: skip
    load = LoadSettings.from_env().replace(
        shape="burst", users=10, spawn_rate=10.0, duration_s=10, user_rps=3.0, drain_timeout_s=60,
        reports_dir=tmp_path / "reports",
    )  # fmt: skip
    try:
        results, compare_dir = compare.run(
            localstack.settings, topology, backend, load, compare.parse_variants("designs", 2), aws_client
        )
    finally:
        stop_pooler(localstack.hosting())
    written = json.loads((compare_dir / "compare.json").read_text())
    summary = {v["name"]: v for v in written["variants"]}
    assert list(summary) == [
        "reserved concurrency 2", "MaximumConcurrency 2", "RDS Proxy, no throttle",
        "RDS Proxy + reserved concurrency 2", "no throttle",
    ]  # fmt: skip
    offered = {v["offered"] for v in summary.values()}
    assert len(offered) == 1 and offered.pop() > 50, "one schedule for every design"
    direct, proxied = summary["reserved concurrency 2"], summary["RDS Proxy, no throttle"]
    assert direct["proxy"] is None and direct["verdict"] == "PASS"
    assert proxied["proxy"]["pool_size"] == 10 and proxied["proxy"]["database_connections_peak"] <= 10
    assert proxied["backend_errors"] == 0 and proxied["verdict"] == "PASS", results
    assert proxied["max_consumer_concurrency"] > 2  # unthrottled: more clients than the direct variant had
    assert "through RDS Proxy" in results[2].sentence()
    for variant in summary.values():
        assert variant["e2e_p99_ms"] is not None and variant["refused_at_gate"] == 0
    held = [v for v in summary.values() if v["verdict"] == "PASS" and not v["lost"] and not v["backend_errors"]
            and not v["pending"] and not v["duplicate_rows"]]  # fmt: skip
    recommended = written["recommendation"]["variant"]
    assert recommended == min(held, key=lambda v: v["drain_seconds"])["name"], written["recommendation"]
    page = (compare_dir / "report.html").read_text()
    assert f"Recommended: {recommended}" in page and "RDS Proxy: database connections it held" in page
    assert "offered (the schedule) / sent" in page and "started from the same state" in page
