"""The backends behind one interface: which one a command acts on, and the DynamoDB table over stubbed clients."""

import dataclasses
from pathlib import Path

import pytest
from botocore.stub import Stubber

from harness import aws
from harness.backend import backend_for, deployed_backend, deployed_settings, kinds
from harness.backend.base import Backend, Hosting
from harness.backend.config import BACKENDS, BackendSettings
from harness.backend.dynamodb import DynamoDBBackend
from harness.backend.postgres import PostgresBackend
from harness.stack.config import StackSettings
from tests.unit.builders import OUTPUTS


@pytest.fixture
def hosting(tmp_path: Path) -> Hosting:
    return Hosting(tmp_path, startup_timeout_s=1.0, functions_host="127.0.0.1")


def unreachable(service: str):
    raise AssertionError(f"no {service} call was expected")


def test_every_kind_the_settings_offer_has_a_module_and_a_full_interface(hosting):
    assert tuple(kinds()) == BACKENDS
    for kind in kinds().values():
        assert issubclass(kind, Backend) and not getattr(kind, "__abstractmethods__", None), kind
    assert isinstance(backend_for(BackendSettings(), hosting, unreachable), DynamoDBBackend)
    assert isinstance(backend_for(BackendSettings(backend="postgres"), hosting, unreachable), PostgresBackend)


def test_without_a_deployment_the_settings_are_as_set(hosting):
    assert deployed_settings(BackendSettings.from_env({}), None, hosting, unreachable).backend == "dynamodb"


def test_a_postgres_deployment_is_followed_unless_told_otherwise(hosting):
    recorded = dataclasses.replace(OUTPUTS, backend="postgres", backend_port=5999)
    followed = deployed_settings(BackendSettings.from_env({}), recorded, hosting, unreachable)
    assert (followed.backend, followed.postgres_port) == ("postgres", 5999)
    assert followed.given == frozenset()  # followed, not given: a later flag still wins
    told = BackendSettings.from_env({"HARNESS_BACKEND": "dynamodb"})
    assert deployed_settings(told, recorded, hosting, unreachable).backend == "dynamodb"
    port = BackendSettings.from_env({"HARNESS_POSTGRES_PORT": "6000"})
    assert deployed_settings(port, recorded, hosting, unreachable).postgres_port == 6000


def test_reading_a_deployment_uses_its_own_backend_whatever_is_set(hosting, monkeypatch):
    monkeypatch.setenv("HARNESS_BACKEND", "dynamodb")
    monkeypatch.setenv("HARNESS_POSTGRES_PORT", "6000")
    recorded = dataclasses.replace(OUTPUTS, backend="postgres", backend_port=5999)
    backend = deployed_backend(recorded, hosting, unreachable)
    assert (backend.kind, backend.port) == ("postgres", 5999)


@pytest.fixture
def dynamodb():
    client = aws.client("dynamodb", StackSettings.from_env({}, port=1))  # stubbed: nothing is sent
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def provisioned(read: int, write: int) -> dict:
    return {"Table": {"TableName": "Messages", "BillingModeSummary": {"BillingMode": "PROVISIONED"},
                      "ProvisionedThroughput": {"ReadCapacityUnits": read, "WriteCapacityUnits": write}}}  # fmt: skip


def test_a_missing_table_is_created_with_the_configured_capacity(dynamodb, hosting):
    client, stubber = dynamodb
    stubber.add_client_error("describe_table", "ResourceNotFoundException")
    stubber.add_response(
        "create_table",
        {},
        {
            "TableName": "Messages",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PROVISIONED",
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        },
    )
    stubber.add_response("describe_table", {"Table": {"TableName": "Messages", "TableStatus": "ACTIVE"}})
    settings = BackendSettings(table_billing_mode="PROVISIONED")
    changes: list[str] = []
    environment = DynamoDBBackend(settings, hosting, lambda _: client).ensure_table("Messages", changes.append)
    assert environment == {} and changes == ["created table Messages (PROVISIONED 5 RCU / 5 WCU)"]


def test_an_existing_table_is_brought_to_the_capacity_and_left_alone_when_it_has_it(dynamodb, hosting):
    client, stubber = dynamodb
    stubber.add_response("describe_table", provisioned(5, 5))
    stubber.add_response(
        "update_table",
        {},
        {"TableName": "Messages", "BillingMode": "PROVISIONED",
         "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 20}},
    )  # fmt: skip
    stubber.add_response("describe_table", provisioned(5, 20))
    backend = DynamoDBBackend(BackendSettings(table_billing_mode="PROVISIONED", table_write_capacity=20), hosting,
                              lambda _: client)  # fmt: skip
    changes: list[str] = []
    backend.ensure_table("Messages", changes.append)
    backend.ensure_table("Messages", changes.append)
    assert changes == ["updated capacity of table Messages to PROVISIONED 5 RCU / 20 WCU"]


def test_a_provisioned_table_keeps_its_units_unless_they_are_given(dynamodb, hosting):
    client, stubber = dynamodb
    stubber.add_response("describe_table", provisioned(7, 3))
    followed = deployed_settings(BackendSettings.from_env({}), OUTPUTS, hosting, lambda _: client)
    assert (followed.table_billing_mode, followed.table_read_capacity, followed.table_write_capacity) == (
        "PROVISIONED", 7, 3)  # fmt: skip
    given = BackendSettings.from_env({"HARNESS_TABLE_WRITE_CAPACITY": "9"})
    assert deployed_settings(given, OUTPUTS, hosting, unreachable).table_write_capacity == 9


def test_only_a_backend_without_capacity_of_its_own_is_on_demand(hosting):
    assert DynamoDBBackend(BackendSettings(), hosting, unreachable).on_demand  # PAY_PER_REQUEST by default
    assert not DynamoDBBackend(BackendSettings(table_billing_mode="PROVISIONED"), hosting, unreachable).on_demand
    assert not PostgresBackend(BackendSettings(backend="postgres"), hosting, unreachable).on_demand


def test_no_server_runs_where_none_was_started(hosting):
    from harness.backend import running_servers, stop_servers

    assert running_servers(hosting) == [] and stop_servers(hosting) == []
