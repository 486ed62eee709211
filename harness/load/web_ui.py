"""A test started from Locust's web UI (`make ui`) is a run like `make load`'s: its own folder under
``reports/``, its accepted requests recorded there, and, when it is stopped, the drain, the evidence, the
verdict and the report — while the UI stays up for the next test.

Locust's own ``test_start`` / ``test_stop`` events drive it (``locustfiles/_live_view.py`` registers them);
verification runs beside the UI, and what it is doing, then the verdict and the report's path, are shown
in the UI's Harness tab.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.backend import Backend
from harness.evidence.collect import baseline
from harness.evidence.sampler import Sampler
from harness.load import run as load_run
from harness.load.config import LoadSettings
from harness.outputs import Outputs


class WebUIRuns:
    """The runs of one web UI session, one at a time."""

    def __init__(
        self,
        load: LoadSettings,
        outputs: Callable[[], Outputs],
        client: Callable[[str], Any],
        backend: Callable[[Outputs], Backend],
        sampler: Sampler,
        record_into: Callable[[Path], None],
    ) -> None:
        self.load, self.outputs, self.client, self.backend = load, outputs, client, backend
        self.sampler, self.record_into = sampler, record_into
        self.status = "no test run yet: press START"
        self.report: Path | None = None
        self._run: dict[str, Any] | None = None
        self._judging: threading.Thread | None = None

    def started(self) -> None:
        if self._judging is not None and self._judging.is_alive():
            self._judging.join()  # the previous test's verdict first: its drain would count this one's messages
        outputs = self.outputs()
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-ui"
        run_dir = self.load.reports_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "outputs.json").write_text(json.dumps(dataclasses.asdict(outputs)))
        self.record_into(run_dir)
        backend = self.backend(outputs)
        self._run = {
            "run_id": run_id,
            "run_dir": run_dir,
            "outputs": outputs,
            "backend": backend,
            "before": baseline(self.client, outputs, backend),
            "started": time.time(),
        }
        self.report = None
        self.status = f"running: {run_id}; stop the test for its verdict and report"

    def stopped(self) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        ended = time.time()
        self.status = "the test stopped: waiting for the queue to drain, then verifying"
        self._judging = threading.Thread(target=self._judge, args=(run, ended), name="web-ui-verdict", daemon=True)
        self._judging.start()

    def _judge(self, run: dict[str, Any], ended: float) -> None:
        try:
            drain = load_run.drained(self.client, run["outputs"], self.load, self._progress)
            samples = [sample for sample in self.sampler.samples if sample.get("t", 0) >= run["started"]]
            verdict = load_run.judged(
                self.client,
                run["outputs"],
                run["backend"],
                self.load,
                run["run_dir"],
                run_id=run["run_id"],
                load_started=run["started"],
                load_ended=ended,
                drain_seconds=drain,
                samples=samples,
                before=run["before"],
            )
        except Exception as error:  # the UI stays up; the reason is shown where the verdict would be
            self.status = f"could not judge {run['run_id']}: {type(error).__name__}: {error}"
            return
        self.report = run["run_dir"] / "report.html"
        reasons = "; ".join(verdict.reasons) or "all checks held"
        self.status = (
            f"{verdict.verdict} ({reasons}): accepted {verdict.accepted}, rows {verdict.rows}, lost {verdict.lost}"
        )

    def _progress(self, message: str) -> None:
        self.status = f"verifying: {message}"
