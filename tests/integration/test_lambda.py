"""The local-process executor behind LocalStack's real Lambda API."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from harness import observe
from harness.polling import wait_until
from tests.integration.helpers import NODE_SLEEPER, create_queue_and_table, invoke

SLEEPER = """
import time
def handler(event, context):
    started = time.time()
    print(f"sleeping {event.get('sleep', 0)} s")
    time.sleep(event.get("sleep", 0))
    return {"started": started, "ended": time.time()}
"""


@pytest.fixture(params=["python3.11", "nodejs22.x"])
def deploy_sleeper(request, deploy_function):
    """``deploy_sleeper(**create_kwargs)``: a function that sleeps ``event.sleep`` s, in Python and in Node.js."""
    if request.param.startswith("nodejs") and shutil.which("node") is None:
        pytest.skip("no `node` on this machine")

    def deploy(**kwargs):
        if request.param.startswith("nodejs"):
            return deploy_function({"index.js": NODE_SLEEPER}, "index.handler", Runtime=request.param, **kwargs)
        return deploy_function({"app.py": SLEEPER}, **kwargs)

    return deploy


def test_function_calls_sqs_and_dynamodb_through_localstack(aws_client, deploy_function):
    sqs, dynamodb = aws_client("sqs"), aws_client("dynamodb")
    queue_url = create_queue_and_table(aws_client, "from-function", "FromFunction")
    name = deploy_function(
        {
            "app.py": (
                "import boto3\n"
                "def handler(event, context):\n"
                "    boto3.client('sqs').send_message(QueueUrl=event['queue'], MessageBody='from lambda')\n"
                "    boto3.client('dynamodb').put_item(TableName='FromFunction', Item={'id': {'S': 'x'}})\n"
                "    return 'ok'\n"
            )
        },
        Timeout=30,
    )
    response, payload, logs = invoke(aws_client("lambda"), name, {"queue": queue_url})
    assert "FunctionError" not in response and payload == "ok"
    assert sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"] == "from lambda"
    assert dynamodb.get_item(TableName="FromFunction", Key={"id": {"S": "x"}})["Item"]
    assert logs.startswith("START RequestId:") and "REPORT RequestId:" in logs and "Init Duration" in logs


def test_unhandled_error_comes_back_in_the_aws_shape(aws_client, deploy_function):
    name = deploy_function({"app.py": "def handler(e, c):\n    raise KeyError('missing')\n"})
    response, payload, logs = invoke(aws_client("lambda"), name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "KeyError"
    assert payload["errorMessage"] == "'missing'"
    assert payload["stackTrace"]
    assert "[ERROR] KeyError" in logs


def test_import_error_is_reported_as_runtime_import_module_error(aws_client, deploy_function):
    name = deploy_function({"app.py": "import not_installed_anywhere\n"})
    response, payload, _ = invoke(aws_client("lambda"), name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "not_installed_anywhere" in payload["errorMessage"]


def test_timeout_is_enforced_and_the_function_works_afterwards(aws_client, deploy_sleeper):
    name = deploy_sleeper(Timeout=1)
    lambda_client = aws_client("lambda")
    response, payload, logs = invoke(lambda_client, name, {"sleep": 5})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert "Status: timeout" in logs
    # What it printed before the timeout is kept, before the runtime's line, as on AWS.
    assert logs.index("sleeping 5 s") < logs.index("Task timed out")
    response, payload, _ = invoke(lambda_client, name, {"sleep": 0})
    assert "FunctionError" not in response and payload["ended"] >= payload["started"]
    group = f"/aws/lambda/{name}"
    wait_until(
        lambda: any("sleeping 5 s" in m for m in log_messages(aws_client("logs"), group)),
        20,
        what="the line printed before the timeout, in the log group",
    )


def test_a_crashed_process_is_an_error_result_and_is_replaced(aws_client, deploy_function):
    crashing = (
        "import os\ndef handler(e, c):\n    if e.get('crash'):\n        print('about to exit')\n"
        "        os._exit(3)\n    return 'ok'\n"
    )
    name = deploy_function({"app.py": crashing})
    lambda_client = aws_client("lambda")
    response, payload, logs = invoke(lambda_client, name, {"crash": True})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in payload["errorMessage"]
    assert logs.index("about to exit") < logs.index("Runtime exited with error")
    assert invoke(lambda_client, name)[1] == "ok"


def test_simultaneous_invocations_run_in_parallel_environments(aws_client, deploy_sleeper):
    name = deploy_sleeper(Timeout=30)
    lambda_client = aws_client("lambda", max_pool_connections=16)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: invoke(lambda_client, name, {"sleep": 1.5})[1], range(8)))
    # All eight were running at one moment: the latest start precedes the earliest end.
    assert max(r["started"] for r in results) < min(r["ended"] for r in results)


def test_reserved_concurrency_throttles_invocations_beyond_it(aws_client, deploy_sleeper):
    name = deploy_sleeper(Timeout=30)
    lambda_client = aws_client("lambda", max_pool_connections=16, retries={"max_attempts": 1})
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)

    def attempt(_):
        try:
            invoke(lambda_client, name, {"sleep": 1.5})
            return "ok"
        except ClientError as error:
            return error.response["Error"]["Code"]

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(attempt, range(6)))
    assert outcomes.count("TooManyRequestsException") >= 1
    assert 1 <= outcomes.count("ok") <= 2 * 2  # never more than 2 at once; 6 x 1.5 s overlapping


def log_messages(logs, group: str) -> list[str]:
    """Every stream's messages in the group, each stream in its own order."""
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [
        event["message"]
        for stream in streams
        for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
    ]


def test_logs_reach_cloudwatch_logs(aws_client, deploy_function):
    name = deploy_function({"app.py": "def handler(e, c):\n    print('visible in cloudwatch')\n"})
    invoke(aws_client("lambda"), name)
    logs = aws_client("logs")
    group = f"/aws/lambda/{name}"
    wait_until(lambda: any("visible in cloudwatch" in m for m in log_messages(logs, group)), 20, what="log events")
    assert any(m.startswith("REPORT RequestId") for m in log_messages(logs, group))


def test_logs_of_quick_invocations_arrive_in_order_within_seconds(aws_client, deploy_function):
    """Shipped in batches, not one call per invocation: still every line, in order, and soon."""
    name = deploy_function({"app.py": "def handler(e, c):\n    print(f\"line {e['n']}\")\n"})
    lambda_client = aws_client("lambda")
    for n in range(30):
        invoke(lambda_client, name, {"n": n})
    logs = aws_client("logs")
    group = f"/aws/lambda/{name}"

    def lines() -> list[str]:
        return [m.strip() for m in log_messages(logs, group) if m.startswith("line ")]

    wait_until(lambda: len(lines()) == 30, 5, what="30 invocations' lines in CloudWatch Logs")
    assert lines() == [f"line {n}" for n in range(30)]  # sequential invokes run in one environment, one stream
    reports = [m for m in log_messages(logs, group) if m.startswith("REPORT RequestId")]
    assert len(reports) == 30


def test_a_metric_filter_on_a_functions_log_group_still_makes_its_metric(aws_client, deploy_function):
    """Lines are written into the Logs state directly, except while metric filters exist: LocalStack's Logs
    provider applies those, so then they go through it."""
    name = deploy_function({"app.py": "def handler(e, c):\n    print('ERROR: went wrong')\n"})
    logs, cloudwatch = aws_client("logs"), aws_client("cloudwatch")
    group, namespace = f"/aws/lambda/{name}", f"Test/{name}"
    logs.create_log_group(logGroupName=group)
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": namespace, "metricValue": "1"}],
    )
    try:
        for _ in range(3):
            invoke(aws_client("lambda"), name)

        def error_lines() -> list[str]:
            return [m for m in log_messages(logs, group) if "ERROR: went wrong" in m]

        wait_until(lambda: len(error_lines()) == 3, 20, what="the 3 invocations' error lines")

        def errors() -> float:  # the metric filter's metric carries no dimension
            now = datetime.now(UTC)
            datapoints = cloudwatch.get_metric_statistics(
                Namespace=namespace,
                MetricName="Errors",
                StartTime=now - timedelta(minutes=5),
                EndTime=now + timedelta(minutes=1),
                Period=60,
                Statistics=["Sum"],
            )["Datapoints"]
            return sum(point["Sum"] for point in datapoints)

        wait_until(lambda: errors() >= 3, 20, what="the metric filter's datapoints")
        assert error_lines() == ["ERROR: went wrong\n"] * 3
    finally:
        logs.delete_metric_filter(logGroupName=group, filterName="errors")


def test_invocation_metrics_are_all_in_cloudwatch(aws_client, deploy_function):
    """The buffered CloudWatch provider loses no datapoint: reads flush the buffer first."""
    name = deploy_function({"app.py": "def handler(e, c):\n    if e.get('fail'):\n        raise ValueError()\n"})
    lambda_client = aws_client("lambda")
    for index in range(7):
        invoke(lambda_client, name, {"fail": index < 2})
    cloudwatch = aws_client("cloudwatch")

    def total(metric: str) -> float | None:
        return observe.lambda_metric(cloudwatch, name, metric, "Sum")

    # Counted in memory and written each second: poll, never sleep blindly.
    wait_until(lambda: total("Invocations") == 7, 10, what="7 Invocations in CloudWatch")
    assert total("Errors") == 2
    # One sample per invocation, as LocalStack writes them: SampleCount reads as it does stock.
    assert observe.lambda_metric(cloudwatch, name, "Invocations", "SampleCount") == 7
