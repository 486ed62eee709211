"""Settings of a load run (`make load`, `make ui`, `make compare`), fault injection included, and of the web UI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.backend.base import BURST_CREDITS
from harness.load.arrivals import ARRIVALS
from harness.load.shapes import SHAPES
from harness.settings import SettingsGroup, option

TOKEN_PLACES = ("path", "body", "header")

_SHARES = ("duplicate_share", "idempotency_share", "retry_share", "poison_share", "fault_error_rate")


@dataclass(frozen=True)
class LoadSettings(SettingsGroup):
    title = "load"

    shape: str = option("burst", "load shape: steady, burst (quiet, spike, quiet) or soak", choices=SHAPES)
    users: int = option(20, "peak concurrent Locust users", low=1, flags=("-u",))
    user_rps: float = option(2.0, "webhooks per second each user sends (Locust constant_throughput)", low=0.001)
    spawn_rate: float = option(10.0, "users started per second", low=0.001, flags=("-r",))
    arrival: str = option(
        "closed",
        "closed: each user sends user_rps and waits for each answer (a slower system is sent fewer); open: "
        "webhooks arrive on a schedule fixed by the seed (users x user_rps a second, Poisson), whatever the "
        "answers (make compare always runs open)",
        choices=ARRIVALS,
    )
    open_senders: int = option(
        0,
        "open arrivals: concurrent senders carrying the schedule (0: the shape's peak users)",
        low=0,
        high=2000,
    )
    duration_s: int = option(
        60,
        "length of the load, e.g. 90, 30s, 5m, 1h30m (the queue then drains)",
        low=1,
        duration=True,
        flags=("-t", "--run-time", "--duration"),
    )
    workers: int = option(0, "Locust worker processes (0: one process); the master coordinates them", low=0, high=64)
    duplicate_share: float = option(
        0.1, "share of accepted messages delivered to SQS a second time (at-least-once made visible)", low=0, high=1
    )
    idempotency_share: float = option(0.3, "share of requests that carry an Idempotency-Key header", low=0, high=1)
    retry_share: float = option(0.2, "share of those the sender retries with the same key", low=0, high=1)
    throttle_retries: int = option(
        3, "times a sender sends a request again after a 429 (API Gateway's throttle), backing off", low=0, high=20
    )
    throttle_backoff_s: float = option(
        0.5,
        "a sender's first wait after a 429; doubled after each (with jitter, as senders' retries are)",
        low=0,
        high=60,
    )
    poison_share: float = option(
        0.0, "share of requests sent to a path with the deployed fail_path_marker (-> DLQ)", low=0, high=1
    )
    forged_share: float = option(
        0.0,
        "signed webhooks: share of requests forged (half signed with a wrong secret, half with the body altered "
        "after signing); each must get 401 and leave no trace",
        low=0,
        high=1,
    )
    replay_share: float = option(
        0.0, "signed webhooks: share of accepted deliveries re-sent as they were (a replay: one row)", low=0, high=1
    )
    stale_share: float = option(
        0.0,
        "signed webhooks (standard, stripe): share of requests signed with a timestamp past the tolerance, as a "
        "delivery captured earlier and replayed now (must get 401)",
        low=0,
        high=1,
    )
    token_places: str = option(
        "path,body,header",
        "where each request carries its unique correlation token (any of path, body, header): how a publisher "
        "that is not ours is verified, by finding the token in the rows",
    )
    webhook_path: str = option(
        "",
        "post every request to this path, as a sender posts to the one URL it was given (with the token out of "
        "the path: a stack keying rows by path shows its collisions); empty: five paths in turn",
    )
    token_header: str = option("X-Harness-Token", "the header that carries the token (token_places has header)")
    drain_timeout_s: int = option(300, "how long verification waits for the queue to drain", low=1, duration=True)
    fault_outage_after_s: int | None = option(
        None, "backend outage: starts this many seconds into the load", low=0, duration=True
    )
    fault_outage_duration_s: int = option(
        10, "backend outage: how long the subscriber's writes fail", low=1, duration=True
    )
    fault_error_rate: float = option(0.0, "share of subscriber writes that fail at random (transient)", low=0, high=1)
    fault_crash_after_s: int | None = option(
        None, "the subscriber's process is killed mid-batch once, this many seconds into the load", low=0, duration=True
    )
    fault_crash_delay_ms: int = option(
        300, "crash: how far into the invocation the process is killed (a sooner end loses its result)", low=0
    )
    fault_queue_outage_after_s: int | None = option(
        None, "publisher-side: SQS unavailable (503s) from this many seconds into the load", low=0, duration=True
    )
    fault_queue_outage_duration_s: int = option(5, "publisher-side: how long SQS is unavailable", low=1, duration=True)
    seed: int = option(
        0, "random seed of the load's choices (paths, shares, redeliveries); 0: a new one each run", low=0
    )
    burst_credit: str = option(
        "kept",
        "a PROVISIONED table's burst credit when the load starts: kept (as it stands), new (as a new table: "
        "one second of capacity), none, or full (300 s of capacity banked); make compare: kept means new, so "
        "every variant starts alike",
        choices=BURST_CREDITS,
    )
    drain_required: bool = option(
        True, "a queue that does not drain within drain_timeout_s ends the run (false: judged as it stands)"
    )
    reports_dir: Path = option(Path("reports"), "where runs are written (reports/<run-id>/, reports/latest)")

    def problems(self) -> list[str]:
        places = self.places()
        unknown = sorted(places - set(TOKEN_PLACES))
        if unknown or not places:
            return [f"token_places={self.token_places!r}: expected one or more of {', '.join(TOKEN_PLACES)}"]
        if self.webhook_path and not self.webhook_path.startswith("/"):
            return [f"webhook_path={self.webhook_path!r}: a path starts with / (e.g. /hello)"]
        return []

    def places(self) -> set[str]:
        return {place.strip() for place in self.token_places.split(",") if place.strip()}


@dataclass(frozen=True)
class WebUISettings(SettingsGroup):
    """`harness ui` (`make ui`): the load's settings, and where Locust's web UI listens."""

    title = "web UI"

    ui_port: int = option(8089, "Locust web UI port on 127.0.0.1", low=1, high=65535)
