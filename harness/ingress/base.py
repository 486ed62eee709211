"""What every way in offers the deployer: what it needs besides the REST API, and the API's integration.

Both ways in deploy the same REST API (``ANY /`` and ``ANY /{proxy+}``, one stage) and put the same
message on the queue, the one the subscriber reads (``id``, ``method``, ``path``, ``body``,
``received_at_ms``): the consumer side, the backend and verification do not change with the way in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from harness.topology.deploy import Deployer, Queue


@dataclass(frozen=True)
class IntegrationAnswer:
    """One integration response: the method's status for the integration's statuses ``pattern`` matches."""

    status: str
    pattern: str
    template: str


@dataclass(frozen=True)
class Integration:
    """``put_integration``'s arguments for each method, and the answers mapped from its responses."""

    arguments: dict[str, Any]
    answers: tuple[IntegrationAnswer, ...] = field(default=())


class Ingress(ABC):
    kind: ClassVar[str]
    description: ClassVar[str]
    """How a request reaches the queue, in words for `harness status` and the report."""

    @abstractmethod
    def ensure_sender(self, deployer: Deployer, queue: Queue, secret_arn: str) -> str:
        """Whatever sends to ``queue`` besides API Gateway, created or updated (verifying signatures with
        ``secret_arn`` when set): the publisher function's name, or "" when API Gateway sends itself."""

    @abstractmethod
    def integration(self, deployer: Deployer, queue: Queue, publisher: str) -> Integration:
        """What the REST API's methods integrate with."""

    @abstractmethod
    def after_deploy(self, deployer: Deployer, api_id: str, publisher: str) -> None:
        """Grants the integration needs once the API exists."""

    def problems(self, settings: Any) -> list[str]:
        """Topology settings this way in cannot honour (checked before anything is created)."""
        return []
