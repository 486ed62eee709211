"""API Gateway's throttling, as AWS enforces it, and its ``AWS/ApiGateway`` metrics, for REST APIs.

LocalStack 4.8.1 stores stage method settings and usage plans but enforces none of their limits. AWS's
rules (developer guide, "Throttle requests to your REST APIs"): a token bucket per limit, refilled at the
rate limit and holding at most the burst limit; a request takes one token from each bucket that applies
and is answered ``429 {"message": "Too Many Requests"}`` before the integration runs when one is empty:

- the account's, per region (10,000 requests/s, burst 5,000);
- the stage's ``MethodSettings``: the method's own (``~1path/METHOD``) when set, else ``*/*``;
- a usage plan's, per API key (its ``throttle``, or its ``apiStages[].throttle`` for the method), and its
  ``quota`` (requests per DAY, WEEK or MONTH), answered ``429 {"message": "Limit Exceeded"}``.

Metrics, per ``ApiName`` and ``Stage`` as AWS publishes them: ``Count``, ``4XXError``, ``5XXError``,
``Latency`` (the request in API Gateway, ms) and ``IntegrationLatency`` (the backend's part, ms), into
``REQUEST_METRICS`` like SQS's per-message datapoints. The handlers join LocalStack's REST API gateway
through ``patches.py``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from localstack.services.apigateway.next_gen.execute_api.gateway_response import QuotaExceededError, ThrottledError
from localstack.services.apigateway.next_gen.execute_api.moto_helpers import get_usage_plan_keys, get_usage_plans

from .contract import API_ACCOUNT_BURST_LIMIT, API_ACCOUNT_RATE_LIMIT
from .metrics import REQUEST_METRICS

NAMESPACE = "AWS/ApiGateway"
_STARTED, _INTEGRATION_STARTED = "harness_started", "harness_integration_started"
_INTEGRATION_MS = "harness_integration_ms"


class TokenBucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), now

    def take(self, now: float) -> bool:
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Buckets:
    """Every bucket, by what it limits; a bucket whose limits changed starts full, as a redeployed stage does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple, TokenBucket] = {}
        self._quotas: dict[tuple, int] = {}

    def take(self, key: tuple, rate: float, burst: int, now: float) -> bool:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
                bucket = self._buckets[key] = TokenBucket(rate, burst, now)
            return bucket.take(now)

    def count(self, key: tuple, limit: int) -> bool:
        """One request against a quota; False once ``limit`` requests were counted for ``key``."""
        with self._lock:
            used = self._quotas.get(key, 0)
            if used >= limit:
                return False
            self._quotas[key] = used + 1
            return True


BUCKETS = Buckets()


def method_settings_key(resource_path: str, http_method: str) -> str:
    """AWS's key of a method in a stage's ``MethodSettings``: ``/orders/{id}`` GET -> ``~1orders~1{id}/GET``."""
    return f"{resource_path.replace('/', '~1')}/{http_method}"


def stage_limit(stage: dict[str, Any], resource_path: str, http_method: str) -> tuple[float, int] | None:
    """The stage's limit for the method: its own settings, else ``*/*``'s; None when neither sets one."""
    settings = stage.get("methodSettings") or {}
    for key in (method_settings_key(resource_path, http_method), "*/*"):
        setting = settings.get(key) or {}
        rate, burst = setting.get("throttlingRateLimit"), setting.get("throttlingBurstLimit")
        if rate is not None and burst is not None and rate >= 0:
            return float(rate), int(burst)
    return None


def quota_window(period: str, offset: int, now: datetime) -> str:
    """The quota period ``now`` falls in (UTC), as a key: a new key starts a new count."""
    start = now - timedelta(days=offset)
    if period == "DAY":
        return start.strftime("%Y-%m-%d")
    if period == "WEEK":
        return start.strftime("%G-W%V")
    return start.strftime("%Y-%m")


def plan_limits(context: Any) -> list[tuple[tuple, float | None, int | None, dict[str, Any] | None]]:
    """(bucket key, rate, burst, quota) of each usage plan of this stage that holds the request's API key."""
    method = context.resource_method or {}
    if not method.get("apiKeyRequired"):
        return []
    # LocalStack's API-key handler, which runs just before (patches.py), validated the key and named it here.
    key_id = (context.context_variables.get("identity") or {}).get("apiKeyId")
    if not key_id:
        return []
    method_path = f"{context.resource['path']}/{context.invocation_request['http_method']}"
    here = (context.api_id, context.stage)
    limits = []
    for plan in get_usage_plans(account_id=context.account_id, region_name=context.region):
        stages = [s for s in plan.get("apiStages", []) if (s.get("apiId"), s.get("stage")) == here]
        if not stages:
            continue
        keys = get_usage_plan_keys(usage_plan_id=plan["id"], account_id=context.account_id, region_name=context.region)
        if key_id not in {key["id"] for key in keys}:
            continue
        throttle = (stages[0].get("throttle") or {}).get(method_path) or plan.get("throttle") or {}
        limits.append(
            (("plan", plan["id"], key_id, method_path), throttle.get("rateLimit"), throttle.get("burstLimit"),
             plan.get("quota"))
        )  # fmt: skip
    return limits


def started(_chain: Any, context: Any, _response: Any) -> None:
    setattr(context, _STARTED, time.perf_counter())


def enforce_limits(_chain: Any, context: Any, _response: Any) -> None:
    """Runs after the API key is validated, before the method request and the integration."""
    now = time.monotonic()
    account = ("account", context.account_id, context.region)
    if not BUCKETS.take(account, API_ACCOUNT_RATE_LIMIT, API_ACCOUNT_BURST_LIMIT, now):
        raise ThrottledError("Too Many Requests")
    resource_path, http_method = context.resource["path"], context.resource_method.get("httpMethod", "ANY")
    limit = stage_limit(context.stage_configuration or {}, resource_path, http_method)
    method_key = ("stage", context.api_id, context.stage, method_settings_key(resource_path, http_method))
    if limit is not None and not BUCKETS.take(method_key, *limit, now):  # a bucket per method, as on AWS
        raise ThrottledError("Too Many Requests")
    for key, rate, burst, quota in plan_limits(context):
        if rate is not None and burst is not None and not BUCKETS.take(key, float(rate), int(burst), now):
            raise ThrottledError("Too Many Requests")
        if quota and quota.get("limit") is not None:
            window = quota_window(quota.get("period", "MONTH"), int(quota.get("offset") or 0), datetime.now(UTC))
            if not BUCKETS.count((*key[:3], window), int(quota["limit"])):
                raise QuotaExceededError("Limit Exceeded")


def integration_started(_chain: Any, context: Any, _response: Any) -> None:
    setattr(context, _INTEGRATION_STARTED, time.perf_counter())


def integration_ended(_chain: Any, context: Any, _response: Any) -> None:
    began = context.get(_INTEGRATION_STARTED)
    if began is not None:
        setattr(context, _INTEGRATION_MS, (time.perf_counter() - began) * 1000)


def record_metrics(_chain: Any, context: Any, response: Any) -> None:
    """The request's datapoints, per API name and stage; requests that matched no stage are not counted."""
    began = context.get(_STARTED)
    if began is None or not context.get("stage") or context.get("deployment") is None:
        return
    api_name = context.deployment.rest_api.rest_api.get("name") or context.api_id
    status, now = int(response.status_code), datetime.now(UTC)
    data = [
        ("Count", 1.0, "Count"),
        ("4XXError", float(400 <= status < 500), "Count"),
        ("5XXError", float(status >= 500), "Count"),
        ("Latency", (time.perf_counter() - began) * 1000, "Milliseconds"),
    ]
    if (integration_ms := context.get(_INTEGRATION_MS)) is not None:
        data.append(("IntegrationLatency", integration_ms, "Milliseconds"))
    dimensions = [{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": context.stage}]
    for name, value, unit in data:
        REQUEST_METRICS.add(
            context.account_id,
            context.region,
            NAMESPACE,
            {"MetricName": name, "Dimensions": dimensions, "Timestamp": now, "Value": value, "Unit": unit,
             "StorageResolution": 1},
        )  # fmt: skip
