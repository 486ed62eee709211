"""The verdict: pure rules over a run's evidence, no AWS calls (the evidence was collected once).

PASS needs: nothing lost (every accepted request is a row or in the DLQ), no duplicate rows, the
subscriber never above its concurrency limit, the DLQ holding exactly the messages poisoned on purpose
(none when no fault was injected), every injected duplicate suppressed by the subscriber, and the
backend never refusing work for capacity (no throttle event, no connection refused).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.evidence import FORGED, PUBLISHED_KINDS, REFUSED_KINDS, STALE, Evidence
from harness.evidence.tokens import tokens_in
from harness.load.shapes import SOAK
from harness.localstack_extensions.contract import API_ACCOUNT_RATE_LIMIT
from harness.stats import percentiles


@dataclass(frozen=True)
class Findings:
    """What the evidence shows, before any rule weighs it."""

    missing_ids: list[str]
    """Accepted ids that are neither a row nor in the DLQ."""
    collided: dict[str, int]
    """Ids given to several requests -> how many of those requests were overwritten or dropped."""
    duplicate_rows: int
    dead_ids: set[str]
    poisoned_ids: set[str]
    duplicates_expected: int
    missing: int = 0
    """How many accepted requests are neither a row nor in the DLQ (by count when ids cannot be listed)."""
    retried_duplicates: int = 0
    """Of the duplicate rows, those of deliveries the sender re-sent (same token): retries not collapsed."""
    unproven: tuple[str, ...] = ()
    """What this run's correlation mode could not show."""

    @classmethod
    def of(cls, evidence: Evidence) -> Findings:
        if evidence.correlation == "token":
            return cls._by_token(evidence)
        if evidence.correlation == "count":
            return cls._by_count(evidence)
        row_ids = {row["id"] for row in evidence.rows}
        dead_ids = {letter.item_id for letter in evidence.dead_letters}
        by_body = Counter(row.get("body_sha256") for row in evidence.rows if row.get("body_sha256"))
        missing = sorted(evidence.accepted.ids - row_ids - dead_ids)
        return cls(
            missing_ids=missing,
            collided=evidence.accepted.collisions(),
            duplicate_rows=sum(count - 1 for count in by_body.values() if count > 1),
            dead_ids=dead_ids,
            poisoned_ids=evidence.accepted.poisoned_ids,
            duplicates_expected=evidence.accepted.duplicates_expected(),
            missing=len(missing),
        )

    @classmethod
    def _by_token(cls, evidence: Evidence) -> Findings:
        """A publisher that is not ours: each request is the rows and DLQ messages that carry its token."""
        tokens = evidence.accepted.tokens
        per_token = Counter(token for row in evidence.rows for token in tokens_in(row) & tokens)
        dead = {token for letter in evidence.dead_letters for token in tokens_in(letter.body) & tokens}
        missing = sorted(tokens - set(per_token) - dead)
        retried = evidence.accepted.retried_tokens
        return cls(
            missing_ids=missing,
            collided={},
            duplicate_rows=sum(count - 1 for count in per_token.values()),
            dead_ids=dead,
            poisoned_ids=set(),
            duplicates_expected=0,
            missing=len(missing),
            retried_duplicates=sum(count - 1 for token, count in per_token.items() if token in retried),
            unproven=("injected SQS redeliveries (they need the harness's message format)",),
        )

    @classmethod
    def _by_count(cls, evidence: Evidence) -> Findings:
        """The stack keeps no token: accepted deliveries against the rows and DLQ messages the run added."""
        new_rows = _added(evidence.table_rows)
        new_dead = _added(evidence.dlq_depth)
        deliveries = len(evidence.accepted.tokens) + queued_unanswered(evidence)
        duplicates = max(0, new_rows + new_dead - deliveries)
        return cls(
            missing_ids=[],
            collided={},
            duplicate_rows=duplicates,
            retried_duplicates=min(duplicates, len(evidence.accepted.times("sender-retry"))),
            dead_ids=set(),
            poisoned_ids=set(),
            duplicates_expected=0,
            missing=max(0, deliveries - new_rows - new_dead),
            unproven=(
                "which request became which row (no row carries the request's token: verified by counting)",
                "that a lost request and a doubled one did not cancel out in the count",
                "injected SQS redeliveries (they need the harness's message format)",
            ),
        )


def _added(counts: tuple[int, int] | None) -> int:
    return 0 if counts is None else max(0, counts[1] - counts[0])


Rule = Callable[[Evidence, Findings], str | None]
"""A rule returns the reason the run fails, or None when it holds."""


def nothing_lost(evidence: Evidence, found: Findings) -> str | None:
    what = "request(s)" if evidence.correlation != "id" else "id(s)"
    if found.missing and evidence.pending:
        return (
            f"{found.missing} accepted {what} are not rows yet: {evidence.pending} message(s) were still "
            "queued when the drain timed out (failed batches wait out their visibility timeout)"
        )
    if found.missing and not found.missing_ids and not evidence.consumer.errors and not evidence.pending:
        return (
            f"{found.missing} accepted request(s) became no row of their own: the queue was drained and the "
            "subscriber failed no invocation, so their writes landed on other requests' rows — the stack's ids "
            "collide (distinct requests got the same key and overwrote one another; verified by counting)"
        )
    if found.missing and not found.missing_ids:
        return f"{found.missing} accepted request(s) more than the rows and DLQ messages the run added (by count)"
    if found.missing:
        dlq = "nor in the DLQ" if evidence.outputs.has_dlq else "(the stack has no DLQ)"
        return f"{found.missing} accepted {what} are neither a row {dlq}, e.g. {found.missing_ids[:3]}"
    return None


def ids_do_not_collide(_: Evidence, found: Findings) -> str | None:
    if found.collided:
        return (
            f"{sum(found.collided.values())} accepted request(s) got the id of another request and were overwritten "
            f"or dropped as duplicates, e.g. {sorted(found.collided)[:3]}: the publisher's ids collide"
        )
    return None


def no_duplicate_rows(_: Evidence, found: Findings) -> str | None:
    if found.duplicate_rows:
        retries = (
            f" (the run re-sent {found.retried_duplicates} deliveries as sender retries: a stack that does not "
            "collapse them writes them twice)"
            if found.retried_duplicates
            else ""
        )
        return f"{found.duplicate_rows} duplicate row(s): one request became more than one row{retries}"
    return None


def one_message_per_request(evidence: Evidence, _: Findings) -> str | None:
    """From the queue's own metrics: a publisher that sends twice, or drops, shows even when rows look right."""
    per_request = enqueued_per_request(evidence)
    if per_request is None:
        return None
    sent = evidence.enqueued - len(evidence.accepted.times("redelivery"))
    requests, unanswered = _requests(evidence), len(evidence.accepted.unanswered)
    if sent < requests or sent > requests + unanswered:
        allowance = f" (+ up to {unanswered} for requests that got a server error or no answer)" if unanswered else ""
        return (
            f"the publisher enqueued {sent:g} message(s) for {requests} accepted request(s) "
            f"({per_request:.2f} per request, expected 1{allowance})"
        )
    return None


def _requests(evidence: Evidence) -> int:
    """Accepted requests as the publisher saw them: sender retries are requests too."""
    return sum(1 for record in evidence.accepted.records if record.get("kind", "new") in PUBLISHED_KINDS)


def queued_unanswered(evidence: Evidence) -> int:
    """Requests that got a server error or no answer but were queued all the same (the queue's count says how
    many, not which): their rows are not duplicates."""
    if evidence.enqueued is None:
        return 0
    sent = evidence.enqueued - len(evidence.accepted.times("redelivery"))
    return int(min(max(0, sent - _requests(evidence)), len(evidence.accepted.unanswered)))


def enqueued_per_request(evidence: Evidence) -> float | None:
    if evidence.enqueued is None or not _requests(evidence):
        return None
    return round((evidence.enqueued - len(evidence.accepted.times("redelivery"))) / _requests(evidence), 3)


def refused_deliveries_leave_no_trace(evidence: Evidence, _: Findings) -> str | None:
    """Forged and stale signed deliveries: 401 each, and no row of them (the queue's count is checked by
    one_message_per_request: they are no requests of the run)."""
    reasons = []
    for kind in REFUSED_KINDS:
        sent, accepted = evidence.accepted.refused_as(kind)
        if accepted:
            reasons.append(f"{accepted} of {sent} {kind} signed deliveries were accepted (expected 401)")
    if evidence.refused_rows:
        reasons.append(f"{evidence.refused_rows} row(s) carry a forged or stale delivery")
    return "; ".join(reasons) or None


def throttled_requests_were_not_queued(evidence: Evidence, _: Findings) -> str | None:
    """A request API Gateway answered 429 never reached its integration: no row may carry it. (Never accepted
    is not lost: such requests are counted apart, not in ``accepted``.)"""
    if evidence.throttled_rows:
        return (
            f"{evidence.throttled_rows} row(s) carry a request that was only ever answered 429: the throttle "
            "must refuse before the integration runs"
        )
    return None


def consumer_within_its_limit(evidence: Evidence, _: Findings) -> str | None:
    consumer = evidence.consumer
    if (
        consumer.limit is not None
        and consumer.max_concurrency is not None
        and consumer.max_concurrency > consumer.limit
    ):
        return f"the subscriber ran {consumer.max_concurrency:.0f} at once, above its limit of {consumer.limit}"
    return None


def dlq_holds_only_poison(_: Evidence, found: Findings) -> str | None:
    unexpected = found.dead_ids - found.poisoned_ids
    if unexpected:
        return f"{len(unexpected)} unexpected DLQ message(s) (no fault was injected for them)"
    return None


def poison_reaches_the_dlq(_: Evidence, found: Findings) -> str | None:
    missing = found.poisoned_ids - found.dead_ids
    if missing:
        return f"{len(missing)} poisoned message(s) did not reach the DLQ"
    return None


def duplicates_suppressed(evidence: Evidence, found: Findings) -> str | None:
    suppressed = evidence.consumer.duplicates_suppressed
    if suppressed < found.duplicates_expected:
        return f"{found.duplicates_expected} duplicate(s) injected but only {suppressed} suppressed by the subscriber"
    return None


def backend_never_refused_work(evidence: Evidence, _: Findings) -> str | None:
    """The pattern's purpose: the scale-limited backend is never overloaded."""
    view = evidence.backend
    if view is not None and view.errors:
        capacity = "on demand" if view.capacity is None else f"{view.capacity:g} {view.capacity_unit}"
        return (
            f"the backend ({view.kind}, capacity {capacity}) {view.refusal} {view.errors} time(s) for capacity, "
            f"peaking at {view.peak:g} {view.capacity_unit}: the consumer's throttle does not protect it"
        )
    return None


SOAK_WARM_UP_S = 60.0
"""The first minute of a soak is left out of the fit: environments start, caches fill, then it must be flat."""
RESOURCES: tuple[tuple[str, str, float], ...] = (
    ("gateway_rss_mb", "LocalStack's resident memory (MiB)", 25.0),
    ("gateway_threads", "LocalStack's threads", 10.0),
    ("gateway_open_files", "LocalStack's open files", 20.0),
    ("function_processes", "function processes", 5.0),
)
"""(sample key, what it is, the growth over the soak that is never noise): a resource fails the soak when its
fitted growth over the window exceeds this floor and a tenth of its level."""


def fitted_slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (t, value): per second."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread if spread else 0.0


NET_OF_HELD = "gateway_rss_mb"
"""The resource judged net of what the stack must keep for the run (``Evidence.held_mib``)."""


def kept_and_net(
    points: Sequence[tuple[float, float]], held_mib: dict[float, float]
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """For (t, resident MiB) points: what the stack kept for the run at each t, and the resident memory net
    of it (the soak's fit and the report's memory chart read the same two lines)."""
    kept = [(t, held_mib.get(t, 0.0)) for t, _ in points]
    return kept, [(t, value - held) for (t, value), (_, held) in zip(points, kept, strict=True)]


def soak_growth(evidence: Evidence) -> list[dict[str, Any]]:
    """Each resource's fitted growth over the soak's window (after the warm-up, until the load ended);
    LocalStack's memory net of the rows and log lines it keeps for the run."""
    start, end = evidence.load_started + SOAK_WARM_UP_S, evidence.load_ended
    held = dict(evidence.held_mib)
    found = []
    for key, what, floor in RESOURCES:
        points = [(s["t"], float(s[key])) for s in evidence.samples if key in s and start <= s.get("t", 0) <= end]
        if len(points) < 10:
            continue
        kept, net = kept_and_net(points, held) if key == NET_OF_HELD and held else ([], points)
        slope = fitted_slope(net)
        window = points[-1][0] - points[0][0]
        level = sorted(value for _, value in points)[len(points) // 2]
        growth = slope * window
        found.append(
            {
                "resource": what + (", net of what it keeps for the run" if kept else ""),
                "key": key,
                "level": round(level, 1),
                "growth": round(growth, 1),
                "per_hour": round(slope * 3600, 1),
                "window_s": round(window),
                "unbounded": growth > max(floor, 0.1 * level),
                **({"kept_for_the_run": round(fitted_slope(kept) * window, 1)} if kept else {}),
            }
        )
    return found


def resources_stay_flat_in_a_soak(evidence: Evidence, found: Findings) -> str | None:
    """A soak (``HARNESS_SHAPE=soak``) fails when a resource of the emulator grows without bound: a fitted
    slope over the whole window, not one sample."""
    if evidence.shape != SOAK:
        return None
    growing = [g for g in soak_growth(evidence) if g["unbounded"]]
    if not growing:
        return None
    return "; ".join(
        f"{g['resource']} grew without bound over the soak: +{g['growth']:g} in {g['window_s'] / 60:.0f} min "
        f"(fitted, {g['per_hour']:+g} an hour, from a level of {g['level']:g})"
        for g in growing
    )


RULES: tuple[Rule, ...] = (
    nothing_lost,
    ids_do_not_collide,
    no_duplicate_rows,
    one_message_per_request,
    refused_deliveries_leave_no_trace,
    throttled_requests_were_not_queued,
    consumer_within_its_limit,
    dlq_holds_only_poison,
    poison_reaches_the_dlq,
    duplicates_suppressed,
    backend_never_refused_work,
    resources_stay_flat_in_a_soak,
)


@dataclass
class Verdict:
    verdict: str
    reasons: list[str]
    accepted: int
    rows: int
    dlq: int
    lost: int
    lost_ids: list[str]
    duplicate_rows: int
    duplicates_injected: int
    duplicates_suppressed: int
    max_consumer_concurrency: float | None
    consumer_concurrency_limit: int | None
    throttles: float
    function_errors: float
    drain_seconds: float | None
    e2e_latency_ms: dict[str, float]
    ingest_rps: float
    dlq_messages: list[dict[str, Any]] = field(default_factory=list)
    pending: int = 0
    backend: dict[str, Any] = field(default_factory=dict)
    """kind, capacity, capacity_unit, peak, errors: the backend's side of the run."""
    correlation: str = "id"
    """id, token or count: how requests were found in the backend (see Evidence.correlation)."""
    unproven: list[str] = field(default_factory=list)
    enqueued_per_request: float | None = None
    has_dlq: bool = True
    unanswered: int = 0
    """Requests that got a server error or no answer; queued_unanswered of them reached the queue anyway."""
    queued_unanswered: int = 0
    signed: dict[str, int] = field(default_factory=dict)
    """Signed webhooks: forged and stale deliveries sent and wrongly accepted, replays sent (one row each)."""
    answer_latency_ms: dict[str, float] = field(default_factory=dict)
    """Request -> 2xx, as the sender waited for it: through the publisher, or API Gateway's own SendMessage."""
    throttled_at_gate: int = 0
    """Answers 429 from API Gateway's throttle (each retry that got one counts)."""
    never_accepted: int = 0
    """Requests the sender gave up on after 429s: not accepted, so not lost."""
    offered: dict[str, Any] = field(default_factory=dict)
    """An open-model load: offered (the schedule), sent, late, unsent; {}: a closed-model load."""
    ended_by: str = ""
    """Empty for a run that ran its course; else what ended it early: ``ctrl-c``, ``sigterm`` or ``stack``."""
    soak: list[dict[str, Any]] = field(default_factory=list)
    """A soak's resources: each one's level and fitted growth (``soak_growth``)."""
    machine_limit: dict[str, Any] = field(default_factory=dict)
    """The seconds this machine, not the stack, was the limit (``MachineLimit``); {}: it never was."""
    notes: list[str] = field(default_factory=list)
    """What a reader must know to trust the figures, not failures: a load short of its schedule, a backend that
    held only on burst credit, a consumer bounded by this machine rather than by AWS's rule."""

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


INCOMPLETE, VOID = "INCOMPLETE", "VOID"
"""Verdicts of a run that did not run its course: stopped by the user, or by the stack under test dying."""


def not_judged(verdict: Verdict, status: str, reason: str, ended_by: str) -> Verdict:
    """A run stopped early says so and claims no loss: what had not become a row yet was still on its way."""
    return dataclasses.replace(verdict, verdict=status, reasons=[reason], lost=0, lost_ids=[], ended_by=ended_by)


def latencies_ms(evidence: Evidence) -> list[float]:
    """Accepted -> row, per row that carries both times."""
    return [
        float(row["written_at_ms"]) - float(row["received_at_ms"])
        for row in evidence.rows
        if row.get("written_at_ms") is not None and row.get("received_at_ms") is not None
    ]


def judge(evidence: Evidence, rules: tuple[Rule, ...] = RULES) -> Verdict:
    found = Findings.of(evidence)
    reasons = [reason for rule in rules if (reason := rule(evidence, found)) is not None]
    events = evidence.accepted.events_by_id()
    if evidence.correlation == "id":
        lost = sum(len(events[item_id]) for item_id in found.missing_ids) + sum(found.collided.values())
    else:
        lost = found.missing
    load_seconds = max(0.001, evidence.load_ended - evidence.load_started)
    consumer = evidence.consumer
    return Verdict(
        verdict="FAIL" if reasons else "PASS",
        reasons=reasons,
        accepted=sum(len(owners) for owners in events.values()),
        rows=_added(evidence.table_rows) if evidence.correlation == "count" else len(evidence.rows),
        dlq=_added(evidence.dlq_depth) if evidence.correlation == "count" else len(evidence.dead_letters),
        lost=lost,
        lost_ids=(found.missing_ids + sorted(found.collided))[:100],
        duplicate_rows=found.duplicate_rows,
        duplicates_injected=found.duplicates_expected,
        duplicates_suppressed=consumer.duplicates_suppressed,
        max_consumer_concurrency=consumer.max_concurrency,
        consumer_concurrency_limit=consumer.limit,
        throttles=consumer.throttles,
        function_errors=consumer.errors,
        drain_seconds=None if evidence.drain_seconds is None else round(evidence.drain_seconds, 1),
        e2e_latency_ms=percentiles(latencies_ms(evidence)),
        ingest_rps=round(len(evidence.accepted.new_requests) / load_seconds, 1),
        dlq_messages=[
            {
                "id": letter.item_id or letter.message_id,
                "receive_count": letter.receive_count,
                "why": _why(letter.item_id, found),
            }
            for letter in evidence.dead_letters
        ],
        pending=evidence.pending,
        backend=_backend_summary(evidence),
        correlation=evidence.correlation,
        unproven=list(found.unproven),
        enqueued_per_request=enqueued_per_request(evidence),
        has_dlq=evidence.outputs.has_dlq,
        unanswered=len(evidence.accepted.unanswered),
        queued_unanswered=queued_unanswered(evidence),
        signed=_signed_summary(evidence),
        answer_latency_ms=percentiles(
            float(record["ms"]) for record in evidence.accepted.records if record.get("ms") is not None
        ),
        throttled_at_gate=len(evidence.accepted.throttled),
        never_accepted=len(evidence.accepted.never_accepted),
        offered=dataclasses.asdict(evidence.offered) | {"unsent": evidence.offered.unsent} if evidence.offered else {},
        soak=soak_growth(evidence) if evidence.shape == SOAK else [],
        machine_limit=asdict(limit) | {"first_s": limit.first_s} if (limit := machine_limit(evidence)) else {},
        notes=[note for check in NOTES if (note := check(evidence)) is not None],
    )


GATEWAY_SATURATED_PERCENT = 90.0
"""The emulator's process at this share of one core or above: its gateway, not the stack, set the pace."""
LOAD_GENERATOR_SATURATED_PERCENT = 90.0
"""A load generator process at this share of one core or above (Locust warns at 90 % too)."""
MACHINE_SATURATED_PERCENT = 95.0
"""The whole machine at this share of all its cores or above."""
SATURATED_PARTS = ("LocalStack's gateway", "the load generator", "every core of this machine")
SATURATED_SECONDS_TO_TELL = 3
SATURATED_SHARE_TO_TELL = 0.1
"""Fewer saturated seconds than these (3, and a tenth of the load) are a blip, such as the publisher's cold
starts when a burst begins, not a limit worth a finding."""


@dataclass(frozen=True)
class MachineLimit:
    """The seconds of the load in which this machine, not the stack under test, was the limit."""

    seconds: list[int]
    """Seconds since the load started (each sample covers the second before it)."""
    by: list[str]
    """What sat at its ceiling: the emulator's gateway, the load generator, the machine's cores."""
    capped_rps: float
    """Accepted webhooks per second in those seconds (the median): what this machine let in."""
    queue_empty_at_s: int | None
    """A saturated second with no backlog: the consumer kept up with what got in, so the backend saw only that."""
    conclusion_depends: bool
    """A backend with a capacity held, but the queue was empty in a saturated second: a faster ingest would have
    tested it harder (an on-demand backend has no capacity to hold)."""

    @property
    def first_s(self) -> int:
        return self.seconds[0]

    def spans(self) -> list[tuple[int, int]]:
        """The seconds as (from, to) intervals, for a chart."""
        spans: list[tuple[int, int]] = []
        for second in self.seconds:
            if spans and spans[-1][1] == second - 1:
                spans[-1] = (spans[-1][0], second)
            else:
                spans.append((second - 1, second))
        return spans

    def describe(self) -> str:
        by = " and ".join(self.by)
        sentence = (
            f"ingest was capped by this machine at ~{self.capped_rps:g}/s from second {self.first_s} "
            f"({by} at its ceiling in {len(self.seconds)} s of the load): the figures after second {self.first_s} "
            f"measure the emulator, not your stack; AWS would have accepted them "
            f"({API_ACCOUNT_RATE_LIMIT:,.0f} requests/s per account)"
        )
        if self.conclusion_depends:
            sentence += (
                f"; the backend's verdict rests on those seconds: the queue was empty at second "
                f"{self.queue_empty_at_s}, so the consumer kept up with what got in, and a faster ingest would have "
                "pressed the backend harder"
            )
        return sentence


def machine_limit(evidence: Evidence) -> MachineLimit | None:
    """The seconds of the load in which the gateway, a load generator process or the whole machine sat at its
    ceiling; None when there were too few to matter (``SATURATED_SECONDS_TO_TELL``, ``SATURATED_SHARE_TO_TELL``).
    A slower run is not a failed one: this is a note."""
    origin, end = evidence.load_started, evidence.load_ended
    seconds: list[int] = []
    by: set[str] = set()
    empty_at: int | None = None
    previous = None
    for sample in sorted((s for s in evidence.samples if "t" in s), key=lambda s: s["t"]):
        # A sample's CPU figures cover the time since the one before: a sampler held up by a swamped machine
        # comes back with one sample for several seconds, and each of them was saturated.
        since, previous = previous, sample["t"]
        what = _saturated(sample)
        if not what or not origin < sample["t"] <= end + 1:
            continue
        last = max(1, round(sample["t"] - origin))
        first = last if since is None else max(1, min(last, round(since - origin) + 1))
        seconds += [second for second in range(first, last + 1) if not seconds or second > seconds[-1]]
        by |= what
        if empty_at is None and sample.get("visible") == 0 and sample.get("in_flight", 0) == 0:
            empty_at = last
    if len(seconds) < max(SATURATED_SECONDS_TO_TELL, SATURATED_SHARE_TO_TELL * (end - origin)):
        return None
    accepted = evidence.accepted.times("new") + evidence.accepted.times("sender-retry")
    per_second = Counter(int(t - origin) + 1 for t in accepted)
    rates = sorted(per_second.get(second, 0) for second in seconds)
    view = evidence.backend
    held_within_a_limit = view is not None and view.capacity is not None and not view.errors
    return MachineLimit(
        seconds=seconds,
        by=[name for name in SATURATED_PARTS if name in by],
        capped_rps=float(rates[len(rates) // 2]),
        queue_empty_at_s=empty_at,
        conclusion_depends=empty_at is not None and held_within_a_limit,
    )


def _saturated(sample: dict[str, Any]) -> set[str]:
    what = set()
    if sample.get("gateway_cpu", 0.0) >= GATEWAY_SATURATED_PERCENT:
        what.add(SATURATED_PARTS[0])
    if sample.get("locust_cpu_busiest", sample.get("locust_cpu", 0.0)) >= LOAD_GENERATOR_SATURATED_PERCENT:
        what.add(SATURATED_PARTS[1])
    if sample.get("machine_cpu", 0.0) >= MACHINE_SATURATED_PERCENT:
        what.add(SATURATED_PARTS[2])
    return what


def capped_by_this_machine(evidence: Evidence) -> str | None:
    limit = machine_limit(evidence)
    return limit.describe() if limit else None


def short_of_schedule(evidence: Evidence) -> str | None:
    """An open-model load that sent materially fewer webhooks, or sent them late: the measured reason."""
    offered = evidence.offered
    if offered is None or not offered.short:
        return None
    answers = [float(r["ms"]) for r in evidence.accepted.records if r.get("ms") is not None]
    p99 = percentiles(answers).get("p99")
    reasons = [f"every sender was waiting for an answer (answers p99 {p99:g} ms)" if p99 is not None else ""]
    if throttled := len(evidence.accepted.throttled):
        reasons.append(f"{throttled} answered 429 at the gate and were retried")
    gateway = max((sample.get("gateway_cpu", 0.0) for sample in evidence.samples), default=0.0)
    if gateway >= GATEWAY_SATURATED_PERCENT:
        reasons.append(f"LocalStack at up to {gateway:.0f} % of a core: this machine, not your stack, set the pace")
    late = f", {offered.late} of them over a second late (up to {offered.late_max_s:g} s)" if offered.late else ""
    return f"the load offered {offered.offered} webhooks on its schedule and sent {offered.sent}{late}: " + "; ".join(
        reason for reason in reasons if reason
    )


def survived_on_credit(evidence: Evidence) -> str | None:
    """Held, but above the provisioned rate: safe only while the banked credit lasts."""
    view = evidence.backend
    if view is None or not view.on_credit or view.errors:
        return None
    lasts = view.credit_lasts_s()
    return (
        f"the backend survived on burst credit, not within its capacity: it peaked at {view.peak:g} of "
        f"{view.capacity:g} {view.capacity_unit}, drawing {view.credit_drawn:g} of the {view.full_credit:g} units "
        f"a full credit holds; a burst at that rate empties a full credit in {lasts:.0f} s, then it {view.refusal}"
    )


def bounded_by_this_machine(evidence: Evidence) -> str | None:
    """Only where the consumer stayed below its own limit: a throttled one that reached it was bounded by its
    throttle (the ceiling then only held back batches AWS would have polled and throttled)."""
    consumer = evidence.consumer
    hits, limit, reached = consumer.host_ceiling_hits, consumer.limit, consumer.max_concurrency
    if not hits or (limit is not None and reached is not None and reached >= limit):
        return None
    return (
        f"the host ceiling on function processes (HARNESS_MAX_CONCURRENT_ENVIRONMENTS), not AWS's scaling rule, "
        f"bounded the subscriber in {hits:g} second(s): AWS would have run more at once"
    )


NOTES: tuple[Callable[[Evidence], str | None], ...] = (
    short_of_schedule,
    survived_on_credit,
    bounded_by_this_machine,
    capped_by_this_machine,
)


def _signed_summary(evidence: Evidence) -> dict[str, int]:
    accepted = evidence.accepted
    if not accepted.refused and not accepted.times("replay"):
        return {}
    (forged, forged_accepted), (stale, stale_accepted) = accepted.refused_as(FORGED), accepted.refused_as(STALE)
    return {
        "forged": forged,
        "forged_accepted": forged_accepted,
        "stale": stale,
        "stale_accepted": stale_accepted,
        "replays": len(accepted.times("replay")),
        "refused_rows": evidence.refused_rows,
    }


def _backend_summary(evidence: Evidence) -> dict[str, Any]:
    view = evidence.backend
    if view is None:
        return {}
    keys = ("kind", "capacity", "capacity_unit", "peak", "errors")
    summary = {key: getattr(view, key) for key in keys} | {"summary": view.describe()}
    if view.proxy is not None:
        proxy = view.proxy
        summary["proxy"] = {
            "client_connections_peak": proxy.peak(proxy.client_connections),
            "database_connections_peak": proxy.peak(proxy.database_connections),
            "clients_waiting_peak": proxy.peak(proxy.clients_waiting),
            "borrow_timeouts": proxy.borrow_timeouts,
            "refused_clients": proxy.refused_clients,
            "pool_size": proxy.pool_size,
        }
    return summary


def _why(item_id: str | None, found: Findings) -> str:
    if item_id in found.poisoned_ids:
        return "poisoned on purpose (fail_path_marker): the subscriber fails it every time"
    return "failed or throttled maxReceiveCount times (see the subscriber's logs and Throttles)"
