"""The Docker path, checked statically (no Docker engine on these machines): what matters in the files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.exceptions import StackError
from harness.stack import stack_for, started_stack, write_record
from harness.stack.compose import ComposeStack, compose_command
from harness.stack.config import StackSettings
from harness.stack.embedded import EmbeddedStack

REPO = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LOCALSTACK_DOCKERFILE = (REPO / "docker/localstack/Dockerfile").read_text()
HARNESS_DOCKERFILE = (REPO / "docker/harness/Dockerfile").read_text()


def test_the_localstack_image_is_pinned_to_the_embedded_version():
    assert re.search(r"^FROM localstack/localstack:4\.8\.1$", LOCALSTACK_DOCKERFILE, re.MULTILINE)
    assert "4.8.1" in SERVICES["localstack"]["image"]
    import importlib.metadata

    assert importlib.metadata.version("localstack-core") == "4.8.1"  # the same LocalStack in both modes


def test_every_published_port_binds_loopback_only():
    published = [port for service in SERVICES.values() for port in service.get("ports", [])]
    assert published, "LocalStack and the Locust UI are published"
    assert all(str(port).startswith("127.0.0.1:") for port in published), published


def test_lambda_runs_in_docker_through_the_mounted_socket():
    localstack = SERVICES["localstack"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in localstack["volumes"]
    assert localstack["environment"]["LAMBDA_DOCKER_NETWORK"] == COMPOSE["networks"]["webhook"]["name"]
    assert "LAMBDA_RUNTIME_EXECUTOR" not in localstack["environment"]  # LocalStack's own Docker executor


def test_localstack_has_a_healthcheck_and_the_bootstrap_waits_for_it():
    assert "/_localstack/health" in " ".join(SERVICES["localstack"]["healthcheck"]["test"])
    assert SERVICES["bootstrap"]["depends_on"]["localstack"]["condition"] == "service_healthy"
    assert SERVICES["bootstrap"]["command"] == ["harness", "deploy"]
    assert SERVICES["locust-master"]["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"


def test_the_auth_token_is_passed_through_but_never_required():
    assert SERVICES["localstack"]["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"


def test_the_extensions_installed_are_this_repos_and_selected():
    assert "COPY harness/localstack_extensions" in LOCALSTACK_DOCKERFILE
    assert "pip install --no-cache-dir --no-deps /opt/harness-extensions" in LOCALSTACK_DOCKERFILE
    environment = SERVICES["localstack"]["environment"]
    assert environment["PROVIDER_OVERRIDE_LAMBDA"] == "sqs_scaling"
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"lambda:sqs_scaling" = "harness.localstack_extensions.sqs_scaling.provider:lambda_sqs_scaling"' in pyproject


def test_workers_point_at_the_master_and_use_this_repos_locustfiles():
    worker, master = SERVICES["locust-worker"], SERVICES["locust-master"]
    assert worker["command"][worker["command"].index("--master-host") + 1] == "locust-master"
    assert "--master" in master["command"]
    for service in (worker, master, SERVICES["bootstrap"]):
        assert "./locustfiles:/app/locustfiles:ro" in service["volumes"]
        assert "./functions:/app/functions:ro" in service["volumes"]
    assert "locustfiles/webhook.py" in " ".join(master["command"])
    assert (REPO / "locustfiles" / "webhook.py").is_file()


def test_inside_compose_the_harness_reaches_localstack_by_service_name():
    assert SERVICES["bootstrap"]["environment"]["HARNESS_ENDPOINT_HOST"] == "localstack"
    settings = StackSettings.from_env({"HARNESS_ENDPOINT_HOST": "localstack"})
    assert settings.endpoint_url == "http://localstack:4566"
    assert "HARNESS_ENDPOINT_HOST=localstack" in HARNESS_DOCKERFILE


def test_the_embedded_stack_is_the_default_and_compose_only_when_asked():
    assert isinstance(stack_for(StackSettings.from_env({})), EmbeddedStack)
    assert isinstance(stack_for(StackSettings.from_env({"HARNESS_STACK": "docker"})), ComposeStack)


def test_down_and_status_act_on_the_stack_the_state_folder_records(tmp_path):
    """A Docker engine answering changes nothing: what was started is what `down` stops."""
    settings = StackSettings.from_env({"HARNESS_STACK": "docker"}, state_dir=tmp_path)
    assert isinstance(started_stack(settings), ComposeStack)  # nothing recorded: the configured kind
    write_record(settings, kind="embedded", pid=None, endpoint=settings.endpoint_url)
    assert isinstance(started_stack(settings), EmbeddedStack)
    write_record(StackSettings.from_env({}, state_dir=tmp_path), kind="docker", endpoint=settings.endpoint_url)
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
def test_docker_compose_config_accepts_the_file():
    result = subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_both_stacks_offer_the_whole_stack_interface():
    from harness.stack import Stack

    members = [name for name in vars(Stack) if not name.startswith("_")]
    assert {"start", "stop", "status", "endpoint", "logs", "log_location"} <= set(members)
    for cls in (EmbeddedStack, ComposeStack):
        assert all(hasattr(cls, name) for name in members), cls
