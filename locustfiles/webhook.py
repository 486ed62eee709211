"""Locust load for the Scalable Webhook: realistic webhook posts, shapes, duplicate injection.

Run through `make load` (headless, verified, reported) or `make ui` (web UI on 127.0.0.1:8089, with a
live harness view at /harness). Settings come from the harness's HARNESS_* variables; the host is the
deployed webhook URL.

Every accepted request is recorded in ``$HARNESS_RUN_DIR/accepted-<pid>.jsonl`` so verification knows
exactly what the API accepted: with the id our publisher answers (202 ``{"id": ...}``), and always with the
request's correlation token, which finds the rows of a publisher that is not ours (any 2xx is accepted).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import gevent
from gevent import GreenletExit
from locust import FastHttpUser, LoadTestShape, constant, constant_throughput, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness import aws
from harness.evidence import FORGED, STALE, THROTTLED, UNANSWERED
from harness.evidence.tokens import new_token
from harness.load import arrivals
from harness.load.config import LoadSettings
from harness.load.shapes import shape_for
from harness.outputs import Outputs, load_outputs
from harness.signing import Signer, new_secret
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings

from _live_view import register as register_live_view

STACK = StackSettings.from_env()
SETTINGS = LoadSettings.from_env()
if SETTINGS.seed:
    random.seed(SETTINGS.seed)  # the same choices in every run with this seed (`harness compare`)
SIGNING = TopologySettings.from_env(validate=False)  # as `harness load` resolved them (signing_environment)
SIGNER = Signer(SIGNING.signature_scheme, SIGNING.signing_secret) if SIGNING.signature_scheme != "none" else None
PATHS = ("/github/push", "/github/pull_request", "/stripe/charge.succeeded", "/orders/created", "/hello")


class Recorder:
    """Accepted requests of this process, one JSON line each (line-buffered: a crash loses nothing), in the run's
    folder; a test started from the web UI moves it to a folder of its own (``use``). Counts what it recorded
    by kind, for the UI's Harness tab."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self._file = None
        self.use(Path(os.environ.get("HARNESS_RUN_DIR") or STACK.state_path / "ui-run"))

    def use(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._file is not None:
                self._file.close()
            self._file = open(run_dir / f"accepted-{os.getpid()}.jsonl", "a", buffering=1)  # noqa: SIM115
            self.counts.clear()

    def accepted(self, **record: object) -> None:
        with self._lock:
            self._file.write(json.dumps({"t": time.time(), **record}) + "\n")
            self.counts[str(record.get("kind"))] += 1


RECORDER = Recorder()
_sqs = None
SHAPE = shape_for(SETTINGS.shape, SETTINGS.users, SETTINGS.spawn_rate, SETTINGS.duration_s)
OPEN = SETTINGS.arrival == "open"


class Schedule:
    """Open arrivals: this process's share of the seeded schedule, taken in order by whichever sender is free;
    what was sent, and how late, is written to ``arrivals-<pid>.json`` when the load stops."""

    def __init__(self) -> None:
        self.times: list[float] | None = None
        self.next = self.sent = self.late = self.answered = 0
        self.late_max_s = 0.0
        self.started = 0.0

    def start(self, environment: Environment) -> None:
        index = environment.runner.worker_index if isinstance(environment.runner, WorkerRunner) else 0
        every = arrivals.arrival_times(SHAPE, SETTINGS.user_rps, SETTINGS.seed)
        self.times = arrivals.share(every, index, SETTINGS.workers or 1)
        self.started = time.monotonic()

    def wait_for_next(self) -> bool:
        """Sleep until this sender's next arrival; False when the schedule is done."""
        if self.times is None or self.next >= len(self.times):
            return False
        at = self.started + self.times[self.next]
        self.next += 1
        gevent.sleep(max(0.0, at - time.monotonic()))
        lateness = time.monotonic() - at
        self.sent += 1
        if lateness > arrivals.LATE_S:
            self.late += 1
            self.late_max_s = max(self.late_max_s, lateness)
        return True

    def done(self) -> bool:
        """Every arrival sent and answered (False while unknown: a master's workers hold the schedule)."""
        return self.times is not None and self.answered >= len(self.times)

    def write(self) -> None:
        if self.times is None:
            return
        record = {"sent": self.sent, "late": self.late, "late_max_s": round(self.late_max_s, 2)}
        run_dir = Path(os.environ.get("HARNESS_RUN_DIR") or STACK.state_path / "ui-run")
        (run_dir / f"arrivals-{os.getpid()}.json").write_text(json.dumps(record) + "\n")


SCHEDULE = Schedule()


@events.test_start.add_listener
def start_schedule(environment: Environment, **_kwargs) -> None:
    if OPEN and not isinstance(environment.runner, MasterRunner):
        SCHEDULE.start(environment)


@events.test_stop.add_listener
def write_schedule(environment: Environment, **_kwargs) -> None:
    if OPEN:
        SCHEDULE.write()


def sqs_client():
    global _sqs
    if _sqs is None:
        _sqs = aws.client("sqs", STACK)
    return _sqs


class WebhookUser(FastHttpUser):
    """A webhook sender: JSON events on varied paths, some with idempotency keys, HARNESS_USER_RPS a second
    (closed model), or on the seeded arrival schedule (HARNESS_ARRIVAL=open)."""

    wait_time = constant(0) if OPEN else constant_throughput(SETTINGS.user_rps)

    def on_start(self) -> None:
        run_outputs = Path(os.environ.get("HARNESS_RUN_DIR", "/nonexistent")) / "outputs.json"
        self.outputs = Outputs.read(run_outputs) if run_outputs.is_file() else load_outputs(STACK)
        self.places = SETTINGS.places()

    @task
    def post_webhook(self) -> None:
        if OPEN and not SCHEDULE.wait_for_next():
            gevent.sleep(SHAPE.duration_s)  # the schedule is done: idle until the load ends
            return
        try:
            self._send()
        finally:
            if OPEN:
                SCHEDULE.answered += 1

    def _send(self) -> None:
        event_id, token = str(uuid.uuid4()), new_token()
        marker = self.outputs.fail_path_marker
        poisoned = marker and SETTINGS.poison_share and random.random() < SETTINGS.poison_share
        path = f"/{marker}/{event_id[:8]}" if poisoned else SETTINGS.webhook_path or random.choice(PATHS)
        if "path" in self.places:
            path = f"{path}/{token}"
        headers = {"Content-Type": "application/json", "User-Agent": "harness-locust"}
        if self.outputs.webhook_host:
            headers["Host"] = self.outputs.webhook_host
        if "header" in self.places:
            headers[SETTINGS.token_header] = token
        if random.random() < SETTINGS.idempotency_share and not SIGNER:
            headers["Idempotency-Key"] = f"delivery-{event_id}"
        payload = {"event_id": event_id, "type": path.strip("/"), "data": {"amount": random.randint(1, 999)}}
        delivery_id = f"evt_{event_id.replace('-', '')}"  # a signed delivery's own id: its idempotency key
        if SIGNER and SIGNER.scheme == "stripe":
            payload["id"] = delivery_id  # Stripe's delivery id is the event's id, in the body
        if "body" in self.places:
            payload["token"] = token
        body = json.dumps(payload)
        request = {"path": path, "body": body, "headers": headers, "event_id": event_id, "token": token}
        if SIGNER:
            roll = random.random()
            if roll < SETTINGS.forged_share:
                self._refused(FORGED, delivery_id, **request)
                return
            if roll < SETTINGS.forged_share + SETTINGS.stale_share:
                self._refused(STALE, delivery_id, **request)
                return
            headers.update(SIGNER.headers(delivery_id, int(time.time()), body.encode()))
        accepted = self._post(**request, kind="new", poisoned=bool(poisoned))
        if not accepted:
            return
        if SIGNER and random.random() < SETTINGS.replay_share:
            self._post(**request, kind="replay", poisoned=bool(poisoned))  # the same bytes, inside the tolerance
        retried = "Idempotency-Key" in headers or SIGNER
        if retried and random.random() < SETTINGS.retry_share:
            if SIGNER:  # a sender's retry: the same delivery id, signed again now
                headers.update(SIGNER.headers(delivery_id, int(time.time()), body.encode()))
            self._post(**request, kind="sender-retry", poisoned=bool(poisoned))
        # Redelivery copies our publisher's message: a stack of your own has a message format of its own.
        if self.outputs.ours and random.random() < SETTINGS.duplicate_share:
            self._redeliver(accepted_id=accepted, path=path, body=body, event_id=event_id, poisoned=bool(poisoned))

    def _post(
        self, path: str, body: str, headers: dict, event_id: str, token: str, kind: str, poisoned: bool
    ) -> str | None:
        """The accepted id (our publisher's answer, else the token); None when the webhook refused it. A 429
        (API Gateway's throttle) is sent again after a backoff, up to HARNESS_THROTTLE_RETRIES times."""
        for attempt in range(SETTINGS.throttle_retries + 1):
            outcome = self._post_once(path, body, headers, event_id, token, kind, poisoned)
            if outcome is not THROTTLED:
                return outcome
            if attempt < SETTINGS.throttle_retries:
                gevent.sleep(SETTINGS.throttle_backoff_s * 2**attempt * random.uniform(0.5, 1.5))
        return None

    def _post_once(
        self, path: str, body: str, headers: dict, event_id: str, token: str, kind: str, poisoned: bool
    ) -> str | None:
        name = "POST /<webhook>" if kind == "new" else f"POST /<webhook> ({kind.replace('-', ' ')})"
        try:
            response_context = self.client.post(path, data=body, headers=headers, name=name, catch_response=True)
        except GreenletExit:  # the load ended with this request in flight: the publisher may queue it yet
            RECORDER.accepted(token=token, event=event_id, kind=UNANSWERED, status=0)
            raise
        with response_context as response:
            ours = self.outputs.ours
            if response.status_code == 429:  # refused at the gate, before the integration: counted apart
                response.request_meta["name"] = f"{name} (429: throttled at the gate)"
                response.success()
                RECORDER.accepted(token=token, event=event_id, kind=THROTTLED, status=429)
                return THROTTLED
            if (ours and response.status_code != 202) or not 200 <= response.status_code < 300:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                if response.status_code >= 500 or not response.status_code:  # it may have been queued all the same
                    RECORDER.accepted(token=token, event=event_id, kind=UNANSWERED, status=response.status_code)
                return None
            accepted_id = response.json()["id"] if ours else None
            RECORDER.accepted(
                id=accepted_id,
                token=token,
                event=event_id,
                kind=kind,
                path=path,
                poisoned=poisoned,
                ms=response.request_meta.get("response_time"),  # request -> queued, as the sender waited for it
            )
            return accepted_id or token

    def _refused(self, kind: str, delivery_id: str, path: str, body: str, headers: dict, event_id: str, token: str):
        """A delivery that must get 401 and leave no trace: forged (a wrong secret, or the body altered after
        signing) or stale (signed past the tolerance, as a delivery captured earlier and replayed now)."""
        now = int(time.time())
        if kind == STALE:
            signed = SIGNER.headers(delivery_id, now - SIGNING.signature_tolerance_s - 60, body.encode())
        elif random.random() < 0.5:
            signed = Signer(SIGNER.scheme, new_secret()).headers(delivery_id, now, body.encode())
        else:
            signed = SIGNER.headers(delivery_id, now, body.encode())
            body = body.replace('"amount": ', '"amount": 1')  # altered in transit
        with self.client.post(
            path, data=body, headers={**headers, **signed}, name=f"POST /<webhook> ({kind})", catch_response=True
        ) as response:
            if response.status_code == 401:
                response.success()  # refused, as it must be
            else:
                response.failure(f"{kind} request answered {response.status_code}, expected 401")
        RECORDER.accepted(id=delivery_id, token=token, event=event_id, kind=kind, status=response.status_code)

    def _redeliver(self, accepted_id: str, path: str, body: str, event_id: str, poisoned: bool) -> None:
        """The same message a second time, as SQS's at-least-once delivery may do."""
        message = {
            "id": accepted_id,
            "method": "POST",
            "path": path,
            "body": body,
            "received_at_ms": time.time() * 1000,
        }
        started = time.perf_counter()
        exception = None
        try:
            sqs_client().send_message(QueueUrl=self.outputs.queue_url, MessageBody=json.dumps(message))
            RECORDER.accepted(id=accepted_id, event=event_id, kind="redelivery", path=path, poisoned=poisoned)
        except Exception as error:
            exception = error
        events.request.fire(
            request_type="SQS",
            name="SendMessage (injected duplicate)",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exception,
            context={},
        )


class WebhookShape(LoadTestShape):
    """The shape named by HARNESS_SHAPE (steady, burst, soak; see harness/load/shapes.py); with open arrivals,
    the pool of senders (the schedule carries the shape) until every arrival is sent and answered: late ones
    catch up for at most another duration (in one process; Locust workers stop at the duration). In the web
    UI its start form sets the users, the spawn rate and (under its advanced options) the run time."""

    use_common_options = True  # the web UI's form shows users and spawn rate, filled in with the harness's

    def __init__(self) -> None:
        super().__init__()
        self.profile = SHAPE
        self.pool = arrivals.pool_size(SHAPE, SETTINGS.open_senders)

    def reset_time(self) -> None:
        """A test starts: in the web UI, with what its form says."""
        super().reset_time()
        environment = self.runner.environment if self.runner is not None else None
        form = (
            vars(environment.parsed_options)
            if environment and environment.web_ui and environment.parsed_options
            else {}
        )
        if form.get("users"):
            duration = form.get("run_time") or SETTINGS.duration_s
            self.profile = shape_for(SETTINGS.shape, int(form["users"]), float(form.get("spawn_rate") or 1), duration)

    def tick(self):
        if OPEN:
            run_time, duration = self.get_run_time(), self.profile.duration_s
            catching_up = run_time < arrivals.CATCH_UP * duration and SCHEDULE.times and not SCHEDULE.done()
            return (self.pool, float(self.pool)) if run_time < duration or catching_up else None
        return self.profile.at(self.get_run_time())


@events.init.add_listener
def add_harness_view(environment: Environment, **_kwargs) -> None:
    """The topology beside Locust's own charts: a Harness tab, and the live page /harness linked from the UI."""
    if environment.web_ui is None:
        return
    register_live_view(environment, STACK, SETTINGS, RECORDER.use, lambda: RECORDER.counts[THROTTLED])
