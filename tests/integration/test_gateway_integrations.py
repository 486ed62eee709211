"""API Gateway's integrations, served in LocalStack's process (``patches``), answer as they did through its
internal client and its own port: a function's answer, its error, its throttle; SQS's SendMessage."""

from __future__ import annotations

import json
import uuid

import pytest

from harness.polling import poll
from tests.integration.helpers import send

ANSWERING = """
import json
def handler(event, context):
    if event["path"].endswith("/fail"):
        raise ValueError("went wrong")
    return {"statusCode": 201, "headers": {"X-Seen": event["headers"].get("X-Case", "")},
            "body": json.dumps({"path": event["path"], "body": event["body"]})}
"""


@pytest.fixture
def rest_api(aws_client, localstack):
    """``rest_api(uri, type, **integration) -> invoke URL``: a REST API whose ANY /{proxy+} has that integration."""
    apigateway = aws_client("apigateway")
    created = []

    def make(uri: str, kind: str, **integration) -> str:
        api = apigateway.create_rest_api(name=f"gw-{uuid.uuid4().hex[:8]}")["id"]
        created.append(api)
        root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
        proxy = apigateway.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
        apigateway.put_method(restApiId=api, resourceId=proxy, httpMethod="ANY", authorizationType="NONE")
        apigateway.put_integration(
            restApiId=api, resourceId=proxy, httpMethod="ANY", type=kind, integrationHttpMethod="POST", uri=uri,
            **integration,
        )  # fmt: skip
        if kind == "AWS":
            apigateway.put_method_response(restApiId=api, resourceId=proxy, httpMethod="ANY", statusCode="200")
            apigateway.put_integration_response(
                restApiId=api, resourceId=proxy, httpMethod="ANY", statusCode="200", responseTemplates={}
            )
        apigateway.create_deployment(restApiId=api, stageName="test")
        return f"{localstack.endpoint}/_aws/execute-api/{api}/test"

    yield make
    for api in created:
        apigateway.delete_rest_api(restApiId=api)


def lambda_uri(region: str, name: str) -> str:
    arn = f"arn:aws:lambda:{region}:000000000000:function:{name}"
    return f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"


def test_a_proxy_integration_answers_the_functions_answer_its_error_and_its_throttle(
    aws_client, deploy_function, rest_api, stack_settings
):
    name = deploy_function({"app.py": ANSWERING})
    url = rest_api(lambda_uri(stack_settings.region, name), "AWS_PROXY")
    status, body = send(url, "POST", "/hello", b'{"a": 1}', {"X-Case": "Kept"})
    assert status == 201 and json.loads(body) == {"path": "/hello", "body": '{"a": 1}'}
    status, body = send(url, "POST", "/fail")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}
    aws_client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    status, _ = send(url, "POST", "/hello", b"{}")
    assert status == 502  # the throttle (TooManyRequestsException), mapped as LocalStack maps it
    missing = rest_api(lambda_uri(stack_settings.region, "no-such-function"), "AWS_PROXY")
    assert send(missing, "POST", "/hello", b"{}")[0] == 502


def test_an_sqs_integration_sends_the_message_its_template_renders(aws_client, rest_api, stack_settings):
    sqs = aws_client("sqs")
    queue = f"gw-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    try:
        uri = f"arn:aws:apigateway:{stack_settings.region}:sqs:path/000000000000/{queue}"
        url = rest_api(
            uri,
            "AWS",
            requestParameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
            requestTemplates={"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"},
            passthroughBehavior="NEVER",
        )
        body = '{"text": "a & b = ü"}'
        status, answer = send(url, "POST", "/x", body.encode(), {"Content-Type": "application/json"})
        assert status == 200 and b"SendMessageResponse" in answer  # SQS's own (query protocol) answer
        received = poll(
            lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages"),
            timeout_s=10,
            what="the message",
        )
        assert [message["Body"] for message in received] == [body]
    finally:
        sqs.delete_queue(QueueUrl=queue_url)
