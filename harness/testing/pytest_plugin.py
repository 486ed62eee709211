"""pytest plugin (entry point ``harness``): a real LocalStack for a test session, and AWS clients.

Fixtures:
- ``stack_settings``: StackSettings of the test stack (a free port, a private state folder), session scope.
- ``localstack``: the running embedded stack, started once per session and stopped at the end.
- ``aws_client``: ``aws_client("sqs")`` builds a boto3 client pinned to that stack.
- ``deploy_function``: creates a Python function from inline sources and waits until it is active.
- ``deploy_topology``: ``deploy_topology(**settings) -> Topology`` (stack, settings, outputs, backend)
  deploys a webhook topology of its own (unique resource names), e.g. ``subscriber_dir=...``; topology
  and backend settings both go here. ``topology.rows()`` reads its backend table, whichever it is.
- ``postgres``: a PostgreSQL server of the session (started on first use, stopped at the end), for
  ``deploy_topology(backend="postgres", postgres_port=postgres.port)``.
- ``deploy_stack``: ``deploy_stack("template.yaml" or "cdk.out", stack_name=..., parameters={...}) -> Topology``
  deploys your own CloudFormation, SAM or CDK stack and finds the webhook topology in it (``harness deploy
  --template``); ``topology.rows()``, ``topology.dead_letters()``, ``topology.post(...)`` and ``run_load``
  work on it as on ours. Paths are relative to the folder pytest runs in (your project).
- ``webhook_topology``: the default topology (functions/ of this repo, or HARNESS_* settings), session scope.
- ``webhook``: ``webhook("/path", body, headers) -> (status, json)`` posts to the webhook URL.
- ``run_load``: ``run_load(topology, **load_settings) -> (Verdict, run_dir)``: a Locust run against a
  topology, verified and reported (into the test's tmp folder unless ``reports_dir`` is given).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from harness import aws
from harness.backend import backend_for, deployed_backend
from harness.backend.config import BackendSettings
from harness.evidence import DeadLetter
from harness.lambda_admin import create_function
from harness.load.config import LoadSettings
from harness.network import free_port
from harness.observe import peek_messages
from harness.outputs import Outputs
from harness.settings.registry import check_config_file
from harness.stack.config import StackSettings
from harness.stack.embedded import EmbeddedStack
from harness.topology.config import TemplateSettings, TopologySettings
from harness.topology.deploy import Deployer
from harness.topology.template import deploy as deploy_template
from harness.webhook import post_webhook


def pytest_configure(config: pytest.Config) -> None:
    """A key of harness.toml that no setting has is an error here too, not a setting silently ignored."""
    from harness.exceptions import SettingsError

    try:
        check_config_file()
    except SettingsError as error:
        raise pytest.UsageError(str(error)) from None


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[StackSettings]:
    """A state folder outside pytest's own temporary root: a pytest run started meanwhile (a suite that runs
    another suite) locks that root down to its owner, and PostgreSQL, running as a system user beside the
    stack, would lose its way to its data (it panics at its next checkpoint)."""
    state_dir = Path(tempfile.mkdtemp(prefix="harness-state-"))
    try:
        yield StackSettings.from_env(port=free_port(), state_dir=state_dir)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def localstack(stack_settings: StackSettings) -> Iterator[EmbeddedStack]:
    stack = EmbeddedStack(stack_settings)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def aws_client(localstack: EmbeddedStack) -> Callable[..., Any]:
    clients: dict[str, Any] = {}

    def make(service: str, **config: Any) -> Any:
        key = repr((service, sorted(config.items())))
        if key not in clients:
            clients[key] = aws.client(service, localstack.settings, **config)
        return clients[key]

    return make


@pytest.fixture
def deploy_function(aws_client: Callable[..., Any]) -> Iterator[Callable[..., str]]:
    """``deploy_function({"app.py": src}, handler="app.handler", **create_kwargs) -> name``; deleted after.
    Python 3.11 unless ``Runtime="nodejs22.x"`` (or another) is given."""
    lambda_client = aws_client("lambda")
    created: list[str] = []

    def deploy(files: Mapping[str, str], handler: str = "app.handler", **kwargs: Any) -> str:
        name = kwargs.pop("FunctionName", f"fn-{uuid.uuid4().hex[:10]}")
        runtime = kwargs.pop("Runtime", "python3.11")
        created.append(create_function(lambda_client, name, files, handler, runtime, **kwargs))
        return name

    yield deploy
    for name in created:
        lambda_client.delete_function(FunctionName=name)


@dataclasses.dataclass(frozen=True)
class Topology:
    """A deployed topology: the stack it is on, the settings it was deployed with, what the deployment produced."""

    stack: StackSettings
    settings: TopologySettings
    outputs: Outputs
    backend: BackendSettings = dataclasses.field(default_factory=BackendSettings)
    template: TemplateSettings | None = None
    """Set for your own stack (``deploy_stack``): what it was deployed from."""

    def redeploy(self, **changes: Any) -> list[str]:
        """Deploy again, with ``changes`` to the topology or backend settings (your own stack: to the template
        settings, e.g. ``parameter_overrides="Key=Value"``); the changes made."""
        if self.template is not None:
            said: list[str] = []
            deploy_template(self.stack, self.template.replace(**changes), aws.clients(self.stack), say=said.append)
            return [line.strip() for line in said[1:] if line.startswith("  ") and "up to date" not in line]
        topology, backend = _split(changes)
        deployer = _deployer(self.stack, self.settings.replace(**topology), self.backend.replace(**backend))
        deployer.deploy()
        return deployer.changes

    def rows(self) -> list[dict[str, Any]]:
        """Every row of the topology's backend table, whichever backend it is."""
        client = aws.clients(self.stack)
        return deployed_backend(self.outputs, EmbeddedStack(self.stack).hosting(), client).rows(self.outputs.table_name)

    def dead_letters(self) -> list[DeadLetter]:
        """The DLQ's messages, left in place (none when the stack has no DLQ)."""
        if not self.outputs.dlq_url:
            return []
        return peek_messages(aws.client("sqs", self.stack), self.outputs.dlq_url)

    def post(
        self, path: str = "/hello", body: bytes | str | None = b"{}", headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        """POST to the webhook (a function URL's Host header included); (status, JSON body or text)."""
        host = {"Host": self.outputs.webhook_host} if self.outputs.webhook_host else {}
        return post_webhook(self.outputs.webhook_url, path, body, {**host, **(headers or {})})


def _deployer(stack: StackSettings, settings: TopologySettings, backend: BackendSettings) -> Deployer:
    client = aws.clients(stack)
    return Deployer(stack, settings, client, backend=backend_for(backend, EmbeddedStack(stack).hosting(), client))


def _split(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Settings for the topology and for the backend, from one set of keyword arguments."""
    backend_names = set(BackendSettings.names())
    return (
        {k: v for k, v in overrides.items() if k not in backend_names},
        {k: v for k, v in overrides.items() if k in backend_names},
    )


@pytest.fixture(scope="session")
def deploy_topology(localstack: EmbeddedStack) -> Callable[..., Topology]:
    def deploy(**overrides: Any) -> Topology:
        overrides.setdefault("name_prefix", f"t{uuid.uuid4().hex[:6]}-")
        topology, backend = _split(overrides)
        settings = TopologySettings.from_env().replace(**topology)
        backend_settings = BackendSettings.from_env().replace(**backend)
        outputs = _deployer(localstack.settings, settings, backend_settings).deploy()
        return Topology(localstack.settings, settings, outputs, backend_settings)

    return deploy


@pytest.fixture(scope="session")
def deploy_stack(localstack: EmbeddedStack) -> Callable[..., Topology]:
    def deploy(
        template: str | Path, stack_name: str = "", parameters: Mapping[str, str] | None = None, **picks: str
    ) -> Topology:
        settings = TemplateSettings.from_env().replace(
            template=str(Path(template).resolve()),
            stack_name=stack_name,
            parameter_overrides=" ".join(f"{k}={v}" for k, v in (parameters or {}).items()),
            **picks,
        )
        outputs = deploy_template(localstack.settings, settings, aws.clients(localstack.settings), record=False)
        return Topology(localstack.settings, TopologySettings.from_env(), outputs, template=settings)

    return deploy


@pytest.fixture(scope="session")
def postgres(localstack: EmbeddedStack) -> Iterator[Any]:
    from harness.backend.postgres import PostgresBackend
    from harness.backend.postgres_server import server_for

    backend = BackendSettings.from_env().replace(backend=PostgresBackend.kind, postgres_port=free_port())
    server = server_for(localstack.hosting(), backend)
    connection = server.start()
    try:
        yield connection
    finally:
        server.stop()


@pytest.fixture(scope="session")
def webhook_topology(deploy_topology: Callable[..., Topology]) -> Topology:
    return deploy_topology(name_prefix="")


@pytest.fixture
def webhook(webhook_topology: Topology) -> Callable[..., tuple[int, Any]]:
    url = webhook_topology.outputs.webhook_url
    return lambda path="/hello", body=b"{}", headers=None: post_webhook(url, path, body, headers)


@pytest.fixture
def run_load(tmp_path: Any) -> Callable[..., Any]:
    from harness.load import run as load_run

    def run(topology: Topology, **overrides: Any) -> Any:
        overrides.setdefault("reports_dir", tmp_path / "reports")
        load = LoadSettings.from_env().replace(**overrides)
        return load_run.run(topology.stack, load, outputs=topology.outputs)

    return run
