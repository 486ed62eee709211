"""`harness deploy`: create or update the Scalable Webhook topology, idempotently.

Every step reads what exists, compares it with the settings and changes only what differs, so a
second run changes nothing and a run after editing a handler updates just that function's code.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import aws, signing
from harness.backend import Backend, backend_for
from harness.backend.config import BackendSettings
from harness.ingress import Integration, ingress_for
from harness.lambda_admin import ensure_reserved_concurrency
from harness.localstack_extensions.contract import API_ACCOUNT_BURST_LIMIT, API_ACCOUNT_RATE_LIMIT
from harness.outputs import Outputs, outputs_path
from harness.polling import poll
from harness.secrets import current_signing_secret, rotate_signing_secret
from harness.stack import started_stack
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings
from harness.topology.packaging import code_sha256, function_package

ACCOUNT_ID = "000000000000"
ROLE_NAME = "webhook-lambda-role"


def assume_role_policy(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


DLQ_RETENTION_S = 14 * 24 * 3600  # the maximum: a DLQ must outlive its source queue's retention
ON_DEMAND_STAND_IN_LATENCY_MS = 100
"""Per write, when a backend with no capacity of its own (an on-demand table) stands in for a scale-limited one."""


@dataclass(frozen=True)
class Queue:
    url: str
    arn: str


class Deployer:
    """Deploys ``settings`` onto the stack, its rows into ``backend`` (default: HARNESS_BACKEND's, beside the
    stack that runs); ``client(service)`` builds the AWS clients, ``say`` hears of every change."""

    def __init__(
        self,
        stack: StackSettings,
        settings: TopologySettings,
        client: Callable[[str], Any] | None = None,
        say: Callable[[str], None] = lambda _: None,
        backend: Backend | None = None,
    ) -> None:
        self.stack = stack
        self.settings = settings
        self.client = client or aws.clients(stack)
        if backend is None:
            backend = backend_for(BackendSettings.from_env(), started_stack(stack).hosting(), self.client)
        self.backend = backend
        self.say = say
        self.changes: list[str] = []
        self.account_id = ACCOUNT_ID
        self.ingress = ingress_for(settings.ingress)

    def _changed(self, what: str) -> None:
        self.changes.append(what)
        self.say(f"  {what}")

    # --- the whole topology ------------------------------------------------------------------------

    def deploy(self, record: bool = True) -> Outputs:
        """Create or update everything; ``record``: save it as the state folder's deployment (outputs.json)."""
        s, stack = self.settings, self.stack
        self._require_stack()
        table = s.resource_name("table_name")
        backend_environment = self.backend.ensure_table(table, self._changed)
        dlq_url, dlq_arn = self.ensure_queue(
            s.resource_name("dlq_name"), {"MessageRetentionPeriod": str(DLQ_RETENTION_S)}
        )
        queue_url, queue_arn = self.ensure_queue(
            s.resource_name("queue_name"),
            {
                "VisibilityTimeout": str(s.visibility_timeout_s),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": s.max_receive_count}),
            },
        )
        queue = Queue(queue_url, queue_arn)
        secret_arn = self.ensure_signing_secret()
        publisher = self.ingress.ensure_sender(self, queue, secret_arn)
        subscriber = self.ensure_function(
            s.resource_name("subscriber_name"),
            s.subscriber_dir,
            s.subscriber_handler,
            s.subscriber_timeout_s,
            self.ensure_role(),
            {
                "TABLE_NAME": table,
                "BACKEND_LATENCY_MS": str(self.backend_latency_ms()),
                "FAIL_PATH_MARKER": s.fail_path_marker,
                **backend_environment,
            },
            s.runtime("subscriber"),
        )
        self.ensure_reserved_concurrency(subscriber, s.reserved_concurrency)
        mapping_uuid = self.ensure_event_source_mapping(subscriber, queue_arn)
        api_id = self.ensure_rest_api(s.resource_name("api_name"), self.ingress.integration(self, queue, publisher))
        self.ensure_stage_throttle(api_id)
        self.ingress.after_deploy(self, api_id, publisher)
        outputs = Outputs(
            endpoint=stack.endpoint_url,
            webhook_url=f"{stack.host_endpoint_url}/_aws/execute-api/{api_id}/{s.stage_name}",
            api_id=api_id,
            queue_url=queue_url,
            queue_arn=queue_arn,
            dlq_url=dlq_url,
            dlq_arn=dlq_arn,
            table_name=table,
            publisher_name=publisher,
            subscriber_name=subscriber,
            event_source_mapping_uuid=mapping_uuid,
            fail_path_marker=s.fail_path_marker,
            backend=self.backend.kind,
            backend_port=self.backend.port,
            backend_proxy=self.backend.proxy,
            signature_scheme=s.signature_scheme,
            signing_secret_arn=secret_arn,
            signature_tolerance_s=s.signature_tolerance_s,
            ingress=self.ingress.kind,
        )
        if record:
            outputs.save(outputs_path(stack))
        return outputs

    def _require_stack(self) -> None:
        aws.require_stack(self.stack, self.client("sqs"))

    # --- resources ---------------------------------------------------------------------------------

    def backend_latency_ms(self) -> int:
        """The explicit setting, else a stand-in only where the backend has no capacity of its own."""
        if self.settings.backend_latency_ms is not None:
            return self.settings.backend_latency_ms
        return ON_DEMAND_STAND_IN_LATENCY_MS if self.backend.on_demand else 0

    def ensure_queue(self, name: str, attributes: dict[str, str]) -> tuple[str, str]:
        sqs = self.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self._changed(f"created queue {name}")
        else:
            current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(attributes))["Attributes"]
            differing = {k: v for k, v in attributes.items() if _normalise(current.get(k)) != _normalise(v)}
            if differing:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
                self._changed(f"updated queue {name}: {', '.join(sorted(differing))}")
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def ensure_publisher(self, queue: Queue, secret_arn: str) -> str:
        """The publisher function, sending to ``queue`` and verifying with ``secret_arn`` (when set); its name."""
        s = self.settings
        signing_environment = (
            {
                "SIGNATURE_SCHEME": s.signature_scheme,
                "SIGNING_SECRET_ARN": secret_arn,
                "SIGNATURE_TOLERANCE_S": str(s.signature_tolerance_s),
            }
            if secret_arn
            else {}
        )
        return self.ensure_function(
            s.resource_name("publisher_name"),
            s.publisher_dir,
            s.publisher_handler,
            s.publisher_timeout_s,
            self.ensure_role(),
            {"QUEUE_URL": queue.url, "IDEMPOTENCY_HEADERS": s.idempotency_headers, **signing_environment},
            s.runtime("publisher"),
        )

    def ensure_signing_secret(self) -> str:
        """The publisher's signing secret in Secrets Manager (its ARN), when a scheme is set: created with
        HARNESS_SIGNING_SECRET or a new one; a different HARNESS_SIGNING_SECRET later starts a rotation (the
        old one stays AWSPREVIOUS, valid until `harness rotate-secret --finish`)."""
        s = self.settings
        if s.signature_scheme == "none":
            return ""
        client, name = self.client("secretsmanager"), s.resource_name("signing_secret_name")
        try:
            arn = client.describe_secret(SecretId=name)["ARN"]
        except client.exceptions.ResourceNotFoundException:
            arn = client.create_secret(Name=name, SecretString=s.signing_secret or signing.new_secret())["ARN"]
            self._changed(f"created signing secret {name} (Secrets Manager)")
            return arn
        if s.signing_secret and s.signing_secret != current_signing_secret(client, arn):
            rotate_signing_secret(client, arn, s.signing_secret)
            self._changed(
                f"rotated signing secret {name}: the old one stays valid until `harness rotate-secret --finish`"
            )
        return arn

    def ensure_role(
        self, name: str = ROLE_NAME, service: str = "lambda.amazonaws.com", policy: dict[str, Any] | None = None
    ) -> str:
        """The role ``service`` assumes (the functions', by default), with ``policy`` inline when given."""
        iam = self.client("iam")
        try:
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            document = json.dumps(assume_role_policy(service))
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)["Role"]["Arn"]
            self._changed(f"created role {name} for {service}")
        if policy is not None:
            iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
        return arn

    def ensure_function(
        self,
        name: str,
        folder: Path,
        handler: str,
        timeout_s: int,
        role_arn: str,
        environment: dict[str, str],
        runtime: str = "python3.11",
    ) -> str:
        lambda_client = self.client("lambda")
        package = function_package(folder, self.stack.state_path / "build")
        desired = {
            "Runtime": runtime,
            "Handler": handler,
            "Timeout": timeout_s,
            "MemorySize": self.settings.memory_mb,
            "Role": role_arn,
            "Environment": {"Variables": environment},
        }
        try:
            current = lambda_client.get_function(FunctionName=name)["Configuration"]
        except lambda_client.exceptions.ResourceNotFoundException:
            lambda_client.create_function(FunctionName=name, Code={"ZipFile": package}, **desired)
            self._wait_function(name, "function_active_v2")
            self._changed(f"created function {name} from {folder}")
            return name
        if current["CodeSha256"] != code_sha256(package):
            lambda_client.update_function_code(FunctionName=name, ZipFile=package)
            self._wait_function(name, "function_updated_v2")
            self._changed(f"updated code of {name} from {folder}")
        differing = differing_keys(current, desired)
        if differing:
            lambda_client.update_function_configuration(FunctionName=name, **desired)
            self._wait_function(name, "function_updated_v2")
            self._changed(f"updated configuration of {name}: {', '.join(differing)}")
        return name

    def _wait_function(self, name: str, waiter: str) -> None:
        self.client("lambda").get_waiter(waiter).wait(
            FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
        )

    def ensure_reserved_concurrency(self, name: str, reserved: int | None) -> None:
        change = ensure_reserved_concurrency(self.client("lambda"), name, reserved)
        if change:
            self._changed(change)

    def ensure_event_source_mapping(self, function_name: str, queue_arn: str) -> str:
        lambda_client = self.client("lambda")
        s = self.settings
        desired = {
            "BatchSize": s.batch_size,
            "MaximumBatchingWindowInSeconds": s.batching_window_s,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": s.maximum_concurrency} if s.maximum_concurrency else {},
            "ProvisionedPollerConfig": s.provisioned_pollers,
        }
        existing = lambda_client.list_event_source_mappings(FunctionName=function_name, EventSourceArn=queue_arn)[
            "EventSourceMappings"
        ]
        if not existing:
            uuid = lambda_client.create_event_source_mapping(
                EventSourceArn=queue_arn, FunctionName=function_name, Enabled=True, **desired
            )["UUID"]
            self._changed(f"created SQS event-source mapping for {function_name}")
        else:
            current = existing[0]
            uuid = current["UUID"]
            differing = differing_keys(current, desired)
            if current.get("State") in ("Disabled", "Disabling"):
                differing.append("Enabled")
            if differing:
                lambda_client.update_event_source_mapping(UUID=uuid, Enabled=True, **desired)
                self._changed(f"updated event-source mapping of {function_name}: {', '.join(differing)}")
        self._wait_mapping_enabled(uuid)
        return uuid

    def _wait_mapping_enabled(self, uuid: str, timeout_s: float = 30) -> None:
        lambda_client = self.client("lambda")
        poll(
            lambda: lambda_client.get_event_source_mapping(UUID=uuid)["State"],
            lambda state: state == "Enabled",
            timeout_s=timeout_s,
            failure=lambda state: f"event-source mapping {uuid} is {state!r}, not Enabled, after {timeout_s:.0f}s",
        )

    def ensure_rest_api(self, name: str, integration: Integration) -> str:
        """``ANY /`` and ``ANY /{proxy+}`` integrated as the way in says, deployed to the stage."""
        apigateway = self.client("apigateway")
        apis = [api for page in apigateway.get_paginator("get_rest_apis").paginate() for api in page["items"]]
        matching = [api for api in apis if api["name"] == name]
        changed = False
        if matching:
            api_id = matching[0]["id"]
        else:
            api_id = apigateway.create_rest_api(
                name=name,
                endpointConfiguration={"types": ["REGIONAL"]},
                # LocalStack's way to fix an API's id: the webhook URL survives a `make down && make up`.
                tags={"_custom_id_": stable_api_id(name)},
            )["id"]
            self._changed(f"created REST API {name}")
            changed = True
        resources = {
            r["path"]: r
            for page in apigateway.get_paginator("get_resources").paginate(restApiId=api_id)
            for r in page["items"]
        }
        if "/{proxy+}" not in resources:
            resources["/{proxy+}"] = apigateway.create_resource(
                restApiId=api_id, parentId=resources["/"]["id"], pathPart="{proxy+}"
            )
        desired = integration.arguments
        for path in ("/", "/{proxy+}"):
            method = {"restApiId": api_id, "resourceId": resources[path]["id"], "httpMethod": "ANY"}
            if resources[path].get("resourceMethods", {}).get("ANY") is None:
                apigateway.put_method(**method, authorizationType="NONE")
            try:
                current = apigateway.get_integration(**method)
            except apigateway.exceptions.NotFoundException:
                current = {}
            compared = ("type", "uri", "credentials", "requestTemplates")
            differing = [key for key in compared if current.get(key) != desired.get(key)]
            answers = {answer["statusCode"] for answer in (current.get("integrationResponses") or {}).values()}
            if differing or answers != {answer.status for answer in integration.answers}:
                apigateway.put_integration(**method, **desired)
                for answer in integration.answers:
                    with contextlib.suppress(apigateway.exceptions.ConflictException):
                        apigateway.put_method_response(**method, statusCode=answer.status)
                    apigateway.put_integration_response(
                        **method,
                        statusCode=answer.status,
                        selectionPattern=answer.pattern,
                        responseTemplates={"application/json": answer.template},
                    )
                self._changed(f"integrated ANY {path}: {self.ingress.description}")
                changed = True
        stages = {stage["stageName"] for stage in apigateway.get_stages(restApiId=api_id)["item"]}
        if changed or self.settings.stage_name not in stages:
            apigateway.create_deployment(restApiId=api_id, stageName=self.settings.stage_name)
            self._changed(f"deployed REST API {name} to stage {self.settings.stage_name}")
        return api_id

    def ensure_stage_throttle(self, api_id: str) -> None:
        """The stage's ``*/*`` method throttle: the settings' limits, else the account's (as a new stage has)."""
        s, apigateway = self.settings, self.client("apigateway")
        rate = API_ACCOUNT_RATE_LIMIT if s.api_rate_limit is None else s.api_rate_limit
        burst = API_ACCOUNT_BURST_LIMIT if s.api_burst_limit is None else s.api_burst_limit
        stage = apigateway.get_stage(restApiId=api_id, stageName=s.stage_name)
        current = (stage.get("methodSettings") or {}).get("*/*") or {}
        if (current.get("throttlingRateLimit"), current.get("throttlingBurstLimit")) == (rate, burst):
            return
        apigateway.update_stage(
            restApiId=api_id,
            stageName=s.stage_name,
            patchOperations=[
                {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(rate)},
                {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(burst)},
            ],
        )
        self._changed(f"set stage {s.stage_name}'s throttle to {rate:g} requests/s, burst {burst}")


def differing_keys(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Settings whose desired value differs from what exists; AWS omits empty maps, so absent == {}."""
    return [key for key, value in desired.items() if current.get(key, {} if isinstance(value, dict) else None) != value]


def stable_api_id(name: str) -> str:
    """``webhook-api`` -> ``webhookapi``: lowercase letters and digits, as API Gateway ids are."""
    return re.sub(r"[^a-z0-9]", "", name.lower())[:32] or "webhook"


def _normalise(value: str | None) -> Any:
    """Queue attributes come back as strings; JSON ones (RedrivePolicy) compare by content."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return json.dumps(parsed, sort_keys=True) if isinstance(parsed, dict) else str(parsed)
