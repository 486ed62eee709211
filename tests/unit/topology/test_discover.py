"""Finding the webhook in a stack's resources, over moto's models of the services (the stack's resource list
is a stand-in: what CloudFormation would answer for them)."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

import pytest

from harness.exceptions import DeployError
from harness.stack.config import StackSettings
from harness.topology.discover import Picks, discover

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                  "Action": "sts:AssumeRole"}]}  # fmt: skip


class Resources:
    """CloudFormation's ListStackResources for the resources a test made: (type, physical id)."""

    def __init__(self) -> None:
        self.listed: list[tuple[str, str]] = []

    def add(self, kind: str, physical_id: str) -> str:
        self.listed.append((kind, physical_id))
        return physical_id

    def get_paginator(self, _: str) -> Resources:
        return self

    def paginate(self, **_: str) -> list[dict]:
        summaries = [{"ResourceType": kind, "PhysicalResourceId": physical, "LogicalResourceId": physical}
                     for kind, physical in self.listed]  # fmt: skip
        return [{"StackResourceSummaries": summaries}]


@pytest.fixture
def stack(moto_client):
    resources = Resources()

    def client(service: str):
        return resources if service == "cloudformation" else moto_client(service)

    return resources, client


def function(client, resources, name: str, environment: dict | None = None) -> str:
    role = client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    code = BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    client("lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role["Arn"], Handler="app.handler",
        Code={"ZipFile": code.getvalue()}, Environment={"Variables": environment or {}},
    )  # fmt: skip
    return resources.add("AWS::Lambda::Function", name)


def queue(client, resources, name: str, dlq_arn: str = "") -> tuple[str, str]:
    attributes = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})}
    url = client("sqs").create_queue(QueueName=name, Attributes=attributes if dlq_arn else {})["QueueUrl"]
    arn = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    resources.add("AWS::SQS::Queue", url)
    return url, arn


def table(client, resources, name: str) -> str:
    client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    return resources.add("AWS::DynamoDB::Table", name)


def rest_api(client, resources, publisher: str) -> str:
    apigateway = client("apigateway")
    api_id = apigateway.create_rest_api(name="hook")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="POST", authorizationType="NONE")
    function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{publisher}"
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="POST", type="AWS_PROXY",
                               integrationHttpMethod="POST", uri=uri)  # fmt: skip
    apigateway.create_deployment(restApiId=api_id, stageName="live")
    return resources.add("AWS::ApiGateway::RestApi", api_id)


def webhook(stack, *, dlq: bool = True, tables: tuple[str, ...] = ("Rows",), named: str = "") -> None:
    """A publisher behind a REST API, a queue (with or without a DLQ) mapped to a subscriber, its tables."""
    resources, client = stack
    dlq_arn = queue(client, resources, "dead")[1] if dlq else ""
    url, arn = queue(client, resources, "inbox", dlq_arn)
    function(client, resources, "receiver", {"QUEUE_URL": url})
    function(client, resources, "writer", {"TABLE": named} if named else {})
    mapping = client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="writer", BatchSize=10)
    resources.add("AWS::Lambda::EventSourceMapping", mapping["UUID"])
    rest_api(client, resources, "receiver")
    for name in tables:
        table(client, resources, name)


SETTINGS = StackSettings.from_env({})


def test_the_topology_is_found_from_the_stacks_resources(stack):
    webhook(stack)
    found = discover(SETTINGS, stack[1], "mine")
    assert (found.publisher_name, found.subscriber_name, found.table_name) == ("receiver", "writer", "Rows")
    assert found.queue_url.endswith("/inbox") and found.dlq_url.endswith("/dead")
    assert found.webhook_url == f"{SETTINGS.host_endpoint_url}/_aws/execute-api/{found.api_id}/live"
    assert (found.stack_name, found.entry_kind, found.ours) == ("mine", "REST API", False)


def test_a_stack_without_a_dlq_is_a_finding_not_an_error(stack):
    webhook(stack, dlq=False)
    found = discover(SETTINGS, stack[1], "mine")
    assert found.dlq_url == "" and not found.has_dlq


def test_of_several_tables_the_one_the_subscriber_names_is_the_backend(stack):
    webhook(stack, tables=("Audit", "Orders"), named="Orders")
    assert discover(SETTINGS, stack[1], "mine").table_name == "Orders"


def test_several_candidates_and_no_pick_name_them_and_the_flag_that_picks(stack):
    webhook(stack, tables=("Audit", "Orders"))
    with pytest.raises(DeployError, match=r"2 candidate DynamoDB tables: Audit, Orders; pick one with --table"):
        discover(SETTINGS, stack[1], "mine")
    assert discover(SETTINGS, stack[1], "mine", Picks(table="Audit")).table_name == "Audit"
    with pytest.raises(DeployError, match="--table Nope: stack mine has no such DynamoDB table"):
        discover(SETTINGS, stack[1], "mine", Picks(table="Nope"))


def test_a_stack_without_a_mapped_subscriber_says_what_the_harness_needs(stack):
    resources, client = stack
    table(client, resources, "Rows")
    with pytest.raises(DeployError, match="has no subscriber function: the harness needs a webhook entry"):
        discover(SETTINGS, client, "empty")


def test_a_rest_api_sending_to_the_queue_itself_is_the_direct_way_in(stack):
    resources, client = stack
    url, arn = queue(client, resources, "inbox")
    function(client, resources, "writer")
    mapping = client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="writer", BatchSize=10)
    resources.add("AWS::Lambda::EventSourceMapping", mapping["UUID"])
    table(client, resources, "Rows")
    apigateway = client("apigateway")
    api_id = apigateway.create_rest_api(name="hook")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="POST", authorizationType="NONE")
    apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="POST", type="AWS",
                               integrationHttpMethod="POST",
                               uri="arn:aws:apigateway:us-east-1:sqs:path/123456789012/inbox")  # fmt: skip
    apigateway.create_deployment(restApiId=api_id, stageName="live")
    resources.add("AWS::ApiGateway::RestApi", api_id)
    found = discover(SETTINGS, client, "mine")
    assert (found.ingress, found.publisher_name, found.subscriber_name) == ("direct", "", "writer")
    assert found.queue_url == url and found.api_id == api_id
    assert found.webhook_url == f"{SETTINGS.host_endpoint_url}/_aws/execute-api/{api_id}/live"
