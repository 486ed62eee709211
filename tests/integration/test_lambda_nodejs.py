"""Node.js functions in the local-process executor, behind LocalStack's real Lambda API, as on AWS."""

from __future__ import annotations

import contextlib
import shutil

import pytest
from botocore.exceptions import ClientError

from harness.lambda_admin import LAMBDA_ROLE
from harness.localstack_extensions.lambda_executor import runtimes
from harness.polling import wait_until
from harness.topology.config import FUNCTIONS_DIR as FUNCTIONS
from harness.topology.packaging import zip_sources
from tests.integration.helpers import NODE_SLEEPER, create_queue_and_table, invoke

if shutil.which("node") is None:
    pytest.skip("no `node` on this machine: Node.js functions cannot run here", allow_module_level=True)

RUNTIME = "nodejs22.x"


@pytest.fixture
def deploy_node(deploy_function):
    def deploy(files, handler="index.handler", **kwargs):
        return deploy_function(files, handler, Runtime=kwargs.pop("Runtime", RUNTIME), **kwargs)

    return deploy


def test_the_provided_sdk_v3_reaches_sqs_and_dynamodb(aws_client, deploy_node):
    sqs, dynamodb = aws_client("sqs"), aws_client("dynamodb")
    queue_url = create_queue_and_table(aws_client, "from-node", "FromNode")
    source = """
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');
const { DynamoDBDocumentClient, PutCommand } = require('@aws-sdk/lib-dynamodb');
const sqs = new SQSClient({});
const table = DynamoDBDocumentClient.from(new DynamoDBClient({}));
exports.handler = async (event, context) => {
  console.log('sending for', context.awsRequestId);
  await sqs.send(new SendMessageCommand({ QueueUrl: event.queue, MessageBody: 'from node' }));
  await table.send(new PutCommand({ TableName: 'FromNode', Item: { id: 'x', by: context.functionName } }));
  return { ok: true, remaining: context.getRemainingTimeInMillis() };
};
"""
    name = deploy_node({"index.js": source}, Timeout=30)
    response, payload, logs = invoke(aws_client("lambda"), name, {"queue": queue_url})
    assert "FunctionError" not in response, payload
    assert payload["ok"] is True and 0 < payload["remaining"] <= 30_000
    assert sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"] == "from node"
    item = dynamodb.get_item(TableName="FromNode", Key={"id": {"S": "x"}})["Item"]
    assert item["by"] == {"S": name}
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert f"\t{request_id}\tINFO\tsending for {request_id}" in logs
    assert logs.startswith("START RequestId:") and "REPORT RequestId:" in logs and "Init Duration" in logs


def test_the_provided_sdk_writes_and_reads_cloudwatch_metrics(aws_client, deploy_node):
    """The SDK a Node function gets speaks CloudWatch's JSON 1.0 protocol, not the query protocol."""
    source = """
const cw = require('@aws-sdk/client-cloudwatch');
const client = new cw.CloudWatchClient({});
exports.handler = async (event) => {
  const now = new Date();
  await client.send(new cw.PutMetricDataCommand({
    Namespace: event.namespace, MetricData: [{ MetricName: 'Orders', Value: 7, Timestamp: now }],
  }));
  const listed = await client.send(new cw.ListMetricsCommand({ Namespace: event.namespace }));
  const stats = await client.send(new cw.GetMetricStatisticsCommand({
    Namespace: event.namespace, MetricName: 'Orders', Period: 60, Statistics: ['Sum'],
    StartTime: new Date(now - 300000), EndTime: new Date(+now + 60000),
  }));
  let missing = null;
  try { await client.send(new cw.GetDashboardCommand({ DashboardName: event.namespace })); }
  catch (error) { missing = error.Code; }
  return { listed: listed.Metrics.map((m) => m.MetricName), sums: stats.Datapoints.map((d) => d.Sum), missing };
};
"""
    name = deploy_node({"index.js": source}, Timeout=30)
    namespace = f"Node/{name}"
    response, payload, _ = invoke(aws_client("lambda"), name, {"namespace": namespace})
    assert "FunctionError" not in response, payload
    assert payload == {"listed": ["Orders"], "sums": [7], "missing": "InvalidParameterValue"}
    assert [m["MetricName"] for m in aws_client("cloudwatch").list_metrics(Namespace=namespace)["Metrics"]] == [
        "Orders"
    ]  # the same store the query protocol reads


@pytest.mark.parametrize(
    "files",
    [
        {"index.mjs": "import { SQSClient } from '@aws-sdk/client-sqs';\n"
                      "export const handler = async () => typeof SQSClient;\n"},
        {"package.json": '{"type": "module"}',
         "index.js": "import { SQSClient } from '@aws-sdk/client-sqs';\n"
                     "const kind = await Promise.resolve(typeof SQSClient);\n"
                     "export const handler = async () => kind;\n"},
    ],
    ids=["mjs", "type-module"],
)  # fmt: skip
def test_es_module_handlers_import_the_provided_sdk(aws_client, deploy_node, files):
    name = deploy_node(files)
    response, payload, _ = invoke(aws_client("lambda"), name)
    assert "FunctionError" not in response, payload
    assert payload == "function"


def test_callback_handlers_wait_for_the_event_loop_unless_told_not_to(aws_client, deploy_node):
    source = """
let sideEffects = 0;
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => { sideEffects += 1; }, 300);
  callback(null, { sideEffectsBefore: sideEffects });
};
exports.count = async () => sideEffects;
"""
    lambda_client = aws_client("lambda")
    name = deploy_node({"index.js": source}, Timeout=10)
    _, first, _ = invoke(lambda_client, name, {"wait": True})
    _, second, _ = invoke(lambda_client, name, {"wait": True})
    assert (first, second) == ({"sideEffectsBefore": 0}, {"sideEffectsBefore": 1})  # the timer ran before the reply
    response, payload, _ = invoke(lambda_client, name, {"wait": False})
    assert "FunctionError" not in response and payload == {"sideEffectsBefore": 2}


def test_errors_come_back_in_the_node_runtimes_shape(aws_client, deploy_node):
    name = deploy_node({"index.js": "exports.handler = async () => { throw new TypeError('bad input'); };"})
    response, payload, logs = invoke(aws_client("lambda"), name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "TypeError" and payload["errorMessage"] == "bad input"
    assert payload["trace"][0] == "TypeError: bad input"
    assert "\tERROR\tInvoke Error \t" in logs


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        ({"index.js": "require('not-installed-anywhere');"}, "index.handler", "Runtime.ImportModuleError",
         "Cannot find module 'not-installed-anywhere'"),
        ({"index.js": "exports.other = async () => 1;"}, "index.handler", "Runtime.HandlerNotFound",
         "index.handler is undefined or not exported"),
        ({"index.js": "exports.handler = async () => {"}, "index.handler", "Runtime.UserCodeSyntaxError",
         "SyntaxError: "),
        ({"index.js": "exports.handler = async () => 1;"}, "missing.handler", "Runtime.ImportModuleError",
         "Cannot find module"),
    ],
    ids=["import", "handler-not-found", "syntax", "no-such-file"],
)  # fmt: skip
def test_init_errors_are_reported_as_aws_reports_them(aws_client, deploy_node, files, handler, error_type, message):
    name = deploy_node(files, handler)
    response, payload, _ = invoke(aws_client("lambda"), name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == error_type
    assert message in payload["errorMessage"]


def test_aws_sdk_v2_is_not_provided_but_a_bundled_one_works(aws_client, deploy_node):
    uses_v2 = "const AWS = require('aws-sdk');\nexports.handler = async () => AWS.VERSION;\n"
    unbundled = deploy_node({"index.js": uses_v2})
    _, payload, _ = invoke(aws_client("lambda"), unbundled)
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "Cannot find module 'aws-sdk'" in payload["errorMessage"]
    bundled = deploy_node(
        {
            "index.js": uses_v2,
            "node_modules/aws-sdk/package.json": '{"name": "aws-sdk", "version": "2.1692.0", "main": "index.js"}',
            "node_modules/aws-sdk/index.js": "exports.VERSION = '2.1692.0';",
        }
    )
    response, payload, _ = invoke(aws_client("lambda"), bundled)
    assert "FunctionError" not in response and payload == "2.1692.0"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("exports.handler = async (e) => { if (e.crash) { console.log('about to exit'); process.exit(3); } "
         "return 'ok'; };", "exit status 3"),
        ("exports.handler = async (e) => { if (e.crash) Promise.reject(new Error('lost')); "
         "await new Promise((r) => setTimeout(r, 200)); return 'ok'; };", "exit status 128"),
    ],
    ids=["process-exit", "unhandled-rejection"],
)  # fmt: skip
def test_an_exiting_process_is_an_exit_error_and_is_replaced(aws_client, deploy_node, source, reason):
    name = deploy_node({"index.js": source})
    lambda_client = aws_client("lambda")
    _, payload, logs = invoke(lambda_client, name, {"crash": True})
    assert payload["errorType"] == "Runtime.ExitError" and reason in payload["errorMessage"]
    if "about to exit" in source:
        assert logs.index("about to exit") < logs.index("Runtime exited with error")
    assert invoke(lambda_client, name)[1] == "ok"


def test_runtimes_follow_awss_table(aws_client, deploy_node):
    lambda_client = aws_client("lambda")
    with pytest.raises(ClientError) as refused:
        deploy_node({"index.js": NODE_SLEEPER}, Runtime="nodejs20.x")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == runtimes.blocked_message("nodejs20.x")
    newest = deploy_node(
        {"index.js": "exports.handler = async () => [process.versions.node, process.env.AWS_EXECUTION_ENV];"},
        Runtime="nodejs24.x",
    )
    response, payload, _ = invoke(lambda_client, newest)
    assert "FunctionError" not in response and payload[0].split(".")[0] == str(runtimes.node_major())
    assert payload[1] == "AWS_Lambda_nodejs24.x"
    # Node.js 24 removed callback handlers: one declaring a third parameter fails at init, as on AWS.
    callback = deploy_node(
        {"index.js": "exports.handler = (e, c, callback) => callback(null, 1);"}, Runtime="nodejs24.x"
    )
    _, payload, _ = invoke(lambda_client, callback)
    assert payload["errorType"] == "Runtime.CallbackHandlerDeprecated"
    assert "removed support for callback-based function handlers starting with Node.js 24" in payload["errorMessage"]


def test_other_runtimes_fail_with_a_clear_reason(aws_client):
    lambda_client = aws_client("lambda")
    lambda_client.create_function(
        FunctionName="ruby-fn",
        Runtime="ruby3.3",
        Role=LAMBDA_ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_sources({"index.rb": "def handler(event:, context:) 1 end"})},
    )
    wait_until(
        lambda: lambda_client.get_function(FunctionName="ruby-fn")["Configuration"]["State"] == "Failed",
        20,
        what="the function to fail",
    )
    reason = lambda_client.get_function(FunctionName="ruby-fn")["Configuration"]["StateReason"]
    assert "runs Python and Node.js functions, not ruby3.3" in reason
    with contextlib.suppress(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.delete_function(FunctionName="ruby-fn")


def test_logs_reach_cloudwatch_logs_as_the_node_runtime_writes_them(aws_client, deploy_node):
    name = deploy_node({"index.js": "exports.handler = async () => { console.warn('careful', {a: 1}); };"})
    invoke(aws_client("lambda"), name)
    logs = aws_client("logs")

    def messages():
        try:
            streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [
            event["message"]
            for stream in streams
            for event in logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=stream["logStreamName"])[
                "events"
            ]
        ]

    wait_until(lambda: any("\tWARN\tcareful { a: 1 }" in m for m in messages()), 20, what="the console.warn line")
    assert invoke(aws_client("lambda"), name)[1] is None  # a handler returning undefined answers null


@pytest.mark.slow
def test_the_topology_runs_with_the_node_subscriber(deploy_topology, run_load, aws_client):
    """The Node.js example subscriber in the pattern: a burst with duplicates, one row each, nothing lost."""
    topology = deploy_topology(subscriber_dir=FUNCTIONS / "subscriber-node")
    function = aws_client("lambda").get_function(FunctionName=topology.outputs.subscriber_name)["Configuration"]
    assert function["Runtime"] == "nodejs22.x" and function["Handler"] == "app.handler"
    verdict, _ = run_load(topology, duplicate_share=0.2, shape="steady", users=8, duration_s=12, drain_timeout_s=120)
    assert verdict.verdict == "PASS", verdict.reasons
    assert verdict.rows > 30 and verdict.lost == 0 and verdict.duplicate_rows == 0
    assert verdict.duplicates_injected > 0 and verdict.duplicates_suppressed >= verdict.duplicates_injected
    assert verdict.max_consumer_concurrency <= 2
