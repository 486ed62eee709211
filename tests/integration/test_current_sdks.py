"""Today's clients against the stack: the newest boto3, AWS CLI and AWS SDK for JavaScript v3 from the
registries, installed apart from the project's pinned venv, one call per service the harness exposes, and
CloudWatch reads of the harness's own metrics (the pinned clients would hide a protocol the stack does not
speak: current botocore sends CloudWatch as Smithy RPC v2 CBOR, the JavaScript SDK and the CLI as JSON 1.0)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.version import Version

from harness.observe import lambda_metric, queue_depth
from harness.polling import wait_until
from tests.integration.helpers import TIMED_SUBSCRIBER, flood

pytestmark = [pytest.mark.registry, pytest.mark.slow]

HERE = Path(__file__).parent / "current_sdks"
CONSTRAINTS = Path(__file__).parents[2] / "constraints.txt"
SERVICES = (
    "cloudwatch",
    "sqs",
    "dynamodb",
    "lambda",
    "apigateway",
    "logs",
    "cloudformation",
    "s3",
    "secretsmanager",
    "sts",
)
NPM_CLIENTS = (
    "cloudwatch",
    "sqs",
    "dynamodb",
    "lambda",
    "api-gateway",
    "cloudwatch-logs",
    "cloudformation",
    "s3",
    "secrets-manager",
    "sts",
)
INSTALL_TIMEOUT_S = 300
FLOODED = 30


def pinned(package: str) -> Version:
    match = re.search(rf"^{package}==(\S+)$", CONSTRAINTS.read_text(), re.MULTILINE)
    assert match, f"{package} is not pinned in {CONSTRAINTS}"
    return Version(match[1])


def isolated_env(endpoint: str) -> dict[str, str]:
    """Dummy credentials and the stack's endpoint, nothing from the caller's AWS configuration."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return keep | {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def _install(command: list[str], what: str, **kwargs) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, **kwargs)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        output = getattr(error, "stderr", "") or ""
        pytest.skip(f"could not install the newest {what} from the registry: {output.strip()[-400:] or error}")


def newest_from_pypi(folder: Path, package: str) -> tuple[Path, Version]:
    """A virtual environment of its own with the registry's newest ``package`` (no constraints)."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"PIP_CONSTRAINT", "PYTHONPATH"}}
    _install(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", package],
        package,
        env=env,
    )
    shown = subprocess.run(
        [str(python), "-m", "pip", "show", package], check=True, capture_output=True, text=True
    ).stdout
    version = Version(re.search(r"^Version: (\S+)$", shown, re.MULTILINE)[1])
    if version <= pinned(package):
        pytest.skip(f"the registry's newest {package} is {version}, no newer than the pinned {pinned(package)}")
    return python, version


@pytest.fixture(scope="module")
def flooded(deploy_topology, aws_client):
    """A topology whose subscriber ran and was throttled, so AWS/Lambda has ConcurrentExecutions and Throttles."""
    topology = deploy_topology(subscriber_dir=TIMED_SUBSCRIBER, reserved_concurrency=1, backend_latency_ms=200)
    outputs = topology.outputs
    flood(aws_client("sqs"), outputs.queue_url, FLOODED)
    sqs, cloudwatch = aws_client("sqs"), aws_client("cloudwatch")
    wait_until(lambda: queue_depth(sqs, outputs.queue_url).total == 0, 60, 0.2, what="the queue to drain")
    wait_until(
        lambda: (lambda_metric(cloudwatch, outputs.subscriber_name, "Throttles", "Sum") or 0) > 0,
        10,
        what="Throttles in CloudWatch (pinned client)",
    )
    return topology


def smoke_results(script: list[str], topology, *extra: str) -> dict:
    """Run a smoke script (``script endpoint facts [extra...]``) with the newest client; its JSON answer."""
    endpoint = topology.outputs.endpoint
    answered = subprocess.run(
        [*script, endpoint, _facts(topology), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=isolated_env(endpoint),
        check=True,
    )
    return json.loads(answered.stdout)


def _facts(topology) -> str:
    outputs = topology.outputs
    return json.dumps(
        {
            "subscriber_name": outputs.subscriber_name,
            "queue_url": outputs.queue_url,
            "table_name": outputs.table_name,
            "api_id": outputs.api_id,
        }
    )


def assert_every_service_answered(results: dict, flooded) -> None:
    failed = {service: results[service]["error"] for service in SERVICES if "error" in results[service]}
    assert not failed, f"{results['sdk']}: {failed}"
    cloudwatch = results["cloudwatch"]
    assert {"ConcurrentExecutions", "Throttles"} <= set(cloudwatch["lambda_metric_names"]), cloudwatch
    assert cloudwatch["concurrent_executions_max"] == 1  # the reserved concurrency, read by today's client
    assert cloudwatch["throttles_sum"] > 0
    assert cloudwatch["own_metric"] == ["Orders"]
    assert cloudwatch["missing_dashboard_error"] == "InvalidParameterValue"  # the query error code, as AWS
    assert results["sqs"]["body"] == "hello"
    assert results["dynamodb"]["rows"] == FLOODED
    assert results["lambda"]["reserved"] == 1
    assert results["apigateway"]["name"] == flooded.settings.resource_name("api_name")
    assert results["logs"]["events"] > 0
    assert results["s3"]["body"] == "payload" and results["secretsmanager"]["value"] == "s3cret"
    assert results["sts"]["account"] == "000000000000"


def test_the_newest_boto3_reads_the_harness_metrics_and_reaches_every_service(flooded, tmp_path_factory):
    python, version = newest_from_pypi(tmp_path_factory.mktemp("newest-boto3"), "boto3")
    results = smoke_results([str(python), str(HERE / "smoke.py")], flooded)
    assert results["sdk"] == f"boto3 {version}"
    assert_every_service_answered(results, flooded)
    assert len(results["cloudwatch"]["alarms"]) == 1, results["cloudwatch"]


def test_the_newest_aws_cli_lists_the_harness_metrics(flooded, tmp_path_factory):
    python, _ = newest_from_pypi(tmp_path_factory.mktemp("newest-awscli"), "awscli")
    endpoint = flooded.outputs.endpoint
    subscriber = flooded.outputs.subscriber_name

    def aws(*args: str) -> dict:
        answered = subprocess.run(
            [str(python), "-m", "awscli", *args, "--endpoint-url", endpoint, "--output", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=isolated_env(endpoint),
        )
        assert answered.returncode == 0, answered.stderr
        return json.loads(answered.stdout)

    listed = aws("cloudwatch", "list-metrics", "--namespace", "AWS/Lambda")["Metrics"]
    names = {m["MetricName"] for m in listed if {"Name": "FunctionName", "Value": subscriber} in m["Dimensions"]}
    assert {"ConcurrentExecutions", "Throttles"} <= names
    maximum = aws(
        "cloudwatch",
        "get-metric-statistics",
        "--namespace=AWS/Lambda",
        "--metric-name=ConcurrentExecutions",
        f"--dimensions=Name=FunctionName,Value={subscriber}",
        f"--start-time={int(time.time()) - 1800}",
        f"--end-time={int(time.time()) + 60}",
        "--period=3600",
        "--statistics=Maximum",
    )["Datapoints"]
    assert max(point["Maximum"] for point in maximum) == 1
    attributes = aws(
        "sqs", "get-queue-attributes", "--queue-url", flooded.outputs.queue_url, "--attribute-names", "All"
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert aws("sts", "get-caller-identity")["Account"] == "000000000000"


def test_the_newest_javascript_sdk_reads_the_harness_metrics_and_reaches_every_service(flooded, tmp_path_factory):
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("no `node`/`npm` on this machine")
    folder = tmp_path_factory.mktemp("newest-js-sdk")
    (folder / "package.json").write_text('{"private": true}')
    _install(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            *(f"@aws-sdk/client-{c}@latest" for c in NPM_CLIENTS),
        ],
        "AWS SDK for JavaScript v3 clients",
        cwd=folder,
    )
    results = smoke_results(["node", str(HERE / "smoke.mjs")], flooded, str(folder))
    assert_every_service_answered(results, flooded)
