"""`harness load` (`make load`): flood the webhook with Locust, wait for the drain, verify, report.

Writes ``reports/<run-id>/``: Locust's HTML and CSV, ``accepted-*.jsonl`` (what the API accepted),
``samples.jsonl`` (queue depths each second), ``verify.json`` and ``report.html``; ``reports/latest``
points at the newest run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from harness import aws, observe, report
from harness.deploy import Outputs, outputs_path, require_stack
from harness.exceptions import HarnessError
from harness.faults import Fault, injected, planned
from harness.settings import LOOPBACK_HOST, Settings
from harness.stack.embedded import free_port
from harness.verify import Accepted, Verdict, judge, rows_of_run, wait_for_drain

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfiles" / "webhook.py"


class Sampler(threading.Thread):
    """Queue depths, DLQ depth and the load generator's CPU, once a second, until stopped."""

    def __init__(self, settings: Settings, outputs: Outputs, path: Path) -> None:
        super().__init__(name="sampler", daemon=True)
        self.sqs = aws.client("sqs", settings)
        self.outputs = outputs
        self.path = path
        self.stop_event = threading.Event()
        self.processes: list[psutil.Process] = []
        self.samples: list[dict[str, float]] = []

    def run(self) -> None:
        with open(self.path, "a", buffering=1) as out:
            while not self.stop_event.wait(1.0):
                try:
                    sample = self.sample()
                except Exception as error:  # a sample lost is a gap in a chart, never a failed run
                    sample = {"t": time.time(), "error": str(error)}
                self.samples.append(sample)
                out.write(json.dumps(sample) + "\n")

    def sample(self) -> dict[str, float]:
        depth = observe.queue_depth(self.sqs, self.outputs.queue_url)
        dlq = observe.queue_depth(self.sqs, self.outputs.dlq_url)
        cpu = 0.0
        for process in list(self.processes):
            try:
                cpu += process.cpu_percent(None)
            except psutil.Error:
                self.processes.remove(process)
        return {
            "t": time.time(),
            "visible": depth.visible,
            "in_flight": depth.in_flight,
            "dlq": dlq.total,
            "locust_cpu": cpu,
        }

    def watch(self, process: subprocess.Popen) -> None:
        watched = psutil.Process(process.pid)
        watched.cpu_percent(None)
        self.processes.append(watched)


def locust_commands(settings: Settings, outputs: Outputs, run_dir: Path) -> list[list[str]]:
    """The master (or single process) first, then the workers; every socket on 127.0.0.1."""
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", outputs.webhook_url]
    reports = ["--html", str(run_dir / "locust.html"), "--csv", str(run_dir / "locust"), "--only-summary"]
    run_time = ["--run-time", f"{settings.duration_s + 30}s", "--stop-timeout", "5"]
    if not settings.workers:
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
        str(settings.workers),
        *reports,
        *run_time,
    ]
    worker = [*base, "--worker", "--master-host", LOOPBACK_HOST, "--master-port", str(port)]
    return [master] + [worker] * settings.workers


def run(
    settings: Settings, progress: Callable[[str], None] = lambda _: None, outputs: Outputs | None = None
) -> tuple[Verdict, Path]:
    """One load run against ``outputs`` (default: the deployment recorded in the state folder)."""
    outputs = outputs or Outputs.load(outputs_path(settings))
    require_stack(settings, aws.client("sqs", settings))
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{settings.shape}"
    run_dir = settings.reports_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    sampler = Sampler(settings, outputs, run_dir / "samples.jsonl")
    env = {**os.environ, **settings.to_environment(), "HARNESS_RUN_DIR": str(run_dir.resolve())}
    (run_dir / "outputs.json").write_text(json.dumps(dataclasses.asdict(outputs)))
    progress(
        f"load: shape {settings.shape}, {settings.users} users, {settings.duration_s}s, "
        f"{settings.workers or 'no'} worker process(es), against {outputs.webhook_url}"
    )
    faults = planned(settings, outputs)
    for fault in faults:
        progress(f"fault injected: {fault.describe()}")
    lambda_client = aws.client("lambda", settings)
    marker = str(settings.state_path.resolve() / f"crash-{run_id}")
    load_started = time.time() + (2.0 if faults else 0.0)  # the functions' environment is updated first
    with injected(settings, outputs, lambda_client, load_started, marker):
        verdict, samples, load_ended, accepted, run_rows = _load_and_drain(
            settings, outputs, run_dir, env, sampler, load_started, progress
        )
    cpu = [sample.get("locust_cpu", 0) for sample in samples]
    summary = {
        **dataclasses.asdict(verdict),
        "locust_cpu_percent_max": round(max(cpu, default=0), 1),
        "faults": [fault.as_dict() for fault in faults],
    }
    (run_dir / "verify.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (run_dir / "run.json").write_text(
        json.dumps({"load_started": load_started, "load_ended": load_ended, "shape": settings.shape}) + "\n"
    )
    charts = build_charts(settings, outputs, accepted, run_rows, samples, load_started, load_ended, faults)
    settings_rows = [(name, str(value)) for name, value, _, _ in settings.describe()]
    (run_dir / "report.html").write_text(report.render(verdict, charts, run_id, settings_rows, faults))
    _point_latest(settings.reports_dir, run_dir)
    return verdict, run_dir


def _load_and_drain(
    settings: Settings,
    outputs: Outputs,
    run_dir: Path,
    env: dict[str, str],
    sampler: Sampler,
    load_started: float,
    progress: Callable[[str], None],
) -> tuple[Verdict, list[dict[str, Any]], float, Accepted, list[dict[str, Any]]]:
    time.sleep(max(0.0, load_started - time.time()))
    sampler.start()
    processes = []
    for index, command in enumerate(locust_commands(settings, outputs, run_dir)):
        with open(run_dir / f"locust-{index}.log", "wb") as log:  # the child keeps its own handle
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))
    for process in processes:
        sampler.watch(process)
    try:
        _wait_for_locust(processes[0], settings, progress, load_started, run_dir)
    finally:
        for process in processes[1:]:
            _stop(process)
    load_ended = time.time()
    progress(f"load finished after {load_ended - load_started:.0f}s; waiting for the queue to drain")
    drain_seconds = wait_for_drain(aws.client("sqs", settings), outputs, settings.drain_timeout_s, progress)
    sampler.stop_event.set()
    sampler.join(5)
    accepted = Accepted.load(run_dir)
    run_rows = rows_of_run(aws.client("dynamodb", settings), outputs, accepted)  # read once: verdict and charts
    verdict = judge(
        settings,
        outputs,
        accepted,
        lambda service: aws.client(service, settings),
        load_started,
        load_ended,
        drain_seconds,
        run_rows,
    )
    return verdict, sampler.samples, load_ended, accepted, run_rows


def _wait_for_locust(
    master: subprocess.Popen,
    settings: Settings,
    progress: Callable[[str], None],
    started: float,
    run_dir: Path,
) -> None:
    deadline = started + settings.duration_s + 90
    while master.poll() is None:
        if time.time() > deadline:
            _stop(master)
            raise HarnessError(f"Locust did not finish within {settings.duration_s + 90}s; see {run_dir}/locust-0.log")
        accepted = sum(1 for path in run_dir.glob("accepted-*.jsonl") for _ in path.open())
        progress(f"load: {time.time() - started:.0f}s of {settings.duration_s}s, {accepted} accepted")
        with contextlib.suppress(subprocess.TimeoutExpired):
            master.wait(5)
    if master.returncode not in (0, 1):  # 1: some requests failed, which the verdict judges
        raise HarnessError(f"Locust exited with code {master.returncode}; see {run_dir}/locust-0.log")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _point_latest(reports_dir: Path, run_dir: Path) -> None:
    latest = reports_dir / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run_dir.name, target_is_directory=True)


def per_second(times: list[float], origin: float) -> list[tuple[float, float]]:
    counts = Counter(int(t - origin) for t in times)
    if not counts:
        return []
    return [(second, counts.get(second, 0)) for second in range(0, max(counts) + 1)]


def build_charts(
    settings: Settings,
    outputs: Outputs,
    accepted: Accepted,
    rows: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    load_started: float,
    load_ended: float,
    faults: list[Fault] = (),
) -> list[str]:
    marker = [(load_ended - load_started, "load ends")]
    for fault in faults:
        if fault.from_s is not None:
            marker.append((fault.from_s, f"{fault.what}"))
        if fault.to_s is not None:
            marker.append((fault.to_s, "recovered"))
    kinds = {
        kind: [r["t"] for r in accepted.records if r.get("kind") == kind]
        for kind in ("new", "sender-retry", "redelivery")
    }
    ingest = report.line_chart(
        "Ingest: accepted webhooks per second",
        [
            report.Series("accepted requests", per_second(kinds["new"], load_started)),
            report.Series("sender retries (same key)", per_second(kinds["sender-retry"], load_started)),
            report.Series("injected redeliveries", per_second(kinds["redelivery"], load_started)),
        ],
        "per second",
        marker,
    )
    good = [s for s in samples if "visible" in s]
    queue = report.line_chart(
        "Queue: backlog, in flight, DLQ",
        [
            report.Series("waiting (visible)", [(s["t"] - load_started, s["visible"]) for s in good]),
            report.Series("in flight", [(s["t"] - load_started, s["in_flight"]) for s in good]),
            report.Series("dead-letter queue", [(s["t"] - load_started, s["dlq"]) for s in good]),
        ],
        "messages",
        marker,
    )
    concurrency_points = observe.concurrency_per_second(
        aws.client("cloudwatch", settings), outputs.subscriber_name, load_started
    )
    limit = settings.consumer_concurrency_limit
    end = max((x for x, _ in concurrency_points), default=0)
    concurrency = report.line_chart(
        "Subscriber concurrency against its limit",
        [
            report.Series("concurrent executions", concurrency_points),
            report.Series(f"limit ({limit})", [(0, limit), (end, limit)] if limit else [], dashed=True),
        ],
        "executions",
        marker,
    )
    writes = report.line_chart(
        "Backend writes per second",
        [report.Series("rows written", per_second([float(r["written_at_ms"]) / 1000 for r in rows], load_started))],
        "writes / s",
        marker,
    )
    latencies = [float(r["written_at_ms"]) - float(r["received_at_ms"]) for r in rows if r.get("received_at_ms")]
    return [
        ingest,
        queue,
        concurrency,
        writes,
        report.histogram("End-to-end latency (accepted -> row)", latencies, "ms"),
    ]
