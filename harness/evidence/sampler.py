"""Samples taken once a second while a load runs (and while the live view is open)."""

from __future__ import annotations

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
    """Queue depth, in flight, DLQ depth, the CPU of watched processes (the load generator's, the emulator's, in
    % of one core), (with ``cloudwatch``) the subscriber's
    concurrency and (with ``probe``) the backend's own numbers, once a second until stopped; appended to
    ``path`` as JSON lines when given."""

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
        outputs = self.outputs()
        depth = observe.queue_depth(self.sqs, outputs.queue_url)
        sample: dict[str, Any] = {
            "t": time.time(),
            "visible": depth.visible,
            "in_flight": depth.in_flight,
            "dlq": observe.queue_depth(self.sqs, outputs.dlq_url).total if outputs.dlq_url else 0,
        }
        for name, processes in self.processes.items():
            sample[name] = self._cpu(processes)
        if self.probe is not None:
            sample.update(self.probe())
        if self.cloudwatch is not None:
            recent = observe.concurrency_per_second(self.cloudwatch, outputs.subscriber_name, time.time() - 3)
            sample["concurrency"] = (recent[-1][1] if recent else 0) or 0
        return sample

    @staticmethod
    def _cpu(processes: list[psutil.Process]) -> float:
        cpu = 0.0
        for process in list(processes):
            try:
                cpu += process.cpu_percent(None)
            except psutil.Error:
                processes.remove(process)
        return cpu

    def watch(self, process: subprocess.Popen | int, as_: str = "locust_cpu") -> None:
        """Count this process's CPU in the samples under ``as_`` (the load generator's own cost by default)."""
        try:
            watched = psutil.Process(process if isinstance(process, int) else process.pid)
            watched.cpu_percent(None)
        except psutil.Error:
            return
        self.processes.setdefault(as_, []).append(watched)

    def stop(self, timeout_s: float = 5) -> list[dict[str, Any]]:
        """Stop sampling; the samples taken."""
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout_s)
        if self.probe is not None and hasattr(self.probe, "close"):
            self.probe.close()
        return list(self.samples)
