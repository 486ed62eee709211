"""API Gateway's throttle as AWS documents it: token buckets, the stage's method settings, quotas; and the
patch that puts it into LocalStack's REST API gateway, pinned to the shape of the code it patches."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest
from localstack.services.apigateway.next_gen.execute_api import handlers
from localstack.services.apigateway.next_gen.execute_api.gateway import RestApiGateway

from harness.localstack_extensions import apigateway_limits, patches
from harness.localstack_extensions.apigateway_limits import (
    Buckets,
    TokenBucket,
    method_settings_key,
    quota_window,
    stage_limit,
)


def test_a_bucket_lets_the_burst_through_then_the_rate():
    bucket = TokenBucket(rate=5, burst=5, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(0.1) is False  # half a token back
    assert bucket.take(0.2) is True  # one token back after 1/rate s
    assert sum(bucket.take(10.0) for _ in range(10)) == 5  # never more than the burst saved up


def test_a_bucket_whose_limits_change_starts_full():
    buckets = Buckets()
    assert all(buckets.take(("stage",), 1, 2, 0.0) for _ in range(2)) and not buckets.take(("stage",), 1, 2, 0.0)
    assert buckets.take(("stage",), 1, 3, 0.0)


def test_a_quota_counts_per_key_up_to_its_limit():
    buckets = Buckets()
    assert [buckets.count(("plan", "k", "2026-12"), 2) for _ in range(3)] == [True, True, False]
    assert buckets.count(("plan", "k", "2027-01"), 2)  # a new period, a new count


@pytest.mark.parametrize(
    ("period", "offset", "expected"), [("DAY", 0, "2026-12-02"), ("WEEK", 0, "2026-W49"), ("MONTH", 0, "2026-12"),
                                       ("DAY", 1, "2026-12-01")],
)  # fmt: skip
def test_quota_periods(period, offset, expected):
    assert quota_window(period, offset, datetime(2026, 12, 2, 12, tzinfo=UTC)) == expected


def test_the_methods_own_setting_wins_over_the_stages_default():
    default = {"throttlingRateLimit": 10.0, "throttlingBurstLimit": 20}
    own = {"throttlingRateLimit": 1.0, "throttlingBurstLimit": 2}
    stage = {"methodSettings": {"*/*": default, "~1orders~1{id}/GET": own}}
    assert method_settings_key("/orders/{id}", "GET") == "~1orders~1{id}/GET"
    assert stage_limit(stage, "/orders/{id}", "GET") == (1.0, 2)
    assert stage_limit(stage, "/{proxy+}", "ANY") == (10.0, 20)
    assert stage_limit({}, "/", "ANY") is None


def test_the_patched_gateway_runs_the_limits_after_the_api_key_and_times_the_integration():
    patches.PATCHES.apply()
    try:
        gateway = RestApiGateway()
    finally:
        patches.PATCHES.undo()
    chain = gateway.request_handlers
    assert chain[0] is apigateway_limits.started
    assert chain.index(apigateway_limits.enforce_limits) == chain.index(handlers.api_key_validation_handler) + 1
    assert chain.index(apigateway_limits.enforce_limits) < chain.index(handlers.integration_handler)
    integration = chain.index(handlers.integration_handler)
    assert chain[integration - 1] is apigateway_limits.integration_started
    assert chain[integration + 1] is apigateway_limits.integration_ended
    assert gateway.response_handlers[-1] is apigateway_limits.record_metrics
    assert apigateway_limits.enforce_limits not in RestApiGateway().request_handlers  # undone


def test_the_patched_code_keeps_its_shape():
    """LocalStack 4.8.1's: the patch relies on these; a new pin that changes them fails here first."""
    assert list(inspect.signature(RestApiGateway.__init__).parameters) == ["self"]
    gateway = RestApiGateway()
    for handler in (handlers.api_key_validation_handler, handlers.integration_handler):
        assert handler in gateway.request_handlers
    assert isinstance(gateway.response_handlers, list)
