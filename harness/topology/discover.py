"""Find the Scalable Webhook inside a deployed CloudFormation stack: the same record `harness deploy` writes.

From the stack's resources: the subscriber is the function an SQS event-source mapping of the stack feeds;
the queue is that mapping's source and the DLQ its redrive target (none is a finding, not an error); the
webhook entry is the REST API or function URL whose integration is another function, the
publisher, or else a REST API whose method sends to that queue itself (an ``AWS`` integration with SQS:
the direct way in, no publisher); the backend is the stack's DynamoDB table (the one the subscriber's
environment names when there are several). Where the stack holds several candidates, the error lists
them with the flag that picks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.exceptions import DeployError
from harness.outputs import Outputs
from harness.stack.config import StackSettings


@dataclass(frozen=True)
class Picks:
    """The user's choice where a stack holds several candidates (flags --subscriber-function and so on)."""

    subscriber_function: str = ""
    publisher_function: str = ""
    table: str = ""
    stage: str = ""


@dataclass(frozen=True)
class Entry:
    """A way in: how to build its URL and which function it invokes."""

    kind: str
    url: str
    function: str
    """The function it invokes; "" for a direct integration with SQS."""
    api_id: str = ""
    host: str = ""
    """A function URL is routed by its host name: sent as the Host header to the loopback address."""
    queue: str = ""
    """The queue a direct integration sends to (its name)."""


def stack_resources(cloudformation: Any, stack_name: str) -> dict[str, list[dict[str, Any]]]:
    """Resource type -> the stack's resources of that type (logical and physical ids)."""
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            if resource.get("PhysicalResourceId"):
                by_type[resource["ResourceType"]].append(resource)
    return by_type


def _choose(what: str, candidates: list[str], picked: str, flag: str, stack_name: str) -> str:
    if picked:
        if picked not in candidates:
            raise DeployError(
                f"{flag} {picked}: stack {stack_name} has no such {what}; it has {', '.join(candidates) or 'none'}"
            )
        return picked
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DeployError(f"stack {stack_name} has no {what}: {_WHAT_IT_NEEDS}")
    raise DeployError(
        f"stack {stack_name} has {len(candidates)} candidate {what}s: {', '.join(candidates)}; pick one with {flag}"
    )


_WHAT_IT_NEEDS = (
    "the harness needs a webhook entry (REST API or function URL) invoking a publisher function, or a REST API "
    "sending to the queue directly, an SQS "
    "queue with an event-source mapping to a subscriber function, and a DynamoDB table"
)


def _function_name(arn_or_name: str) -> str:
    """``arn:aws:lambda:...:function:NAME[:alias]`` or an integration URI -> NAME."""
    if ":function:" not in arn_or_name:
        return arn_or_name
    return arn_or_name.split(":function:", 1)[1].split("/", 1)[0].split(":", 1)[0]


def discover(
    stack: StackSettings,
    client: Callable[[str], Any],
    stack_name: str,
    picks: Picks = Picks(),
) -> Outputs:
    """The deployed stack's topology, as the record the load, the evidence and the fixtures read."""
    resources = stack_resources(client("cloudformation"), stack_name)
    lambda_client, sqs = client("lambda"), client("sqs")
    functions = {r["PhysicalResourceId"] for r in resources["AWS::Lambda::Function"]}
    mappings = []
    for resource in resources["AWS::Lambda::EventSourceMapping"]:
        mapping = lambda_client.get_event_source_mapping(UUID=resource["PhysicalResourceId"])
        if mapping.get("EventSourceArn", "").startswith("arn:aws:sqs:"):
            mappings.append(mapping)
    subscribers = sorted({_function_name(m["FunctionArn"]) for m in mappings})
    subscriber = _choose(
        "subscriber function", subscribers, picks.subscriber_function, "--subscriber-function", stack_name
    )
    mapping = next(m for m in mappings if _function_name(m["FunctionArn"]) == subscriber)
    queue_arn = mapping["EventSourceArn"]
    queue_url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])["QueueUrl"]

    all_entries = webhook_entries(stack, client, resources, picks.stage)
    entries = [e for e in all_entries if e.function and e.function != subscriber]
    direct = [e for e in all_entries if e.queue and e.queue == queue_arn.rsplit(":", 1)[1]]
    publishers = sorted({e.function for e in entries if e.function in functions or not functions})
    if direct and not publishers and not picks.publisher_function:
        return _outputs(stack, client, resources, picks, stack_name, mapping, direct[0], "", subscriber)
    environments = {name: _environment(lambda_client, name) for name in publishers}
    sending = [name for name in publishers if _mentions(environments[name], queue_url, queue_arn)]
    publisher = _choose(
        "publisher function (behind the webhook entry)",
        sending if len(sending) == 1 and not picks.publisher_function else publishers,
        picks.publisher_function,
        "--publisher-function",
        stack_name,
    )
    entry = next(e for e in entries if e.function == publisher)
    return _outputs(stack, client, resources, picks, stack_name, mapping, entry, publisher, subscriber)


def _outputs(
    stack: StackSettings,
    client: Callable[[str], Any],
    resources: dict[str, list[dict[str, Any]]],
    picks: Picks,
    stack_name: str,
    mapping: dict[str, Any],
    entry: Entry,
    publisher: str,
    subscriber: str,
) -> Outputs:
    """The record, once the way in is known: the queues, the table and the entry's URL."""
    lambda_client, sqs = client("lambda"), client("sqs")
    queue_arn = mapping["EventSourceArn"]
    queue_url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])["QueueUrl"]
    redrive = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    dlq_arn = json.loads(redrive.get("RedrivePolicy") or "{}").get("deadLetterTargetArn", "")
    dlq_url = sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[1])["QueueUrl"] if dlq_arn else ""
    tables = sorted(r["PhysicalResourceId"] for r in resources["AWS::DynamoDB::Table"])
    subscriber_environment = _environment(lambda_client, subscriber)
    named = [t for t in tables if any(t in str(v) for v in subscriber_environment.values())]
    table = _choose(
        "DynamoDB table", named if len(named) == 1 and not picks.table else tables, picks.table, "--table", stack_name
    )
    return Outputs(
        endpoint=stack.endpoint_url,
        webhook_url=entry.url,
        api_id=entry.api_id,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        table_name=table,
        publisher_name=publisher,
        subscriber_name=subscriber,
        event_source_mapping_uuid=mapping["UUID"],
        stack_name=stack_name,
        entry_kind=entry.kind,
        webhook_host=entry.host,
        ingress="function" if publisher else "direct",
    )


def _environment(lambda_client: Any, name: str) -> dict[str, str]:
    configuration = lambda_client.get_function_configuration(FunctionName=name)
    return (configuration.get("Environment") or {}).get("Variables") or {}


def _mentions(environment: dict[str, str], queue_url: str, queue_arn: str) -> bool:
    queue_name = queue_arn.rsplit(":", 1)[1]
    return any(queue_url in v or queue_arn in v or v == queue_name for v in environment.values())


def webhook_entries(
    stack: StackSettings, client: Callable[[str], Any], resources: dict[str, list[dict[str, Any]]], stage: str = ""
) -> list[Entry]:
    """Every way into the stack that invokes a function: REST API stages and function URLs (HTTP APIs: not emulated)."""
    entries: list[Entry] = []
    base = f"{stack.host_endpoint_url}/_aws/execute-api"
    apigateway = client("apigateway")
    for resource in resources["AWS::ApiGateway::RestApi"]:
        api_id = resource["PhysicalResourceId"]
        stages = sorted(s["stageName"] for s in apigateway.get_stages(restApiId=api_id)["item"])
        if not stages:
            continue
        chosen = stage if stage in stages else ("prod" if "prod" in stages else stages[0])
        if stage and stage not in stages:
            raise DeployError(f"--stage {stage}: REST API {api_id} has the stages {', '.join(stages)}")
        functions, queues = _rest_api_targets(apigateway, api_id)
        for function in functions:
            entries.append(Entry("REST API", f"{base}/{api_id}/{chosen}", function, api_id))
        for queue in queues:
            entries.append(Entry("REST API", f"{base}/{api_id}/{chosen}", "", api_id, queue=queue))
    if resources["AWS::ApiGatewayV2::Api"]:
        raise DeployError(
            "the stack's webhook entry is an HTTP API (API Gateway v2), which LocalStack 4.8.1's community "
            "edition does not emulate; put the publisher behind a REST API (AWS::ApiGateway::RestApi, SAM's "
            "`Type: Api` event, CDK's LambdaRestApi) or a function URL (AWS::Lambda::Url) for the local run"
        )
    for resource in resources["AWS::Lambda::Url"]:
        arn = resource["PhysicalResourceId"]
        config = client("lambda").get_function_url_config(FunctionName=_function_name(arn))
        host = config["FunctionUrl"].split("//", 1)[1].split("/", 1)[0]
        entries.append(Entry("function URL", stack.host_endpoint_url, _function_name(arn), host=host))
    return entries


def _rest_api_targets(apigateway: Any, api_id: str) -> tuple[set[str], set[str]]:
    """The functions the API's methods invoke, and the queues they send to directly
    (``arn:aws:apigateway:REGION:sqs:path/ACCOUNT/QUEUE``)."""
    functions, queues = set(), set()
    for page in apigateway.get_paginator("get_resources").paginate(restApiId=api_id, embed=["methods"]):
        for resource in page["items"]:
            for method in (resource.get("resourceMethods") or {}).values():
                uri = (method.get("methodIntegration") or {}).get("uri", "")
                if ":function:" in uri:
                    functions.add(_function_name(uri))
                elif ":sqs:path/" in uri:
                    queues.add(uri.rstrip("/").rsplit("/", 1)[1])
    return functions, queues
