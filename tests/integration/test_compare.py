"""`harness compare` against a real PostgreSQL: the throttle holds the backend, no throttle does not."""

from __future__ import annotations

import json

import pytest

from harness import compare
from harness.backend import backend_for
from harness.backend.config import BackendSettings
from harness.load.config import LoadSettings
from harness.topology.config import TopologySettings


@pytest.mark.slow
def test_the_throttled_variants_stay_within_capacity_and_the_unthrottled_one_does_not(
    localstack, postgres, aws_client, tmp_path
):
    settings = BackendSettings.from_env().replace(backend="postgres", postgres_port=postgres.port)
    backend = backend_for(settings, localstack.hosting(), aws_client)
    already_held = _app_connections(postgres.port)  # by other tests' environments on this shared server
    topology = TopologySettings.from_env().replace(
        name_prefix="cmp-test-",
        # Each write holds its connection 500 ms: an unthrottled consumer needs more environments than the
        # database's exact capacity (10) to keep up, as the pollers scale, whatever this machine's ingest rate.
        backend_latency_ms=500,
        visibility_timeout_s=20,
        subscriber_timeout_s=10,
        batch_size=2,  # many small batches keep every poller busy, so no throttle scales well past capacity
    )
    load = LoadSettings.from_env().replace(
        shape="burst", users=20, spawn_rate=20.0, duration_s=10, user_rps=4.0, drain_timeout_s=120,
        reports_dir=tmp_path / "reports",
    )  # fmt: skip
    variants = compare.parse_variants("reserved=2,maximum=2,none", 2)
    results, compare_dir = compare.run(localstack.settings, topology, backend, load, variants, aws_client)
    summary = {v["name"]: v for v in json.loads((compare_dir / "compare.json").read_text())["variants"]}
    for throttled in ("reserved concurrency 2", "MaximumConcurrency 2"):
        assert summary[throttled]["backend_peak"] <= 2 + already_held and summary[throttled]["backend_errors"] == 0
        assert summary[throttled]["verdict"] == "PASS", results
        assert summary[throttled]["lost"] == 0 and summary[throttled]["duplicate_rows"] == 0
    unthrottled = summary["no throttle"]
    assert unthrottled["max_consumer_concurrency"] > 2
    assert unthrottled["backend_errors"] > 0 and unthrottled["verdict"] == "FAIL"
    assert not compare.failed_throttled(results)
    page = (compare_dir / "report.html").read_text()
    assert "Design comparison" in page and page.count("<svg") >= 3
    assert all((compare_dir / result.variant.slug / "report.html").is_file() for result in results)


def _app_connections(port: int) -> int:
    from harness.backend.postgres_server import APP_USER, connect

    admin = connect(port)
    try:
        return admin.run("SELECT count(*) FROM pg_stat_activity WHERE usename = :user", user=APP_USER)[0][0]
    finally:
        admin.close()
