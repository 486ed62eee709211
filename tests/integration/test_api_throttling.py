"""API Gateway's throttling on the real stack: a stage limit answers 429 beyond it before the integration runs,
a usage plan limits per API key, `AWS/ApiGateway` counts it from the gateway's side, and a load counts the
429s apart: never accepted, never queued, never lost."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from harness import observe
from harness.polling import wait_until
from harness.webhook import post_webhook

SENT = 40


def gateway_sums(aws_client, api_name: str, stage: str, since: datetime) -> dict[str, float]:
    cloudwatch = aws_client("cloudwatch")
    sums = {}
    for metric in ("Count", "4XXError", "5XXError"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/ApiGateway", MetricName=metric,
            Dimensions=[{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": stage}],
            StartTime=since, EndTime=datetime.now(UTC) + timedelta(minutes=1), Period=1, Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip
        sums[metric] = sum(point["Sum"] for point in points)
    return sums


def test_a_stage_limit_answers_429_beyond_it_and_nothing_refused_is_queued(deploy_topology, aws_client):
    topology = deploy_topology(api_rate_limit=5, api_burst_limit=5)
    outputs = topology.outputs
    for _ in range(2):  # the publisher's environments started, so the burst below measures the gate alone
        topology.post("/warm")
    time.sleep(2)  # the bucket refills (5/s) before the burst: a rate under test, not a synchronisation
    since = datetime.now(UTC) - timedelta(seconds=1)
    started = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda n: post_webhook(outputs.webhook_url, f"/burst/{n}", "{}"), range(SENT)))
    elapsed = time.monotonic() - started
    statuses = Counter(status for status, _ in answers)
    assert set(statuses) == {202, 429}, statuses
    assert 5 <= statuses[202] <= 5 + 5 * elapsed + 1  # the burst, then the rate
    assert all(body == {"message": "Too Many Requests"} for status, body in answers if status == 429)

    accepted_ids = {body["id"] for status, body in answers if status == 202}
    wait_until(
        lambda: accepted_ids <= {row["id"] for row in observe.rows(aws_client("dynamodb"), outputs.table_name)},
        60,
        what="a row for every accepted request",
    )
    burst_rows = [r for r in observe.rows(aws_client("dynamodb"), outputs.table_name) if "/burst/" in r["path"]]
    assert len(burst_rows) == statuses[202]  # a 429 never reached the publisher, so never the queue

    name = topology.settings.resource_name("api_name")
    expected = {"Count": SENT, "4XXError": statuses[429], "5XXError": 0}
    wait_until(lambda: gateway_sums(aws_client, name, "prod", since) == expected, 20, what="AWS/ApiGateway sums")


def test_a_usage_plan_limits_each_api_key_on_its_own(deploy_topology, aws_client):
    topology = deploy_topology()
    apigateway, api_id = aws_client("apigateway"), topology.outputs.api_id
    proxy = next(r for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/{proxy+}")
    apigateway.update_method(
        restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY",
        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
    )  # fmt: skip
    apigateway.create_deployment(restApiId=api_id, stageName="prod")
    plan = apigateway.create_usage_plan(
        name=f"{topology.settings.name_prefix}plan", apiStages=[{"apiId": api_id, "stage": "prod"}],
        throttle={"rateLimit": 0.5, "burstLimit": 2}, quota={"limit": 3, "period": "DAY"},
    )  # fmt: skip
    keys = {}
    for name in ("first", "second"):
        key = apigateway.create_api_key(name=f"{topology.settings.name_prefix}{name}", enabled=True)
        apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
        keys[name] = key["value"]

    def statuses(key: str | None, count: int) -> list[int]:
        headers = {"X-API-Key": key} if key else {}
        return [topology.post("/keyed", "{}", headers=headers)[0] for _ in range(count)]

    assert statuses(None, 1) == [403]  # no key: refused before any limit
    assert statuses(keys["first"], 4) == [202, 202, 429, 429]  # burst 2, then 0.5/s
    assert statuses(keys["second"], 2) == [202, 202]  # a bucket of its own
    time.sleep(2.2)  # one token back at 0.5/s
    assert statuses(keys["first"], 2) == [202, 429]
    time.sleep(4.2)  # two tokens back
    assert statuses(keys["first"], 1) == [429]  # the day's quota of 3 is spent
    answer = topology.post("/keyed", "{}", headers={"X-API-Key": keys["first"]})[1]
    assert answer == {"message": "Limit Exceeded"}


@pytest.mark.slow
def test_a_load_through_a_throttled_stage_counts_429s_apart_and_loses_nothing(deploy_topology, run_load):
    topology = deploy_topology(api_rate_limit=5, api_burst_limit=5)
    verdict, run_dir = run_load(
        topology, shape="steady", users=10, spawn_rate=10.0, duration_s=10, user_rps=2.0, throttle_backoff_s=0.2,
        throttle_retries=2,
    )  # fmt: skip
    assert verdict.verdict == "PASS", verdict.reasons
    assert verdict.throttled_at_gate > 0 and verdict.lost == 0 and verdict.rows == verdict.accepted
    assert verdict.ingest_rps <= 5 + 2  # the stage's rate, plus its burst spread over the run
    page = (run_dir / "report.html").read_text()
    assert "throttled at the gate (429)" in page
