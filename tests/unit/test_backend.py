"""The backends behind one interface: which one a command acts on, and the DynamoDB table over stubbed clients."""

import dataclasses
import json
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


def test_rds_proxy_is_chosen_by_its_setting_and_recorded_with_the_deployment(hosting):
    from harness.backend.rds_proxy import ProxiedPostgresBackend

    proxied = backend_for(BackendSettings(backend="postgres", backend_proxy="rds-proxy"), hosting, unreachable)
    assert isinstance(proxied, ProxiedPostgresBackend) and proxied.proxy == "rds-proxy"
    assert backend_for(BackendSettings(backend="postgres"), hosting, unreachable).proxy == "none"
    recorded = dataclasses.replace(OUTPUTS, backend="postgres", backend_port=5999, backend_proxy="rds-proxy")
    assert isinstance(deployed_backend(recorded, hosting, unreachable), ProxiedPostgresBackend)
    told = BackendSettings.from_env({"HARNESS_BACKEND": "postgres", "HARNESS_BACKEND_PROXY": "none"})
    assert deployed_settings(told, recorded, hosting, unreachable).backend_proxy == "none"


def test_rds_proxy_needs_postgres_and_a_port_of_its_own():
    from harness.exceptions import SettingsError

    with pytest.raises(SettingsError, match="set HARNESS_BACKEND=postgres too"):
        BackendSettings.from_env({"HARNESS_BACKEND_PROXY": "rds-proxy"})
    with pytest.raises(SettingsError, match="a port of its own"):
        BackendSettings.from_env(
            {"HARNESS_BACKEND": "postgres", "HARNESS_BACKEND_PROXY": "rds-proxy", "HARNESS_PROXY_PORT": "5433"}
        )


def test_the_pooler_is_configured_as_an_rds_proxy_target_group(tmp_path):
    from harness.backend.pooler import Pooler

    settings = BackendSettings(
        backend="postgres", backend_proxy="rds-proxy", backend_max_connections=20, proxy_max_connections_percent=50,
        proxy_max_idle_connections_percent=10, proxy_connection_borrow_timeout_s=7, proxy_idle_client_timeout_s=99,
    )  # fmt: skip
    lines = set(Pooler(tmp_path, settings, 1).config(5433).splitlines())
    assert {"pool_mode = transaction", "default_pool_size = 10", "max_db_connections = 10", "min_pool_size = 2",
            "query_wait_timeout = 7", "client_idle_timeout = 99", "listen_addr = 127.0.0.1"} <= lines  # fmt: skip
    assert "webhook = host=127.0.0.1 port=5433 dbname=webhook" in lines
    assert BackendSettings(backend_max_connections=3, proxy_max_connections_percent=1).proxy_pool_size == 1
    in_a_container = Pooler(tmp_path, settings, 1, listen_hosts=["127.0.0.1", "172.18.0.3"], database_host="postgres")
    lines = set(in_a_container.config(5432).splitlines())
    assert {"listen_addr = 127.0.0.1,172.18.0.3", "webhook = host=postgres port=5432 dbname=webhook"} <= lines


def test_the_proxys_failures_are_the_backend_refusing_and_survive_a_reread():
    from harness.evidence import BackendView, ProxyView, _backend_view

    database = BackendView("postgres", 10, "connections", peak=10, errors=1, refused=[(1.0, 1.0)],
                           refusal="refused connections")  # fmt: skip
    proxy = ProxyView(
        client_connections=[(0.0, 3.0), (1.0, 40.0)], database_connections=[(0.0, 3.0), (1.0, 10.0)],
        clients_waiting=[(1.0, 30.0)], borrow_timeouts=3, refused_clients=0, pool_size=10, borrow_timeout_s=120,
        refused=[(1.0, 2.0), (2.0, 1.0)],
    )  # fmt: skip
    view = database.behind(proxy)
    assert view.errors == 4 and view.refused == [(1.0, 3.0), (2.0, 1.0)]
    assert view.refusal == "refused connections or borrow timeouts at the proxy"
    assert "up to 40 clients on 10 of 10 database connections, up to 30 waiting, 3 borrow timeout(s)" in (
        view.describe()
    )
    assert _backend_view(json.loads(json.dumps(dataclasses.asdict(view)))) == view
