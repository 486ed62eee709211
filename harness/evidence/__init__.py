"""The evidence of a load run: what the API accepted, what the backend holds, what the consumer did.

Collected once per run (``harness.evidence.collect``), the only place a run's outcome is read from
AWS; the rules (``harness.rules``) and the report (``harness.report``) are functions of it. It is
saved as ``evidence.json`` beside the report, so a run can be judged and drawn again offline.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.outputs import Outputs

DUPLICATE_KINDS = ("redelivery", "sender-retry", "replay")
UNANSWERED = "unanswered"
THROTTLED = "throttled"
"""Requests API Gateway answered 429 before its integration ran: never accepted, so never lost."""
FORGED, STALE = "forged", "stale"
REFUSED_KINDS = (FORGED, STALE)
"""Signed deliveries that must be refused (401) and leave no trace."""
PUBLISHED_KINDS = ("new", "sender-retry", "replay")
"""Requests the publisher itself queues (an injected redelivery bypasses it)."""
EVIDENCE_FILE = "evidence.json"


@dataclass(frozen=True)
class Fault:
    """A fault injected during the run, in seconds since the load started (None: for the whole load)."""

    what: str
    function: str
    from_s: float | None
    to_s: float | None

    def describe(self) -> str:
        when = "for the whole load" if self.from_s is None else f"at {self.from_s:g}s"
        if self.to_s is not None:
            when = f"from {self.from_s:g}s to {self.to_s:g}s"
        return f"{self.what} ({self.function}) {when}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DeadLetter:
    """A message in the dead-letter queue, as read (and left in place)."""

    message_id: str
    item_id: str | None
    receive_count: int
    body: str


@dataclass(frozen=True)
class BackendView:
    """The backend's side of a run, in the unit of its capacity (made by the backend, whichever it is)."""

    kind: str
    capacity: float | None
    """What it can take: provisioned write units per second, or connections; None: on demand, no limit."""
    capacity_unit: str
    peak: float
    """The highest load it saw, in the capacity's unit."""
    errors: int
    """Requests it refused for capacity: throttle events, or connections refused (SQLSTATE 53300)."""
    load: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the load started, load in the capacity's unit), once a second."""
    refused: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the load started, refusals in that second)."""
    throughput: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the load started, writes or commits in that second)."""
    throughput_unit: str = "writes / s"
    refusal: str = "refused work"
    """What refusing for capacity is called on this backend: "throttled", "refused connections"."""

    proxy: ProxyView | None = None
    """The connection pooler in front of it (RDS Proxy), when the design has one."""
    burst_window_s: float | None = None
    """Seconds of unused capacity it banks as burst credit (DynamoDB: 300); None: its capacity is a hard limit."""

    @property
    def on_credit(self) -> bool:
        """Survived above its capacity on banked credit: safe only while the credit lasts."""
        return bool(self.burst_window_s) and self.capacity is not None and self.peak > self.capacity

    @property
    def credit_drawn(self) -> float:
        """Units taken beyond the capacity, out of the banked credit."""
        if self.capacity is None:
            return 0.0
        return sum(max(0.0, value - self.capacity) for _, value in self.load)

    @property
    def full_credit(self) -> float:
        return (self.capacity or 0.0) * (self.burst_window_s or 0.0)

    def credit_lasts_s(self) -> float | None:
        """How long a full credit lasts against a burst at this run's peak rate; None: it never runs out."""
        if not self.on_credit:
            return None
        return self.full_credit / (self.peak - (self.capacity or 0.0))

    def describe(self) -> str:
        unit = self.capacity_unit
        if self.capacity is None:
            return f"peaked at {self.peak:g} {unit} (on demand: no capacity to exceed)"
        refused = f", refused {self.errors} for capacity" if self.errors else ", refused nothing"
        through = f"; {self.proxy.describe()}" if self.proxy else ""
        return f"peaked at {self.peak:g} of {self.capacity:g} {unit}{refused}{through}"

    def behind(self, proxy: ProxyView) -> BackendView:
        """This view with the proxy's: what the proxy refused is the backend refusing work."""
        refused = dict(self.refused)
        for t, value in proxy.refused:
            refused[t] = refused.get(t, 0.0) + value
        return dataclasses.replace(
            self,
            errors=self.errors + proxy.errors,
            refused=sorted(refused.items()),
            refusal=f"{self.refusal} or borrow timeouts at the proxy" if proxy.errors else self.refusal,
            proxy=proxy,
        )


@dataclass(frozen=True)
class ProxyView:
    """RDS Proxy's side of a run: its clients against the database connections it holds (as ``ClientConnections``
    and ``DatabaseConnections`` of ``AWS/RDS``), who waited, and whom it failed."""

    client_connections: list[tuple[float, float]]
    database_connections: list[tuple[float, float]]
    clients_waiting: list[tuple[float, float]]
    borrow_timeouts: int
    """Clients that waited longer than ConnectionBorrowTimeout for a database connection and got an error."""
    refused_clients: int
    """Clients refused at the proxy's own connection limit."""
    pool_size: int
    borrow_timeout_s: float
    refused: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the load started, borrow timeouts and refused clients in that second)."""

    @property
    def errors(self) -> int:
        return self.borrow_timeouts + self.refused_clients

    def peak(self, series: list[tuple[float, float]]) -> float:
        return max((value for _, value in series), default=0.0)

    def describe(self) -> str:
        failed = (
            f"{self.borrow_timeouts} borrow timeout(s) (> {self.borrow_timeout_s:g}s waiting)"
            + (f", {self.refused_clients} client(s) refused" if self.refused_clients else "")
            if self.errors
            else "no borrow timeout"
        )
        return (
            f"through RDS Proxy: up to {self.peak(self.client_connections):g} clients on "
            f"{self.peak(self.database_connections):g} of {self.pool_size} database connections, up to "
            f"{self.peak(self.clients_waiting):g} waiting, {failed}"
        )


@dataclass(frozen=True)
class Offered:
    """What an open-model load offered and what its senders managed to send."""

    offered: int
    """Arrivals in the schedule."""
    sent: int
    """Arrivals sent before the load ended."""
    late: int = 0
    """Sent over a second (``harness.load.arrivals.LATE_S``) after their time: every sender was busy."""
    late_max_s: float = 0.0

    @property
    def unsent(self) -> int:
        return max(0, self.offered - self.sent)

    @property
    def short(self) -> bool:
        """Materially fewer sent, or sent on time, than offered (more than 5 %)."""
        return self.unsent + self.late > 0.05 * self.offered


@dataclass
class Accepted:
    """What the API accepted during a run, from the load generator's records."""

    records: list[dict[str, Any]]
    unanswered: list[dict[str, Any]] = field(default_factory=list)
    """Requests that got a server error or no answer: the sender cannot know whether they were queued."""
    refused: list[dict[str, Any]] = field(default_factory=list)
    """Forged and stale signed deliveries, with the status each got (401 expected)."""
    throttled: list[dict[str, Any]] = field(default_factory=list)
    """Answers 429 from API Gateway's throttle (a sender that retries sends the request again)."""

    @classmethod
    def load(cls, run_dir: Path) -> Accepted:
        found: dict[str, list[dict[str, Any]]] = {"records": [], UNANSWERED: [], "refused": [], THROTTLED: []}
        for path in sorted(run_dir.glob("accepted-*.jsonl")):
            # A record is whole once its newline is written (the senders write line by line): a last line
            # without one is being written as this reads, or was cut short by a sender killed mid-write.
            for line in path.read_text().split("\n")[:-1]:
                if line.strip():
                    record = json.loads(line)
                    kind = record.get("kind")
                    bucket = "refused" if kind in REFUSED_KINDS else kind if kind in found else "records"
                    found[bucket].append(record)
        return cls(found["records"], found[UNANSWERED], found["refused"], found[THROTTLED])

    @property
    def never_accepted(self) -> list[dict[str, Any]]:
        """Requests every answer to which was 429 (the sender gave up): one record each, the last 429."""
        answered = {record.get("event") for record in (*self.records, *self.unanswered)}
        last = {record.get("event"): record for record in self.throttled if record.get("event") not in answered}
        return list(last.values())

    def with_poison_fixed(self) -> Accepted:
        """After the consumer was fixed and the DLQ redriven, poisoned requests must be rows too."""
        return dataclasses.replace(self, records=[{**record, "poisoned": False} for record in self.records])

    @property
    def ids(self) -> set[str]:
        return {record["id"] for record in self.records if record.get("id")}

    @property
    def by_id(self) -> bool:
        """Every request got an id from the publisher (ours): verification by id, else by token."""
        return bool(self.records) and all(record.get("id") for record in self.records)

    @property
    def tokens(self) -> set[str]:
        return {record["token"] for record in self.records if record.get("token")}

    @property
    def retried_tokens(self) -> set[str]:
        return {r["token"] for r in self.records if r.get("kind") == "sender-retry" and r.get("token")}

    @property
    def poisoned_ids(self) -> set[str]:
        return {record["id"] for record in self.records if record.get("poisoned") and record.get("id")}

    def events_by_id(self) -> dict[str, set[str]]:
        """Accepted id -> the distinct logical requests (events) that got it; more than one is a collision."""
        events: dict[str, set[str]] = {}
        for record in self.records:
            key = record.get("id") or record.get("token") or record.get("event")
            events.setdefault(key, set()).add(record.get("event") or key)
        return events

    def collisions(self) -> dict[str, int]:
        """Ids given to more than one request -> how many requests beyond the first got it."""
        return {item_id: len(owners) - 1 for item_id, owners in self.events_by_id().items() if len(owners) > 1}

    @property
    def new_requests(self) -> list[dict[str, Any]]:
        return [record for record in self.records if record.get("kind", "new") == "new"]

    def refused_as(self, kind: str) -> tuple[int, int]:
        """(sent, wrongly accepted with a 2xx) of the forged or stale deliveries."""
        sent = [record for record in self.refused if record.get("kind") == kind]
        return len(sent), sum(1 for record in sent if 200 <= record.get("status", 0) < 300)

    def times(self, kind: str) -> list[float]:
        return [record["t"] for record in self.records if record.get("kind", "new") == kind]

    def duplicates_expected(self) -> int:
        """Second deliveries of one id that the subscriber must suppress: injected duplicates of healthy
        messages, plus requests that collided with another request's id."""
        injected = sum(1 for r in self.records if r.get("kind") in DUPLICATE_KINDS and not r.get("poisoned"))
        return injected + sum(self.collisions().values())


@dataclass(frozen=True)
class Consumer:
    """The subscriber as deployed (its limits, read from Lambda) and as measured (CloudWatch, its logs)."""

    reserved_concurrency: int | None
    maximum_concurrency: int | None
    max_concurrency: float | None
    throttles: float
    errors: float
    duplicates_suppressed: int
    concurrency: list[tuple[float, float]] = field(default_factory=list)
    """ConcurrentExecutions (Maximum) per second, as (seconds since the load started, value)."""
    provisioned_pollers: dict[str, int] = field(default_factory=dict)
    """The mapping's ProvisionedPollerConfig (empty: standard mode)."""
    host_ceiling_hits: float = 0
    """Seconds in which the scaler wanted more than this machine's ceiling on function processes: then the
    host, not AWS's scaling rule, bounded the consumer."""

    @property
    def limit(self) -> int | None:
        """What may run at once: the smaller of reserved and maximum concurrency (None: unlimited)."""
        limits = [limit for limit in (self.reserved_concurrency, self.maximum_concurrency) if limit is not None]
        return min(limits) if limits else None


@dataclass(frozen=True)
class Evidence:
    run_id: str
    outputs: Outputs
    accepted: Accepted
    rows: list[dict[str, Any]]
    """The table's rows whose id the API accepted during this run (the table holds earlier runs too)."""
    dead_letters: list[DeadLetter]
    """This run's messages in the DLQ."""
    consumer: Consumer
    load_started: float
    load_ended: float
    drain_seconds: float | None
    samples: list[dict[str, Any]] = field(default_factory=list)
    """Queue depths (and the load generator's CPU) once a second, from ``harness.evidence.sampler``."""
    faults: list[Fault] = field(default_factory=list)
    backend: BackendView | None = None
    """The backend's side: its load against its capacity, and what it refused for capacity."""
    pending: int = 0
    """Messages still in the queue when the evidence was collected (the drain ran out of time)."""
    correlation: str = "id"
    """How requests were found in the backend: id (our publisher's answer), token (the request's token in a
    row's attributes) or count (the stack stores no token: accepted against new rows and DLQ messages)."""
    table_rows: tuple[int, int] | None = None
    """(before the load, after the drain): every row of the table, for verification by counting."""
    dlq_depth: tuple[int, int] | None = None
    """(before the load, after the drain): messages in the DLQ, for verification by counting."""
    enqueued: float | None = None
    """Messages the queue received while the run lasted (its NumberOfMessagesSent), injected copies included."""
    refused_rows: int = 0
    """Rows that carry the id or token of a forged or stale delivery: a trace of what must have been refused."""
    throttled_rows: int = 0
    """Rows that carry the token of a request only ever answered 429: API Gateway queued what it refused."""
    offered: Offered | None = None
    """An open-model load's schedule and what its senders sent; None: a closed-model load."""
    shape: str = ""
    """The load's shape (steady, burst, soak): a soak is judged on the emulator's resources too."""
    held_mib: list[tuple[float, float]] = field(default_factory=list)
    """A soak's: (epoch s, MiB) at each sample, what LocalStack must keep for this run's rows and log lines
    (``harness.evidence.held_state``): its memory is judged net of it."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, default=_plain)

    def save(self, run_dir: Path) -> None:
        (run_dir / EVIDENCE_FILE).write_text(self.to_json() + "\n")

    @classmethod
    def from_json(cls, text: str) -> Evidence:
        data = json.loads(text)
        consumer = data["consumer"]
        return cls(
            **{
                **data,
                "outputs": Outputs(**data["outputs"]),
                "accepted": Accepted(
                    data["accepted"]["records"],
                    data["accepted"].get("unanswered", []),
                    data["accepted"].get("refused", []),
                    data["accepted"].get("throttled", []),
                ),
                "dead_letters": [DeadLetter(**letter) for letter in data["dead_letters"]],
                "consumer": Consumer(**{**consumer, "concurrency": [tuple(p) for p in consumer["concurrency"]]}),
                "faults": [Fault(**fault) for fault in data["faults"]],
                "backend": _backend_view(data.get("backend")),
                "table_rows": tuple(data["table_rows"]) if data.get("table_rows") else None,
                "dlq_depth": tuple(data["dlq_depth"]) if data.get("dlq_depth") else None,
                "offered": Offered(**data["offered"]) if data.get("offered") else None,
            }
        )


def _backend_view(data: dict[str, Any] | None) -> BackendView | None:
    if not data:
        return None
    series = ("load", "refused", "throughput")
    proxy = data.get("proxy")
    if proxy:
        lines = ("client_connections", "database_connections", "clients_waiting", "refused")
        proxy = ProxyView(**{**proxy, **{name: [tuple(point) for point in proxy[name]] for name in lines}})
    return BackendView(**{**data, **{name: [tuple(point) for point in data[name]] for name in series}, "proxy": proxy})


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
