"""SDKs a function bundles itself, older than AWS_ENDPOINT_URL: they reach the stack without a line changed.

The SDK for JavaScript v2 ignores the variable and sends to AWS's own host names, as does a botocore from
before configured endpoints; both come from the registries here, at the versions users bundle.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import create_queue_and_table, invoke

pytestmark = [pytest.mark.registry]

AWS_SDK_V2 = "aws-sdk@2.1693.0"
OLD_BOTO3 = "boto3==1.26.165"  # botocore 1.29: no configured endpoints, no AWS_ENDPOINT_URL
INSTALL_TIMEOUT_S = 300
_NOT_BUNDLED = ("/dist/", "/dist-tools/", "/scripts/")


_USED_SERVICES = ("sqs", "dynamodb")


def bundled(relative: str) -> bool:
    """Whether a function's bundle would hold the file: no browser builds or typings, and (as a bundler
    trims botocore to stay under Lambda's 50 MB zip) only the models of the services it calls."""
    parts = relative.split("/")
    if relative.endswith((".d.ts", ".md", ".map")) or "__pycache__" in parts:
        return False
    if any(part in f"/{relative}" for part in _NOT_BUNDLED):
        return False
    if parts[0] in ("botocore", "boto3") and parts[1:2] == ["data"] and len(parts) > 3:
        return parts[2] in _USED_SERVICES
    return True


def folder_files(root: Path) -> dict[str, bytes]:
    """A folder as deploy_function's files, as a function would bundle it."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and bundled(path.relative_to(root).as_posix())
    }


@pytest.fixture(scope="module")
def sdk_v2_folder(tmp_path_factory) -> Path:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("no `node`/`npm` on this machine")
    root = tmp_path_factory.mktemp("sdk-v2")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(root), AWS_SDK_V2],
        check=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    return root


@pytest.fixture(scope="module")
def old_boto3_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("old-boto3")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    subprocess.run(
        [*pip, "--no-warn-conflicts", "--target", str(root), OLD_BOTO3],
        check=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    return root


SDK_V2_HANDLER = """
const AWS = require('aws-sdk');
exports.handler = async (event) => {
  // As the reference stack writes it: a callback and .promise() on the same request.
  await new AWS.DynamoDB.DocumentClient().put({ TableName: event.table, Item: { id: 'from-v2', message: 'hi' } },
    (err) => { if (err) console.log('put failed', err); }).promise();
  await new AWS.SQS().sendMessage({ QueueUrl: event.queue, MessageBody: 'from v2' }).promise();
  const described = await new AWS.DynamoDB().describeTable({ TableName: event.table }).promise();
  return { version: AWS.VERSION, table: described.Table.TableName };
};
"""


def test_a_bundled_sdk_v2_reaches_dynamodb_and_sqs(aws_client, deploy_function, sdk_v2_folder):
    queue_url = create_queue_and_table(aws_client, "from-sdk-v2", "FromSdkV2")
    files = {**folder_files(sdk_v2_folder), "index.js": SDK_V2_HANDLER}
    name = deploy_function(files, "index.handler", Runtime="nodejs22.x", Timeout=20)
    response, payload, logs = invoke(aws_client("lambda"), name, {"table": "FromSdkV2", "queue": queue_url})
    assert "FunctionError" not in response, logs
    assert payload == {"version": AWS_SDK_V2.split("@")[1], "table": "FromSdkV2"}
    item = aws_client("dynamodb").get_item(TableName="FromSdkV2", Key={"id": {"S": "from-v2"}})["Item"]
    assert item["message"] == {"S": "hi"}
    bodies = [m["Body"] for m in aws_client("sqs").receive_message(QueueUrl=queue_url)["Messages"]]
    assert bodies == ["from v2"]


OLD_BOTO3_HANDLER = """
import boto3, botocore, os
def handler(event, context):
    sqs = boto3.client("sqs")
    if sqs.meta.endpoint_url != os.environ["AWS_ENDPOINT_URL"]:
        return {"refused": sqs.meta.endpoint_url}  # never send to AWS from a test
    sqs.send_message(QueueUrl=event["queue"], MessageBody="from botocore " + botocore.__version__)
    boto3.resource("dynamodb").Table(event["table"]).put_item(Item={"id": "from-old-boto3"})
    explicit = boto3.client("sqs", endpoint_url="http://127.0.0.1:1")
    return {"version": botocore.__version__, "explicit": explicit.meta.endpoint_url}
"""


def test_a_bundled_botocore_older_than_aws_endpoint_url_reaches_the_stack(
    aws_client, deploy_function, old_boto3_folder
):
    queue_url = create_queue_and_table(aws_client, "from-old-boto3", "FromOldBoto3")
    files = {**folder_files(old_boto3_folder), "app.py": OLD_BOTO3_HANDLER}
    name = deploy_function(files, Timeout=20)
    response, payload, logs = invoke(aws_client("lambda"), name, {"table": "FromOldBoto3", "queue": queue_url})
    assert "FunctionError" not in response, logs
    # The bundled botocore ran, not the one this machine provides, and an explicit endpoint is kept.
    assert payload == {"version": "1.29.165", "explicit": "http://127.0.0.1:1"}
    assert aws_client("dynamodb").get_item(TableName="FromOldBoto3", Key={"id": {"S": "from-old-boto3"}})["Item"]
    bodies = [m["Body"] for m in aws_client("sqs").receive_message(QueueUrl=queue_url)["Messages"]]
    assert bodies == ["from botocore 1.29.165"]
