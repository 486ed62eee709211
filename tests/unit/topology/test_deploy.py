"""The deployer over moto's models of the AWS APIs: what it creates, that a second run changes nothing, and
that a change to one setting or one handler changes just that."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backend import backend_for
from harness.backend.base import Hosting
from harness.backend.config import BackendSettings
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings
from harness.topology.deploy import Deployer

HANDLER = "def handler(event, context):\n    return {}\n"


@pytest.fixture
def functions(tmp_path: Path) -> Path:
    for name in ("publisher", "subscriber"):
        (tmp_path / "functions" / name).mkdir(parents=True)
        (tmp_path / "functions" / name / "app.py").write_text(HANDLER)
    return tmp_path / "functions"


@pytest.fixture
def deploy(moto_client, functions, tmp_path):
    """``deploy(**settings) -> (outputs, changes)``: topology and backend settings, as the CLI takes them."""

    def run(**changes):
        backend_names = set(BackendSettings.names())
        backend = BackendSettings().replace(**{k: v for k, v in changes.items() if k in backend_names})
        topology = TopologySettings.from_env(
            {}, publisher_dir=functions / "publisher", subscriber_dir=functions / "subscriber"
        ).replace(**{k: v for k, v in changes.items() if k not in backend_names})
        stack = StackSettings.from_env({}, state_dir=tmp_path / "state")
        hosting = Hosting(stack.state_path, 1.0, "127.0.0.1")
        deployer = Deployer(stack, topology, moto_client, backend=backend_for(backend, hosting, moto_client))
        return deployer.deploy(record=False), deployer.changes

    return run


def variables(moto_client, name: str) -> dict[str, str]:
    return moto_client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]


def test_a_first_deploy_creates_the_whole_topology_and_a_second_changes_nothing(deploy, moto_client):
    outputs, changes = deploy()
    assert changes[0] == "created table Messages (on demand)"
    assert {"created queue webhook-dlq", "created queue webhook-queue",
            "created role webhook-lambda-role for lambda.amazonaws.com",
            "set reserved concurrency of webhook-subscriber to 2", "deployed REST API webhook-api to stage prod",
            "created SQS event-source mapping for webhook-subscriber"} <= set(changes)  # fmt: skip
    assert outputs.webhook_url.endswith("/_aws/execute-api/webhookapi/prod")  # a stable id: the URL survives
    assert (outputs.backend, outputs.backend_port, outputs.table_name) == ("dynamodb", 0, "Messages")
    redrive = moto_client("sqs").get_queue_attributes(QueueUrl=outputs.queue_url, AttributeNames=["All"])
    assert outputs.dlq_arn in redrive["Attributes"]["RedrivePolicy"]
    assert deploy()[1] == []


def test_the_direct_way_in_integrates_the_api_with_sqs_and_deploys_no_publisher(deploy, moto_client):
    outputs, changes = deploy(ingress="direct")
    assert (outputs.ingress, outputs.publisher_name) == ("direct", "")
    assert "created role webhook-apigateway-sqs for apigateway.amazonaws.com" in changes
    apigateway = moto_client("apigateway")
    root = next(r for r in apigateway.get_resources(restApiId=outputs.api_id)["items"] if r["path"] == "/")
    integration = apigateway.get_integration(restApiId=outputs.api_id, resourceId=root["id"], httpMethod="ANY")
    assert integration["type"] == "AWS"
    assert integration["uri"] == "arn:aws:apigateway:us-east-1:sqs:path/000000000000/webhook-queue"
    assert "Action=SendMessage" in integration["requestTemplates"]["application/json"]
    assert {"202", "400", "503"} <= set(integration["integrationResponses"])
    assert "webhook-publisher" not in {f["FunctionName"] for f in moto_client("lambda").list_functions()["Functions"]}
    assert deploy(ingress="direct")[1] == []
    back, changes = deploy()
    assert back.publisher_name == "webhook-publisher" and any("publisher function" in c for c in changes)


def test_a_changed_handler_updates_only_its_function(deploy, functions):
    deploy()
    (functions / "subscriber" / "app.py").write_text(HANDLER + "# changed\n")
    assert deploy()[1] == [f"updated code of webhook-subscriber from {functions / 'subscriber'}"]


def test_a_changed_setting_updates_only_what_it_belongs_to(deploy, moto_client):
    deploy()
    _, changes = deploy(batch_size=5, reserved_concurrency=None)
    assert changes == [
        "removed reserved concurrency of webhook-subscriber",
        "updated event-source mapping of webhook-subscriber: BatchSize",
    ]


@pytest.mark.parametrize(
    ("settings", "latency"),
    [({}, "100"), ({"table_billing_mode": "PROVISIONED"}, "0"), ({"backend_latency_ms": 7}, "7")],
)
def test_a_backend_without_capacity_of_its_own_gets_a_stand_in_latency(deploy, moto_client, settings, latency):
    outputs, _ = deploy(**settings)
    assert variables(moto_client, outputs.subscriber_name)["BACKEND_LATENCY_MS"] == latency


def test_a_signing_scheme_puts_the_secret_in_secrets_manager_not_in_the_environment(deploy, moto_client):
    outputs, changes = deploy(signature_scheme="github", signing_secret="s3cret")
    assert "created signing secret webhook-signing-secret (Secrets Manager)" in changes
    environment = variables(moto_client, outputs.publisher_name)
    assert environment["SIGNING_SECRET_ARN"] == outputs.signing_secret_arn and "s3cret" not in environment.values()
    _, changes = deploy(signature_scheme="github", signing_secret="n3w")
    assert changes == [
        "rotated signing secret webhook-signing-secret: the old one stays valid until `harness rotate-secret --finish`"
    ]
