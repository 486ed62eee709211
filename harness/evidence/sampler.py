"""Samples taken once a second while a load runs (and while the live view is open)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from harness import observe
from harness.outputs import Outputs


class Sampler(threading.Thread):
    """Queue depth, in flight, DLQ depth, the CPU of watched processes (the load generator's, the emulator's, its
    function processes', in % of one core; the busiest load generator process apart) and of the whole machine
    (in % of all its cores), (with ``cloudwatch``) the subscriber's concurrency and (with ``probe``) the
    backend's own numbers, once a second until stopped; appended to ``path`` as JSON lines when given."""

    def __init__(
        self,
        sqs: Any,
        outputs: Callable[[], Outputs],
        path: Path | None = None,
        cloudwatch: Any = None,
        history: int | None = None,
        interval_s: float = 1.0,
        probe: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(name="sampler", daemon=True)
        self.sqs, self.cloudwatch = sqs, cloudwatch
        self.outputs = outputs
        self.path = path
        self.interval_s = interval_s
        self.probe = probe
        self.stop_event = threading.Event()
        self.processes: dict[str, list[psutil.Process]] = {}
        self.parents: dict[str, tuple[psutil.Process, dict[int, psutil.Process]]] = {}
        self.emulator: psutil.Process | None = None
        psutil.cpu_percent(None)  # the machine's figure counts from here
        self.samples: deque[dict[str, Any]] = deque(maxlen=history)
        self.error = ""

    def run(self) -> None:
        out = open(self.path, "a", buffering=1) if self.path else None  # noqa: SIM115
        try:
            first = True  # one sample at once: the baseline the per-second differences start from
            while first or not self.stop_event.wait(self.interval_s):
                first = False
                try:
                    sample = self.sample()
                    self.error = ""
                except Exception as error:  # a sample lost is a gap in a chart, never a failed run
                    self.error = f"{type(error).__name__}: {error}"
                    sample = {"t": time.time(), "error": str(error)}
                self.samples.append(sample)
                if out:
                    out.write(json.dumps(sample) + "\n")
        finally:
            if out:
                out.close()

    def sample(self) -> dict[str, Any]:
        sample: dict[str, Any] = {"t": time.time()}  # the CPU first: the queue is read through the emulator
        for name, processes in self.processes.items():
            sample[name], busiest = self._cpu(processes)
            if len(processes) > 1:
                sample[f"{name}_busiest"] = busiest
        for name, (parent, children) in self.parents.items():
            sample[name] = self._children_cpu(parent, children)
        sample["machine_cpu"] = psutil.cpu_percent(None)
        if self.emulator is not None:
            sample.update(self._resources(self.emulator))
        outputs = self.outputs()
        depth = observe.queue_depth(self.sqs, outputs.queue_url)
        sample["visible"], sample["in_flight"] = depth.visible, depth.in_flight
        sample["dlq"] = observe.queue_depth(self.sqs, outputs.dlq_url).total if outputs.dlq_url else 0
        if self.probe is not None:
            sample.update(self.probe())
        if self.cloudwatch is not None:
            recent = observe.concurrency_per_second(self.cloudwatch, outputs.subscriber_name, time.time() - 3)
            sample["concurrency"] = (recent[-1][1] if recent else 0) or 0
        return sample

    @staticmethod
    def _cpu(processes: list[psutil.Process]) -> tuple[float, float]:
        """(their CPU together, the busiest one's), in % of one core."""
        each = []
        for process in list(processes):
            try:
                each.append(process.cpu_percent(None))
            except psutil.Error:
                processes.remove(process)
        return sum(each), max(each, default=0.0)

    @staticmethod
    def _children_cpu(parent: psutil.Process, known: dict[int, psutil.Process]) -> float:
        """The CPU of ``parent``'s descendants: a process first seen counts from its next sample."""
        try:
            current = {child.pid: child for child in parent.children(recursive=True)}
        except psutil.Error:
            return 0.0
        cpu = 0.0
        for pid, child in current.items():
            process = known.setdefault(pid, child)
            with contextlib.suppress(psutil.Error):
                cpu += process.cpu_percent(None)
        for pid in set(known) - set(current):
            del known[pid]
        return cpu

    def watch(self, process: subprocess.Popen | int, as_: str = "locust_cpu") -> None:
        """Count this process's CPU in the samples under ``as_`` (the load generator's own cost by default)."""
        try:
            watched = psutil.Process(process if isinstance(process, int) else process.pid)
            watched.cpu_percent(None)
        except psutil.Error:
            return
        self.processes.setdefault(as_, []).append(watched)

    @staticmethod
    def _resources(process: psutil.Process) -> dict[str, float]:
        """What a process that leaks would grow: resident memory, threads, open files, child processes."""
        try:
            with process.oneshot():
                return {
                    "gateway_rss_mb": round(process.memory_info().rss / 2**20, 1),
                    "gateway_threads": process.num_threads(),
                    "gateway_open_files": process.num_fds(),
                    "function_processes": len(process.children(recursive=True)),
                }
        except psutil.Error:
            return {}

    def watch_emulator(self, process: int) -> None:
        """Sample the emulator's own resources too (a soak is judged on them), and its processes' CPU."""
        self.watch(process, as_="gateway_cpu")
        self.watch_children(process, as_="functions_cpu")
        try:
            self.emulator = psutil.Process(process)
        except psutil.Error:
            self.emulator = None

    def watch_children(self, process: int, as_: str = "functions_cpu") -> None:
        """Count the CPU of this process's descendants under ``as_`` (the emulator's function processes)."""
        try:
            parent = psutil.Process(process)
        except psutil.Error:
            return
        known = {child.pid: child for child in parent.children(recursive=True)}
        for child in known.values():
            with contextlib.suppress(psutil.Error):
                child.cpu_percent(None)
        self.parents[as_] = (parent, known)

    def stop(self, timeout_s: float = 5) -> list[dict[str, Any]]:
        """Stop sampling; the samples taken."""
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout_s)
        if self.probe is not None and hasattr(self.probe, "close"):
            self.probe.close()
        return list(self.samples)
