"""What every backend offers, whichever it is: its table, its rows, its probe, its faults, its view of a run.

The backend the pattern protects is the thing that varies most between designs (a DynamoDB table with
capacity units, PostgreSQL with a connection limit, a pooler in front of it). Each kind is one module
(``dynamodb.py``, ``postgres.py``) implementing ``Backend``; nothing outside ``harness.backend`` asks
which kind it has. A backend that runs a server of its own is told by the stack where to run it
(``Hosting``): it never imports the stack's modules.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from harness.backend.config import BackendSettings
    from harness.evidence import BackendView
    from harness.outputs import Outputs

ClientFactory = Callable[[str], Any]
"""``client("dynamodb")``: a boto3 client pinned to the local stack (``harness.aws.client``)."""
Progress = Callable[[str], None]
Probe = Callable[[], dict[str, float]]


class Services(Protocol):
    """A container project that runs a backend's server as one of its services (Docker Compose)."""

    def start_service(self, service: str, environment: dict[str, str], progress: Progress) -> None:
        """Start (or recreate, when ``environment`` changed) ``service``, detached."""
        ...

    def service_running(self, service: str) -> bool: ...

    def remove_service(self, service: str, timeout_s: float) -> int:
        """Stop and remove ``service``'s containers; how many there were."""
        ...

    def service_logs(self, service: str, lines: int = 30) -> str: ...


BURST_CREDITS = ("kept", "new", "none", "full")
"""A table's burst credit when a load starts: as it stands, as a new table's, nothing banked, all of it."""


@dataclass(frozen=True)
class Hosting:
    """What the stack tells a backend that runs a server: where its files go, how long a start may take, how
    the functions reach this machine, and, on the Docker path, the Compose services that run it instead."""

    state_path: Path
    startup_timeout_s: float
    functions_host: str
    """How function processes reach a server on this machine (the embedded stack's functions run here)."""
    services: Services | None = None
    """Set where servers run as containers of the stack's Compose project; None: as processes of this machine."""


class Backend(ABC):
    """One kind of backend, as configured (``settings``), on the stack that ``hosting`` and ``client`` reach.

    Tables are named per call: a comparison gives each variant a table of its own on the same backend.
    """

    kind: ClassVar[str]
    proxy: ClassVar[str] = "none"
    """What stands between the subscriber and it (``harness.backend.config.PROXIES``), recorded with the deployment."""

    def __init__(self, settings: BackendSettings, hosting: Hosting, client: ClientFactory) -> None:
        self.settings, self.hosting, self.client = settings, hosting, client

    # --- its server, if it runs one -------------------------------------------------------------

    def start(self, progress: Progress = lambda _: None) -> str | None:
        """Start the server this backend runs (with its configured capacity); a line for the user, or None
        where there is nothing to start (the table lives in the stack)."""
        return None

    @classmethod
    def running_servers(cls, hosting: Hosting) -> list[str]:
        """What of this kind runs beside the stack, for `harness status` (whatever is configured now)."""
        return []

    @classmethod
    def stop_servers(cls, hosting: Hosting) -> list[str]:
        """Stop what of this kind runs beside the stack (`harness down`); what was stopped."""
        return []

    # --- deploying --------------------------------------------------------------------------------

    @abstractmethod
    def ensure_table(self, table: str, changed: Progress) -> dict[str, str]:
        """Create (or bring to the configured capacity) the rows table; what the subscriber's environment
        needs to reach it. ``changed`` is told of each change made."""

    @property
    def port(self) -> int:
        """The server's port on 127.0.0.1, recorded with the deployment (0: no server of its own)."""
        return 0

    @property
    def on_demand(self) -> bool:
        """No capacity of its own to exceed (then a latency per write stands in for a scale-limited one)."""
        return False

    def describe(self) -> str:
        """What it is and what it can take, in a few words."""
        return self.kind

    @classmethod
    def as_deployed(
        cls, settings: BackendSettings, outputs: Outputs, hosting: Hosting, client: ClientFactory
    ) -> dict[str, Any]:
        """The settings the recorded deployment used, for those not given explicitly."""
        return {}

    # --- a run ------------------------------------------------------------------------------------

    @abstractmethod
    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of ``table``, as plain Python values."""

    @abstractmethod
    def empty(self, table: str) -> None:
        """Delete every row."""

    def bytes_held_per_row(self, table: str, rows: Sequence[dict[str, Any]]) -> float:
        """What one of these rows takes in LocalStack's memory (0: the backend keeps its rows elsewhere)."""
        return 0.0

    def reset_capacity(self, table: str, credit: str = "new") -> None:  # noqa: B027 (a limit keeps no credit)
        """Start the table's capacity accounting afresh with this burst credit (``BURST_CREDITS``, not kept)."""

    def recreate(self, table: str) -> None:
        """The table as new: empty, with fresh capacity (a comparison's variant of the harness's topology)."""
        self.empty(table)
        self.reset_capacity(table)

    def probe(self, table: str) -> Probe | None:
        """What the sampler adds each second from the backend itself; None where its metrics have it."""
        return None

    @contextlib.contextmanager
    def faults(self, table: str, outage: tuple[float, float] | None, error_rate: float) -> Iterator[None]:
        """For the block: an outage window (epoch s) and a share of failing writes, injected in the backend
        itself (not in the subscriber), so they judge any subscriber; removed afterwards."""
        if not outage and not error_rate:
            yield
            return
        with self._faults(table, outage, error_rate):
            yield

    @abstractmethod
    def _faults(
        self, table: str, outage: tuple[float, float] | None, error_rate: float
    ) -> contextlib.AbstractContextManager[None]: ...

    @abstractmethod
    def view(self, table: str, samples: Sequence[dict[str, Any]], since: float) -> BackendView:
        """The backend's side of the run that started at ``since``: its load against its capacity."""


def added(*series: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Several per-second series summed second by second."""
    totals: dict[float, float] = {}
    for points in series:
        for t, value in points:
            totals[t] = totals.get(t, 0.0) + value
    return sorted(totals.items())
