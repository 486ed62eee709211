"""`harness load` (`make load`): flood the webhook with Locust, wait for the drain, verify, report.

One direction: the load runs, the evidence is collected once (``harness.evidence.collect``), the rules
judge it (``harness.rules``) and the report draws it (``harness.report``). Writes ``reports/<run-id>/``:
Locust's HTML and CSV, ``accepted-*.jsonl`` (what the API accepted), ``samples.jsonl`` (queue depths each
second), ``evidence.json``, ``verify.json`` and ``report.html``; ``reports/latest`` points at the newest run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil
from botocore.exceptions import BotoCoreError

from harness import aws, signing
from harness.backend import Backend
from harness.deployment import recorded_backend
from harness.evidence import Accepted, Evidence, Fault, Offered
from harness.evidence.collect import baseline, collect, wait_for_drain, without_the_stack
from harness.evidence.sampler import Sampler
from harness.exceptions import HarnessError, SettingsError, StackStopped, Terminated
from harness.load import arrivals
from harness.load.config import LoadSettings
from harness.load.faults import injected, planned
from harness.load.shapes import shape_for
from harness.network import LOOPBACK_HOST, free_port
from harness.outputs import Outputs, load_outputs
from harness.polling import DeadlineExceeded, poll
from harness.report import render_report
from harness.resources import bundled
from harness.rules import INCOMPLETE, VOID, Verdict, judge, not_judged
from harness.secrets import current_signing_secret
from harness.stack import is_healthy, started_stack
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings

LOCUSTFILE = bundled("locustfiles") / "webhook.py"
RUN_FILE = "run.json"


def accepted_so_far(run_dir: Path) -> str:
    """The senders' records so far, counted as the verdict counts them (distinct requests accepted), with
    the requests delivered again and the 429s beside (the records hold those too)."""
    so_far = Accepted.load(run_dir)
    accepted = sum(len(requests) for requests in so_far.events_by_id().values())
    again = len(so_far.records) - accepted
    return (
        f"{accepted} accepted"
        + (f", {again} delivered again" if again > 0 else "")
        + (f", {len(so_far.throttled)} answered 429" if so_far.throttled else "")
    )


def locust_commands(load: LoadSettings, outputs: Outputs, run_dir: Path) -> list[list[str]]:
    """The master (or single process) first, then the workers; every socket on 127.0.0.1."""
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", outputs.webhook_url]
    reports = ["--html", str(run_dir / "locust.html"), "--csv", str(run_dir / "locust"), "--only-summary"]
    longest = load.duration_s * (arrivals.CATCH_UP if load.arrival == "open" else 1)
    run_time = ["--run-time", f"{longest + 30:.0f}s", "--stop-timeout", "5"]
    if not load.workers:
        return [[*base, "--headless", *reports, *run_time]]
    port = free_port()
    master = [
        *base,
        "--headless",
        "--master",
        "--master-bind-host",
        LOOPBACK_HOST,
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(load.workers),
        *reports,
        *run_time,
    ]
    worker = [*base, "--worker", "--master-host", LOOPBACK_HOST, "--master-port", str(port)]
    return [master] + [worker] * load.workers


SIGNING = ("signature_scheme", "signing_secret", "signature_tolerance_s")
"""The topology's settings a load uses: what a publisher of your own verifies, so the load signs with it."""


def signing_environment(
    load: LoadSettings, outputs: Outputs, client: Callable[[str], Any], topology: TopologySettings | None = None
) -> dict[str, str]:
    """What the load generator signs with: our publisher's scheme and its current secret (read from Secrets
    Manager), or, for a publisher of your own, HARNESS_SIGNATURE_SCHEME and HARNESS_SIGNING_SECRET."""
    topology = topology or TopologySettings.from_env(validate=False)
    scheme = outputs.signature_scheme if outputs.ours else topology.signature_scheme
    tolerance = outputs.signature_tolerance_s if outputs.ours else topology.signature_tolerance_s
    shares = {name: getattr(load, name) for name in ("forged_share", "replay_share", "stale_share")}
    if scheme == "none":
        if any(shares.values()):
            wanted = ", ".join(f"{name}={value}" for name, value in shares.items() if value)
            raise SettingsError(
                f"{wanted}: forged, replayed and stale deliveries need signed webhooks; deploy with "
                "HARNESS_SIGNATURE_SCHEME=standard, github or stripe (your own publisher: set it and "
                "HARNESS_SIGNING_SECRET to what it verifies)"
            )
        return {}
    if load.stale_share and scheme not in signing.TIMESTAMPED:
        raise SettingsError(
            f"stale_share={load.stale_share}: {scheme} signatures carry no timestamp, so a stale delivery cannot be "
            "told from a fresh one (the delivery id stops replays); set HARNESS_STALE_SHARE=0"
        )
    secret = topology.signing_secret
    if outputs.ours and outputs.signing_secret_arn:
        secret = current_signing_secret(client("secretsmanager"), outputs.signing_secret_arn)
    if problem := signing.secret_problem(scheme, secret):
        raise SettingsError(
            f"signature scheme {scheme}: {problem}; set HARNESS_SIGNING_SECRET to the secret the publisher verifies"
        )
    return {
        TopologySettings.env_name("signature_scheme"): scheme,
        TopologySettings.env_name("signing_secret"): secret,
        TopologySettings.env_name("signature_tolerance_s"): str(tolerance),
    }


def run(
    stack: StackSettings,
    load: LoadSettings,
    progress: Callable[[str], None] = lambda _: None,
    outputs: Outputs | None = None,
    run_dir: Path | None = None,
    topology: TopologySettings | None = None,
    backend: Backend | None = None,
) -> tuple[Verdict, Path]:
    """One load run against ``outputs`` (default: the deployment recorded in the state folder); ``topology``
    gives the signing settings for a publisher of your own, ``backend`` the backend ``outputs`` writes to."""
    outputs = outputs or load_outputs(stack)
    if load.poison_share and not outputs.ours:
        raise SettingsError(
            f"poison_share={load.poison_share}: poisoned requests need the harness's subscriber, which fails on a "
            f"path marker; {outputs.stack_name}'s subscriber has none, so nothing would fail on purpose. Set "
            "HARNESS_POISON_SHARE=0 (every other fault works on your stack)"
        )
    if load.poison_share and not outputs.fail_path_marker:
        raise SettingsError(
            f"poison_share={load.poison_share}: the deployed subscriber has no fail_path_marker, so nothing would "
            "fail; deploy with HARNESS_FAIL_PATH_MARKER=poison first (set HARNESS_POISON_SHARE=0 otherwise)"
        )
    aws.require_stack(stack)
    if load.arrival == "open" and not load.seed:
        load = load.replace(seed=random.randrange(1, 2**31))  # the harness counts the schedule Locust sends
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{load.shape}"
    run_dir = run_dir or load.reports_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "outputs.json").write_text(json.dumps(dataclasses.asdict(outputs)))
    progress(
        f"load: shape {load.shape}, {load.users} users, {load.duration_s}s, "
        f"{load.workers or 'no'} worker process(es), against {outputs.webhook_url}"
    )
    faults = planned(load, outputs)
    for fault in faults:
        progress(f"fault injected: {fault.describe()}")
    client = aws.clients(stack)
    backend = backend or recorded_backend(stack, outputs, client)
    load_started = time.time() + (2.0 if faults else 0.0)  # the faults are set up first
    probe = backend.probe(outputs.table_name)
    sampler = Sampler(client("sqs"), lambda: outputs, run_dir / "samples.jsonl", probe=probe)
    if gateway := started_stack(stack).status().pid:
        sampler.watch_emulator(gateway)  # its CPU (a machine-bound ingest shows here) and its resources
    if load.burst_credit != "kept":
        backend.reset_capacity(outputs.table_name, load.burst_credit)
    env = {
        **os.environ,
        **stack.to_environment(),
        **load.to_environment(),
        **signing_environment(load, outputs, client, topology),
        "HARNESS_RUN_DIR": str(run_dir.resolve()),
    }
    before = baseline(client, outputs, backend)
    watch = StackWatch(stack.endpoint_url, gateway or None)
    load_ended: float | None = None
    drain_seconds: float | None = None
    ended_by, phase, stopped = "", "of the load", None
    faults_on = contextlib.ExitStack()
    faults_on.enter_context(injected(load, outputs, client, backend, load_started))
    try:
        time.sleep(max(0.0, load_started - time.time()))  # faults are scheduled from this moment on
        sampler.start()
        try:
            load_ended = _run_locust(load, outputs, run_dir, env, sampler, load_started, progress, watch)
            progress(f"load finished after {load_ended - load_started:.0f}s; waiting for the queue to drain")
            phase = "while the queue drained"
            drain_seconds = drained(client, outputs, load, progress, watch)
        except KeyboardInterrupt as interrupt:
            ended_by = "sigterm" if isinstance(interrupt, Terminated) else "ctrl-c"
            progress(f"{INTERRUPTIONS[ended_by]}: keeping what was collected (press Ctrl-C again to quit at once)")
        except StackStopped as gone:
            ended_by, stopped = "stack", gone
            faults_on.pop_all()  # the stack is gone: there are no faults left to take off
            progress(f"{gone}: the run is void; keeping what the senders recorded")
        finally:
            samples = sampler.stop()
    finally:
        faults_on.close()
    timing = {"run_id": run_id, "load_started": load_started, "samples": samples, "faults": faults}
    if stopped is not None:
        return voided(outputs, load, run_dir, stopped, **timing), run_dir
    return judged(
        client,
        outputs,
        backend,
        load,
        run_dir,
        load_ended=load_ended or time.time(),
        drain_seconds=drain_seconds,
        before=before,
        ended=(ended_by, phase) if ended_by else None,
        **timing,
    ), run_dir


INTERRUPTIONS = {"ctrl-c": "interrupted (Ctrl-C)", "sigterm": "interrupted (SIGTERM)"}


class StackWatch:
    """Notices within seconds that the stack under test stopped answering: its process gone (where the harness
    started it), or its health endpoint silent several times in a row (a saturated gateway answers slowly,
    not never)."""

    def __init__(self, endpoint: str, pid: int | None, every_s: float = 2.0, misses: int = 5) -> None:
        self.endpoint, self.pid, self.every_s, self.misses = endpoint, pid, every_s, misses
        self._checked, self._missed = 0.0, 0

    def check(self) -> None:
        """Raise ``StackStopped`` when the stack is gone; a no-op when checked less than ``every_s`` ago."""
        if time.monotonic() - self._checked < self.every_s:
            return
        self._checked = time.monotonic()
        if self.pid is not None:
            try:
                alive = psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
            if not alive:
                raise StackStopped(time.time(), f"its process {self.pid} is gone")
            return
        self._missed = 0 if is_healthy(self.endpoint, timeout_s=5) else self._missed + 1
        if self._missed >= self.misses:
            raise StackStopped(time.time(), f"its health endpoint did not answer {self.misses} times in a row")


def drained(
    client: Callable[[str], Any],
    outputs: Outputs,
    load: LoadSettings,
    progress: Callable[[str], None],
    watch: StackWatch | None = None,
) -> float | None:
    """Seconds the queue took to drain after the load; None when it did not within the drain timeout and the
    settings allow judging the run as it stands."""
    try:
        return wait_for_drain(client("sqs"), outputs, load.drain_timeout_s, progress)
    except DeadlineExceeded as error:
        if load.drain_required:
            raise
        progress(f"{error}; judging the run as it stands")
        return None
    except (BotoCoreError, ConnectionError):
        if watch is None:
            raise
        watch.every_s = 0.0
        for _ in range(watch.misses):
            watch.check()  # raises StackStopped when the stack is gone
        raise


def voided(
    outputs: Outputs,
    load: LoadSettings,
    run_dir: Path,
    stopped: StackStopped,
    *,
    run_id: str,
    load_started: float,
    samples: list[dict[str, Any]],
    faults: Sequence[Fault],
) -> Verdict:
    """A run whose stack died: what the senders recorded and the samples until then, reported, and judged
    VOID: nothing could be read from the stack, so nothing is claimed lost."""
    accepted = Accepted.load(run_dir)
    evidence = without_the_stack(
        outputs,
        accepted,
        run_id=run_id,
        load_started=load_started,
        load_ended=stopped.at,
        samples=samples,
        faults=faults,
        offered=offered(load, run_dir),
        shape=load.shape,
    )
    reason = (
        f"LocalStack stopped answering at second {stopped.at - load_started:.0f} of the load ({stopped.why}): the "
        f"stack under test was gone, so nothing could be read from it; the run is void, not a loss "
        f"({len(accepted.records)} webhook(s) recorded until then). `make up` starts a new stack"
    )
    verdict = write_run(evidence, run_dir, load, (VOID, reason, "stack"))
    _record_times(run_dir, run_id, load_started, stopped.at, load.shape, {})
    if run_dir.parent.resolve() == load.reports_dir.resolve():
        point_latest(load.reports_dir, run_dir)
    return verdict


def _record_times(
    run_dir: Path, run_id: str, load_started: float, load_ended: float, shape: str, before: dict[str, Any]
) -> None:
    (run_dir / RUN_FILE).write_text(
        json.dumps(
            {"run_id": run_id, "load_started": load_started, "load_ended": load_ended, "shape": shape, "before": before}
        )
        + "\n"
    )


def judged(
    client: Callable[[str], Any],
    outputs: Outputs,
    backend: Backend,
    load: LoadSettings,
    run_dir: Path,
    *,
    run_id: str,
    load_started: float,
    load_ended: float,
    drain_seconds: float | None,
    samples: list[dict[str, Any]],
    before: dict[str, Any],
    faults: Sequence[Fault] = (),
    ended: tuple[str, str] | None = None,
) -> Verdict:
    """A finished load (from `make load` or the web UI): its times recorded, the evidence collected once, judged,
    reported; ``reports/latest`` points at it. A load ``ended`` early, (by what, in which phase), is reported
    INCOMPLETE."""
    _record_times(run_dir, run_id, load_started, load_ended, load.shape, before)
    evidence = collect(
        client,
        outputs,
        backend,
        Accepted.load(run_dir),
        run_id=run_id,
        load_started=load_started,
        load_ended=load_ended,
        drain_seconds=drain_seconds,
        samples=samples,
        faults=faults,
        before=before,
        offered=offered(load, run_dir),
        shape=load.shape,
    )
    status = None
    if ended is not None:
        ended_by, phase = ended
        at = time.time() if phase != "of the load" else load_ended
        status = (
            INCOMPLETE,
            f"the run was {INTERRUPTIONS[ended_by]} at second {at - load_started:.0f} {phase}: "
            f"{evidence.pending} message(s) were still queued and the rows are the ones written until then, so "
            f"nothing is judged lost ({len(evidence.rows)} row(s) for the webhooks accepted so far)",
            ended_by,
        )
    verdict = write_run(evidence, run_dir, load, status)
    if run_dir.parent.resolve() == load.reports_dir.resolve():
        point_latest(load.reports_dir, run_dir)
    return verdict


def offered(load: LoadSettings, run_dir: Path) -> Offered | None:
    """An open-model load's schedule against what its senders sent (``arrivals-*.json``); None: closed model."""
    if load.arrival != "open":
        return None
    shape = shape_for(load.shape, load.users, load.spawn_rate, load.duration_s)
    records = [json.loads(path.read_text()) for path in sorted(run_dir.glob("arrivals-*.json"))]
    return Offered(
        offered=len(arrivals.arrival_times(shape, load.user_rps, load.seed)),
        sent=sum(record["sent"] for record in records),
        late=sum(record["late"] for record in records),
        late_max_s=max((record["late_max_s"] for record in records), default=0.0),
    )


def write_run(
    evidence: Evidence, run_dir: Path, load: LoadSettings, status: tuple[str, str, str] | None = None
) -> Verdict:
    """Judge the evidence and write evidence.json, verify.json and report.html; ``status`` (verdict, reason,
    what ended the run) for a run that did not run its course, which is not judged."""
    verdict = judge(evidence)
    if status is not None:
        verdict = not_judged(verdict, *status)
    cpu = [sample.get("locust_cpu", 0) for sample in evidence.samples]
    summary = {
        **dataclasses.asdict(verdict),
        "locust_cpu_percent_max": round(max(cpu, default=0), 1),
        "faults": [fault.as_dict() for fault in evidence.faults],
    }
    evidence.save(run_dir)
    (run_dir / "verify.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    settings_rows = [(name, str(value)) for name, value, _, _ in load.describe()]
    page = render_report(evidence, verdict, settings_rows, summary["locust_cpu_percent_max"])
    (run_dir / "report.html").write_text(page)
    return verdict


def reverify(
    stack: StackSettings,
    load: LoadSettings,
    run_dir: Path,
    poison_fixed: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> Verdict:
    """Judge a finished run again (e.g. after `harness redrive` or a fix): drain, collect, judge, report. The
    drain reported stays the run's own, measured after its load: waiting now times what a redrive put back,
    or nothing at all, not how the stack drained the flood."""
    try:
        times = json.loads((run_dir / RUN_FILE).read_text())
    except OSError:
        raise HarnessError(f"no run recorded in {run_dir}; run `make load` first or pass --run DIR") from None
    outputs = load_outputs(stack)
    client = aws.clients(stack)
    backend = recorded_backend(stack, outputs, client)
    wait_for_drain(client("sqs"), outputs, load.drain_timeout_s, progress)
    accepted = Accepted.load(run_dir)
    previous = _previous_evidence(run_dir)
    evidence = collect(
        client,
        outputs,
        backend,
        accepted.with_poison_fixed() if poison_fixed else accepted,
        run_id=times.get("run_id", run_dir.resolve().name),
        load_started=times["load_started"],
        load_ended=times["load_ended"],
        drain_seconds=previous.drain_seconds if previous else None,
        samples=previous.samples if previous else (),
        faults=previous.faults if previous else (),
        before=times.get("before"),
        offered=previous.offered if previous else None,
    )
    return write_run(evidence, run_dir, load)


def _previous_evidence(run_dir: Path) -> Evidence | None:
    try:
        return Evidence.from_json((run_dir / "evidence.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _run_locust(
    load: LoadSettings,
    outputs: Outputs,
    run_dir: Path,
    env: dict[str, str],
    sampler: Sampler,
    load_started: float,
    progress: Callable[[str], None],
    watch: StackWatch | None = None,
) -> float:
    """Run Locust (master and workers) to its end; when the load ended. Stops them whatever ends it: the end,
    an interruption, or the stack under test dying (``watch``, checked every few seconds)."""
    processes = []
    for index, command in enumerate(locust_commands(load, outputs, run_dir)):
        with open(run_dir / f"locust-{index}.log", "wb") as log:  # the child keeps its own handle
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    for process in processes:
        sampler.watch(process)
    master = processes[0]

    def note(_: bool, elapsed: float) -> None:
        progress(f"load: {elapsed:.0f}s of {load.duration_s}s, {accepted_so_far(run_dir)}")

    def finished() -> bool:
        if master.poll() is not None:
            return True
        if watch is not None:
            watch.check()
        return False

    limit_s = load.duration_s * (arrivals.CATCH_UP if load.arrival == "open" else 1) + 90
    try:
        poll(finished, timeout_s=limit_s, interval_s=0.5, progress=note, progress_every_s=5)
    except DeadlineExceeded:
        raise HarnessError(f"Locust did not finish within {limit_s}s; see {run_dir}/locust-0.log") from None
    finally:
        stop_all(processes)
    if master.returncode not in (0, 1):  # 1: some requests failed, which the verdict judges
        raise HarnessError(f"Locust exited with code {master.returncode}; see {run_dir}/locust-0.log")
    return time.time()


def stop_all(processes: Sequence[subprocess.Popen], grace_s: float = 10) -> None:
    """Ask every process to stop, give them ``grace_s`` together, then kill what remains; a second Ctrl-C while
    waiting kills them at once (and is passed on): nothing the harness started outlives it."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.terminate()
    try:
        deadline = time.monotonic() + grace_s
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    except KeyboardInterrupt:
        for process in running:
            process.kill()
        raise


def point_latest(reports_dir: Path, run_dir: Path) -> None:
    latest = reports_dir / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run_dir.name, target_is_directory=True)
