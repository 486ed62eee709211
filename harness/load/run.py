"""`harness load` (`make load`): flood the webhook with Locust, wait for the drain, verify, report.

One direction: the load runs, the evidence is collected once (``harness.evidence.collect``), the rules
judge it (``harness.rules``) and the report draws it (``harness.report``). Writes ``reports/<run-id>/``:
Locust's HTML and CSV, ``accepted-*.jsonl`` (what the API accepted), ``samples.jsonl`` (queue depths each
second), ``evidence.json``, ``verify.json`` and ``report.html``; ``reports/latest`` points at the newest run.
"""

from __future__ import annotations

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

from harness import aws, signing
from harness.backend import Backend
from harness.deployment import recorded_backend
from harness.evidence import Accepted, Evidence, Fault, Offered
from harness.evidence.collect import baseline, collect, wait_for_drain
from harness.evidence.sampler import Sampler
from harness.exceptions import HarnessError, SettingsError
from harness.load import arrivals
from harness.load.config import LoadSettings
from harness.load.faults import injected, planned
from harness.load.shapes import shape_for
from harness.network import LOOPBACK_HOST, free_port
from harness.outputs import Outputs, load_outputs
from harness.polling import DeadlineExceeded, poll
from harness.report import render_report
from harness.resources import bundled
from harness.rules import Verdict, judge
from harness.secrets import current_signing_secret
from harness.stack import started_stack
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings

LOCUSTFILE = bundled("locustfiles") / "webhook.py"
RUN_FILE = "run.json"


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
        sampler.watch(gateway, as_="gateway_cpu")  # the emulator's own CPU: a machine-bound ingest shows here
        sampler.watch_children(gateway, as_="functions_cpu")
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
    with injected(load, outputs, client, backend, load_started):
        time.sleep(max(0.0, load_started - time.time()))  # faults are scheduled from this moment on
        sampler.start()
        try:
            load_ended = _run_locust(load, outputs, run_dir, env, sampler, load_started, progress)
            progress(f"load finished after {load_ended - load_started:.0f}s; waiting for the queue to drain")
            drain_seconds = drained(client, outputs, load, progress)
        finally:
            samples = sampler.stop()
    return judged(
        client,
        outputs,
        backend,
        load,
        run_dir,
        run_id=run_id,
        load_started=load_started,
        load_ended=load_ended,
        drain_seconds=drain_seconds,
        samples=samples,
        before=before,
        faults=faults,
    ), run_dir


def drained(
    client: Callable[[str], Any], outputs: Outputs, load: LoadSettings, progress: Callable[[str], None]
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
) -> Verdict:
    """A finished load (from `make load` or the web UI): its times recorded, the evidence collected once, judged,
    reported; ``reports/latest`` points at it."""
    (run_dir / RUN_FILE).write_text(
        json.dumps(
            {
                "run_id": run_id,
                "load_started": load_started,
                "load_ended": load_ended,
                "shape": load.shape,
                "before": before,
            }
        )
        + "\n"
    )
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
    )
    verdict = write_run(evidence, run_dir, load)
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


def write_run(evidence: Evidence, run_dir: Path, load: LoadSettings) -> Verdict:
    """Judge the evidence and write evidence.json, verify.json and report.html."""
    verdict = judge(evidence)
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
) -> float:
    """Run Locust (master and workers) to its end; when the load ended."""
    processes = []
    for index, command in enumerate(locust_commands(load, outputs, run_dir)):
        with open(run_dir / f"locust-{index}.log", "wb") as log:  # the child keeps its own handle
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    for process in processes:
        sampler.watch(process)
    master = processes[0]

    def note(_: bool, elapsed: float) -> None:
        accepted = sum(1 for path in run_dir.glob("accepted-*.jsonl") for _ in path.open())
        progress(f"load: {elapsed:.0f}s of {load.duration_s}s, {accepted} accepted")

    limit_s = load.duration_s * (arrivals.CATCH_UP if load.arrival == "open" else 1) + 90
    try:
        poll(lambda: master.poll() is not None, timeout_s=limit_s, interval_s=0.5, progress=note, progress_every_s=5)
    except DeadlineExceeded:
        raise HarnessError(f"Locust did not finish within {limit_s}s; see {run_dir}/locust-0.log") from None
    finally:
        for process in processes:
            _stop(process)
    if master.returncode not in (0, 1):  # 1: some requests failed, which the verdict judges
        raise HarnessError(f"Locust exited with code {master.returncode}; see {run_dir}/locust-0.log")
    return time.time()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def point_latest(reports_dir: Path, run_dir: Path) -> None:
    latest = reports_dir / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run_dir.name, target_is_directory=True)
