"""The harness inside Locust's web UI: a "Harness" tab with the topology's numbers, the live page /harness,
and a verdict and report for every test stopped in the UI.

Queue depth, in-flight messages, DLQ depth, subscriber concurrency against its limit, the backend's load
against its capacity and the gate's 429s, sampled once a second while the UI runs, drawn with the
report's charts and stylesheet (the page refreshes itself). Each test started from the UI is a run of its
own (``harness.load.web_ui``): when it is stopped, the queue drains, the run is verified and reported, and
the tab shows the verdict and the report (also at /harness/report). The tab and a link to the page sit
in Locust's own UI, so nobody has to know the URL. It lives beside the locustfile that serves it
(``webhook.py``); the leading underscore keeps Locust from loading it as a locustfile of its own.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import aws
from harness.deployment import recorded_backend
from harness.evidence import BackendView
from harness.evidence.collect import consumer_limits
from harness.evidence.sampler import Sampler
from harness.load.config import LoadSettings
from harness.load.web_ui import WebUIRuns
from harness.outputs import load_outputs
from harness.report import backend_chart, concurrency_chart, queue_chart, render
from harness.stack import started_stack
from harness.stack.config import StackSettings

HISTORY_S = 3 * 3600
"""Samples kept: a test run from the UI is judged on its own samples, so they must outlast it."""
TAB_KEY = "harness"
LIVE_PATH = "/harness"
REPORT_PATH = "/harness/report"
VIEW_EVERY_S = 2.0


class LiveView:
    def __init__(self, stack: StackSettings, load: LoadSettings, gate_refusals: Callable[[], int]) -> None:
        self.stack = stack
        self.started = time.time()
        self.client = aws.clients(stack)
        outputs = load_outputs(stack)
        self.backend = recorded_backend(stack, outputs, self.client)
        self.sampler = Sampler(
            self.client("sqs"),
            lambda: load_outputs(stack),
            cloudwatch=self.client("cloudwatch"),
            history=HISTORY_S,
            probe=self.backend.probe(outputs.table_name),
        )
        if gateway := started_stack(stack).status().pid:
            self.sampler.watch_emulator(gateway)
        self.sampler.watch(os.getpid())  # this Locust process: the load generator
        self.gate_refusals = gate_refusals
        self.runs: WebUIRuns | None = None
        self._limit: tuple[float, int | None] = (0.0, None)
        self._view: tuple[float, BackendView | None] = (0.0, None)

    def start(self) -> None:
        self.sampler.start()

    def limit(self) -> int | None:
        """The subscriber's concurrency limit as deployed, re-read every 10 s (a redeploy may change it)."""
        read_at, limit = self._limit
        if time.time() - read_at > 10:
            try:
                limits = [value for value in consumer_limits(self.client("lambda"), load_outputs(self.stack)) if value]
                limit = min(limits) if limits else None
            except Exception:  # the page shows the sampler's error; keep the last limit
                pass
            self._limit = (time.time(), limit)
        return limit

    def backend_view(self) -> BackendView | None:
        """The backend's load against its capacity since the UI started, read at most every 2 s."""
        read_at, view = self._view
        if time.time() - read_at > VIEW_EVERY_S:
            try:
                samples = list(self.sampler.samples)
                view = self.backend.view(load_outputs(self.stack).table_name, samples, self.started)
            except Exception:  # a gap in the chart, never a broken page
                pass
            self._view = (time.time(), view)
        return view

    def latest(self) -> list[tuple[str, Any]]:
        rows: list[tuple[str, Any]] = []
        samples = [s for s in self.sampler.samples if "visible" in s]
        if samples:
            last = samples[-1]
            rows += [
                ("waiting", last["visible"]),
                ("in flight", last["in_flight"]),
                ("DLQ", last["dlq"]),
                ("subscriber concurrency", f"{last.get('concurrency', 0):g} of {self.limit() or 'unlimited'}"),
            ]
        if view := self.backend_view():
            now = view.load[-1][1] if view.load else 0
            capacity = "on demand" if view.capacity is None else f"{view.capacity:g}"
            rows.append(("backend now / capacity", f"{now:g} / {capacity} {view.capacity_unit} (peak {view.peak:g})"))
            rows.append((f"backend {view.refusal}", view.errors))
        rows.append(("refused at the gate (429)", self.gate_refusals()))
        if self.runs is not None:
            rows.append(("this test", self.runs.status))
            if self.runs.report is not None:
                rows.append(("report", f"{self.runs.report.resolve().as_uri()} (also {REPORT_PATH})"))
        return rows

    def page(self) -> str:
        samples = [s for s in self.sampler.samples if "visible" in s]
        concurrency = [(s["t"] - self.started, s.get("concurrency", 0)) for s in samples]
        charts = [
            backend_chart(self.backend_view()),
            queue_chart(samples, self.started),
            concurrency_chart(concurrency, self.limit()),
        ]
        report = self.runs.report if self.runs is not None else None
        return render(
            "live.html",
            latest=self.latest(),
            error=self.sampler.error,
            charts=charts,
            report=REPORT_PATH if report else None,
        )

    def report_page(self) -> tuple[str, int]:
        report = self.runs.report if self.runs is not None else None
        if report is None or not report.exists():
            return "No test has been judged yet: start one, stop it, and its report appears here.", 404
        return report.read_text(), 200


def register(
    environment: Any,
    stack: StackSettings,
    load: LoadSettings,
    record_into: Callable[[Path], None],
    gate_refusals: Callable[[], int],
) -> LiveView:
    """Add the live page, a "Harness" tab, a link to the page, and a verdict for each test stopped in the UI."""
    web_ui = environment.web_ui
    live = LiveView(stack, load, gate_refusals)
    live.runs = WebUIRuns(
        load,
        lambda: load_outputs(stack),
        live.client,
        lambda outputs: recorded_backend(stack, outputs, live.client),
        live.sampler,
        record_into,
    )
    live.start()
    web_ui.app.add_url_rule(LIVE_PATH, "harness_live", live.page)
    web_ui.app.add_url_rule(REPORT_PATH, "harness_report", live.report_page)
    web_ui.template_args["extended_tabs"] = [{"title": "Harness", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": "name", "title": "Topology"}, {"key": "value", "title": "Now"}]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": LIVE_PATH, "title": "Harness live view: the backend against its capacity, queue, DLQ, concurrency"},
        {"href": REPORT_PATH, "title": "Harness report of the last test stopped in this UI (verdict and charts)"},
    ]
    environment.events.test_start.add_listener(lambda **_: live.runs.started())
    environment.events.test_stop.add_listener(lambda **_: live.runs.stopped())

    @web_ui.app.after_request
    def add_harness_numbers(response: Any) -> Any:
        from flask import request

        if request.path != "/stats/requests" or not response.is_json:
            return response
        rows = [{"name": name, "value": str(value)} for name, value in live.latest()]
        rows.append({"name": "live charts", "value": f"open {LIVE_PATH} (also under Download Data)"})
        payload = {**response.get_json(), "extended_stats": [{"key": TAB_KEY, "data": rows}]}
        response.set_data(json.dumps(payload))
        return response

    return live
