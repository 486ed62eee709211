"""The Docker path, checked statically: what matters in the files (tests/integration/test_compose.py runs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.exceptions import SettingsError, StackError, StartupError
from harness.stack import stack_for, started_stack, write_record
from harness.stack.compose import ComposeStack, compose_command
from harness.stack.config import StackSettings
from harness.stack.embedded import EmbeddedStack

REPO = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LOCALSTACK_IMAGE_OVERRIDE = yaml.safe_load((REPO / "docker-compose.localstack-image.yml").read_text())
PROJECT_DOCKERFILE = (REPO / "docker/Dockerfile").read_text()


def test_the_project_image_installs_the_pinned_localstack_on_a_python_311_base():
    assert re.search(r"^ARG BASE=python:3\.11-slim$", PROJECT_DOCKERFILE, re.MULTILINE)
    assert "pip install -c constraints.txt ." in PROJECT_DOCKERFILE
    constraints = (REPO / "constraints.txt").read_text().splitlines()
    assert "localstack-core==4.8.1" in constraints
    import importlib.metadata

    assert importlib.metadata.version("localstack-core") == "4.8.1"  # the same LocalStack in both modes


def test_every_service_but_the_image_variant_is_built_from_the_project_image():
    for name, service in SERVICES.items():
        assert service["image"] == "scalable-webhook/harness:local", name
        assert service["build"]["dockerfile"] == "docker/Dockerfile", name
    assert SERVICES["localstack"]["command"] == ["python", "-m", "harness.stack.container"]
    assert SERVICES["postgres"]["command"] == ["python", "-m", "harness.backend.container"]
    assert SERVICES["rds-proxy"]["command"] == ["python", "-m", "harness.backend.container", "rds-proxy"]


def test_every_published_port_binds_loopback_only():
    published = [port for service in SERVICES.values() for port in service.get("ports", [])]
    assert len(published) == 4, "LocalStack, PostgreSQL, RDS Proxy and the Locust UI are published"
    assert all(str(port).startswith("127.0.0.1:") for port in published), published


def test_no_docker_socket_is_mounted_lambda_runs_inside_the_localstack_container():
    for name, service in SERVICES.items():
        assert not any("docker.sock" in str(volume) for volume in service.get("volumes", [])), name
    variant = LOCALSTACK_IMAGE_OVERRIDE["services"]["localstack"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in variant["volumes"]  # only the documented variant
    assert "localstack/localstack:4.8.1" in (REPO / "docker/localstack-image/Dockerfile").read_text()


def test_localstack_has_a_healthcheck_and_the_bootstrap_waits_for_it():
    assert "/_localstack/health" in " ".join(SERVICES["localstack"]["healthcheck"]["test"])
    assert SERVICES["bootstrap"]["depends_on"]["localstack"]["condition"] == "service_healthy"
    assert SERVICES["bootstrap"]["command"] == ["harness", "deploy"]
    assert SERVICES["locust-master"]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"


def test_the_container_listens_on_loopback_and_its_own_interface_never_on_all(monkeypatch, tmp_path):
    from harness import network
    from harness.stack.embedded import localstack_environment

    monkeypatch.setattr(network.socket, "gethostbyname_ex", lambda _: ("c", [], ["172.18.0.2", "127.0.1.1"]))
    hosts = ["127.0.0.1", *network.own_addresses()]
    env = localstack_environment(StackSettings.from_env({}, state_dir=tmp_path), {}, listen_hosts=hosts)
    assert env["GATEWAY_LISTEN"] == "127.0.0.1:4566,172.18.0.2:4566"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "local-process" and env["PROVIDER_OVERRIDE_DYNAMODB"] == "moto"
    assert env["LOCALSTACK_HOST"] == "127.0.0.1:4566"  # URLs a person on the host can use


def test_the_postgres_service_is_optional_and_logs_where_the_host_counts_refusals():
    postgres = SERVICES["postgres"]
    assert postgres["profiles"] == ["postgres"]
    assert postgres["ports"] == ["127.0.0.1:${HARNESS_POSTGRES_PORT:-5433}:5432"]
    assert postgres["volumes"] == [
        "${HARNESS_POSTGRES_LOG_DIR:-./.harness/postgres-container}:/var/log/harness-postgres"
    ]


def test_inside_compose_the_subscriber_reaches_postgres_by_service_name(tmp_path):
    from harness.backend.config import BackendSettings
    from harness.backend.postgres_server import ContainerPostgres, PostgresServer, server_for

    stack = StackSettings.from_env({}, state_dir=tmp_path)
    backend = BackendSettings.from_env({"HARNESS_BACKEND": "postgres"})
    assert type(server_for(started_stack(stack).hosting(), backend)) is PostgresServer
    write_record(stack, kind="docker", endpoint=stack.endpoint_url)
    server = server_for(started_stack(stack).hosting(), backend)
    assert isinstance(server, ContainerPostgres)
    assert (server.function_connection(5433).host, server.function_connection(5433).port) == ("postgres", 5432)
    assert server.log_file == tmp_path.resolve() / "postgres-container" / "postgres.log"


def test_workers_point_at_the_master_and_use_this_repos_locustfiles():
    worker, master = SERVICES["locust-worker"], SERVICES["locust-master"]
    assert worker["command"][worker["command"].index("--master-host") + 1] == "locust-master"
    assert "--master" in " ".join(master["command"])
    for service in (worker, master, SERVICES["bootstrap"]):
        assert "./locustfiles:/app/locustfiles:ro" in service["volumes"]
        assert "./functions:/app/functions:ro" in service["volumes"]
    assert "locustfiles/webhook.py" in " ".join(master["command"])
    assert (REPO / "locustfiles" / "webhook.py").is_file()


def test_inside_compose_the_harness_reaches_localstack_by_service_name():
    assert SERVICES["bootstrap"]["environment"]["HARNESS_ENDPOINT_HOST"] == "localstack"
    settings = StackSettings.from_env({"HARNESS_ENDPOINT_HOST": "localstack"})
    assert settings.endpoint_url == "http://localstack:4566"


def test_the_project_name_is_the_same_for_make_up_and_plain_compose():
    dotenv = dict(line.split("=", 1) for line in (REPO / ".env").read_text().splitlines() if "=" in line)
    assert dotenv["COMPOSE_PROJECT_NAME"] == StackSettings.from_env({}).compose_project == "scalable-webhook"


def test_a_compose_project_name_must_be_one_compose_accepts():
    with pytest.raises(SettingsError, match=r"compose_project='My Stack'.*HARNESS_COMPOSE_PROJECT"):
        StackSettings.from_env({"HARNESS_COMPOSE_PROJECT": "My Stack"})


def test_the_embedded_stack_is_the_default_and_compose_only_when_asked():
    assert isinstance(stack_for(StackSettings.from_env({})), EmbeddedStack)
    assert isinstance(stack_for(StackSettings.from_env({"HARNESS_STACK": "docker"})), ComposeStack)


def test_down_and_status_act_on_the_stack_the_state_folder_records(tmp_path, monkeypatch):
    """A Docker engine answering changes nothing: what was started is what `down` stops."""
    monkeypatch.setattr(ComposeStack, "containers", lambda self, **_: [])
    settings = StackSettings.from_env({"HARNESS_STACK": "docker"}, state_dir=tmp_path)
    assert isinstance(started_stack(settings), ComposeStack)  # nothing recorded: the configured kind
    write_record(settings, kind="embedded", pid=None, endpoint=settings.endpoint_url)
    assert isinstance(started_stack(settings), EmbeddedStack)
    write_record(StackSettings.from_env({}, state_dir=tmp_path), kind="docker", endpoint=settings.endpoint_url)
    assert isinstance(started_stack(StackSettings.from_env({}, state_dir=tmp_path)), ComposeStack)


def test_containers_of_a_plain_docker_compose_up_are_what_down_stops(tmp_path, monkeypatch):
    monkeypatch.setattr(ComposeStack, "containers", lambda self, **_: ["f00d"])
    assert isinstance(started_stack(StackSettings.from_env({}, state_dir=tmp_path)), ComposeStack)


def test_without_any_compose_cli_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr("harness.stack.compose.shutil.which", lambda _: None)
    with pytest.raises(StackError, match=r"neither `docker compose` .* nor `docker-compose`.*apt-get install"):
        compose_command()


def test_compose_v1_is_used_when_the_v2_plugin_is_missing(monkeypatch):
    """Debian packages docker-compose 1.29 and no v2 plugin: `docker compose -f` fails there."""
    monkeypatch.setattr("harness.stack.compose.shutil.which", lambda name: f"/usr/bin/{name}")

    def no_plugin(command, **_):
        return subprocess.CompletedProcess(command, 125, b"", b"unknown shorthand flag: 'f' in -f")

    monkeypatch.setattr("harness.stack.compose.subprocess.run", no_plugin)
    assert compose_command() == ["docker-compose"]


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="no Compose CLI on this machine (.ci/run installs one)"
)
@pytest.mark.parametrize(
    "files", [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.localstack-image.yml"]]
)
def test_docker_compose_config_accepts_the_files(files):
    options = [argument for name in files for argument in ("-f", str(REPO / name))]
    result = subprocess.run(["docker-compose", *options, "config", "--quiet"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_both_stacks_offer_the_whole_stack_interface():
    from harness.stack import Stack

    members = [name for name in vars(Stack) if not name.startswith("_")]
    assert {"start", "stop", "status", "endpoint", "logs", "log_location"} <= set(members)
    for cls in (EmbeddedStack, ComposeStack):
        assert all(hasattr(cls, name) for name in members), cls


def test_without_an_engine_up_says_how_to_start_one(monkeypatch, tmp_path):
    monkeypatch.setattr("harness.stack.compose.engine_answers", lambda: False)
    stack = ComposeStack(StackSettings.from_env({"HARNESS_STACK": "docker"}, state_dir=tmp_path))
    with pytest.raises(StartupError, match=r"no Docker engine answers.*dockerd.*unset HARNESS_STACK"):
        stack.start()


def test_the_containers_get_this_machines_stack_settings(tmp_path):
    settings = StackSettings.from_env(
        {"HARNESS_PORT": "4590", "HARNESS_ESM_INITIAL_CONCURRENCY": "3", "HARNESS_LOCALSTACK_LOG_LEVEL": "debug"},
        state_dir=tmp_path,
    )
    env = ComposeStack(settings).environment({"HARNESS_BACKEND_MAX_CONNECTIONS": "7"})
    assert env["HARNESS_PORT"] == "4590" and env["HARNESS_ESM_INITIAL_CONCURRENCY"] == "3"
    assert env["HARNESS_LOCALSTACK_LOG_LEVEL"] == "debug" and env["HARNESS_BACKEND_MAX_CONNECTIONS"] == "7"
    localstack = SERVICES["localstack"]
    for name in ("HARNESS_PORT", "HARNESS_ESM_INITIAL_CONCURRENCY", "HARNESS_LOCALSTACK_LOG_LEVEL"):
        assert name in localstack["environment"], f"{name} is not passed into the container"


def test_a_failed_build_shows_the_end_of_its_log_and_what_to_run(monkeypatch, tmp_path):
    stack = ComposeStack(StackSettings.from_env({"HARNESS_STACK": "docker"}, state_dir=tmp_path))
    failing_build = ["sh", "-c", "echo 'pull access denied for python'; exit 1"]
    monkeypatch.setattr(ComposeStack, "command", lambda self, *args: failing_build)
    with pytest.raises(StartupError, match=r"(?s)pull access denied for python.*make docker-base.*make wheelhouse"):
        stack.build("localstack", progress=lambda _: None)
    assert (tmp_path / "docker-build.log").read_text() == "pull access denied for python\n"


class FakeEngine:
    """What the Docker SDK answers about a project: its containers, networks and volumes."""

    def __init__(self, containers=(), networks=(), volumes=()) -> None:
        self.containers = Listing(containers)
        self.networks, self.volumes = Listing(networks), Listing(volumes)

    def close(self) -> None:
        pass


class Listing:
    def __init__(self, items) -> None:
        self.items = list(items)

    def list(self, **kwargs):
        self.calls = [*getattr(self, "calls", []), kwargs]
        return self.items


class Named:
    def __init__(self, name: str, status: str = "running", health: str | None = None, service: str = "") -> None:
        self.name, self.id, self.status = name, f"id-{name}", status
        self.labels = {"com.docker.compose.service": service} if service else {}
        self.attrs = {"State": {"Health": {"Status": health}} if health else {}}

    def top(self) -> dict:
        return {"Processes": [["1", "python", "/app/harness/localstack_extensions/lambda_executor/runtime.py 3 4"]]}


def test_status_shows_each_container_with_its_health_from_the_engine(monkeypatch, tmp_path):
    engine = FakeEngine([Named("ls-1", health="healthy", service="localstack")])
    monkeypatch.setattr("harness.stack.compose.engine", lambda: engine)
    monkeypatch.setattr(ComposeStack, "is_healthy", lambda self: True)
    status = ComposeStack(StackSettings.from_env({}, state_dir=tmp_path)).status()
    assert status.running and status.healthy and status.function_processes == 1
    assert status.notes == [
        "1 running container(s) of the Compose project scalable-webhook: localstack: running (healthy)"
    ]
    assert engine.containers.calls[0]["filters"] == {"label": ["com.docker.compose.project=scalable-webhook"]}


def test_down_says_what_compose_left_behind(monkeypatch, tmp_path):
    engine = FakeEngine(networks=[Named("scalable-webhook_webhook")], volumes=[Named("scalable-webhook_state")])
    monkeypatch.setattr("harness.stack.compose.engine", lambda: engine)
    monkeypatch.setattr(ComposeStack, "compose", lambda self, *args, **kwargs: subprocess.CompletedProcess(args, 0))
    with pytest.raises(StackError, match=r"left parts of the project scalable-webhook behind \(networks: "
                       r"scalable-webhook_webhook; volumes: scalable-webhook_state\)"):  # fmt: skip
        ComposeStack(StackSettings.from_env({}, state_dir=tmp_path)).stop()


def test_without_an_engine_nothing_is_listed_and_nothing_fails(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    stack = ComposeStack(StackSettings.from_env({}, state_dir=tmp_path))
    assert stack.containers(all_states=True) == [] and stack.leftovers() == {} and stack.logs() == "(no log)"
