"""The deployed topology's record: what `harness deploy` created, read by everything that uses it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from harness.backend.config import BACKENDS
from harness.exceptions import DeployError
from harness.stack.config import StackSettings

OUTPUTS_FILE = "outputs.json"


@dataclass(frozen=True)
class Outputs:
    endpoint: str
    webhook_url: str
    api_id: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    table_name: str
    publisher_name: str
    subscriber_name: str
    event_source_mapping_uuid: str
    fail_path_marker: str = ""
    """The subscriber's poison marker as deployed, so a load can send poison without topology settings."""
    backend: str = BACKENDS[0]
    """The kind of backend that holds the rows (table ``table_name``): ``harness.backend.config.BACKENDS``."""
    backend_port: int = 0
    """The backend server's port on 127.0.0.1 (0: it runs none of its own)."""
    backend_proxy: str = "none"
    """What the subscriber connects through (``harness.backend.config.PROXIES``): RDS Proxy, or nothing."""
    stack_name: str = ""
    """The CloudFormation stack the topology was found in (`harness deploy --template`); empty: our own."""
    template: str = ""
    """The template (or cdk.out folder) that stack was deployed from."""
    entry_kind: str = "REST API"
    """How the webhook is reached: REST API, HTTP API or function URL."""
    webhook_host: str = ""
    """A function URL's host name, sent as the Host header (its URL does not resolve without DNS)."""
    signature_scheme: str = "none"
    """The signatures the publisher verifies (our publisher: HARNESS_SIGNATURE_SCHEME as deployed)."""
    signing_secret_arn: str = ""
    """The Secrets Manager secret the publisher verifies with (AWSCURRENT, and AWSPREVIOUS during a rotation)."""
    signature_tolerance_s: int = 300
    ingress: str = "function"
    """How a request reaches the queue: ``harness.ingress.INGRESSES`` (your own stack: as discovered)."""

    @property
    def has_dlq(self) -> bool:
        return bool(self.dlq_url)

    @property
    def ours(self) -> bool:
        """Deployed by the harness from its settings (our publisher's answers, our row fields)."""
        return not self.stack_name

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Outputs:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise DeployError(
                f"no deployment recorded at {path} ({error}); run `make up` or `harness deploy`"
            ) from None


def outputs_path(stack: StackSettings) -> Path:
    return stack.state_path / OUTPUTS_FILE


def load_outputs(stack: StackSettings) -> Outputs:
    """The topology deployed onto this stack (DeployError, saying what to run, when there is none)."""
    return Outputs.read(outputs_path(stack))
