"""The harness inside Locust's web UI: a "Harness" tab with the topology's numbers, and the live page /harness.

Queue depth, in-flight messages, DLQ depth and subscriber concurrency against its limit, sampled once a
second while the UI runs, drawn with the report's charts and stylesheet (the page refreshes itself).
The tab and a link to the page sit in Locust's own UI, so nobody has to know the URL. It lives beside
the locustfile that serves it (``webhook.py``); the leading underscore keeps Locust from loading it as a
locustfile of its own when given the whole folder.
"""

from __future__ import annotations

import json
import time
from typing import Any

from harness import aws
from harness.evidence.collect import consumer_limits
from harness.evidence.sampler import Sampler
from harness.outputs import load_outputs
from harness.report import concurrency_chart, queue_chart, render
from harness.stack.config import StackSettings

HISTORY_S = 600
TAB_KEY = "harness"
LIVE_PATH = "/harness"


class LiveView:
    def __init__(self, stack: StackSettings) -> None:
        self.stack = stack
        self.started = time.time()
        self.sampler = Sampler(
            aws.client("sqs", stack),
            lambda: load_outputs(stack),
            cloudwatch=aws.client("cloudwatch", stack),
            history=HISTORY_S,
        )
        self._lambda = aws.client("lambda", stack)
        self._limit: tuple[float, int | None] = (0.0, None)

    def start(self) -> None:
        self.sampler.start()

    def limit(self) -> int | None:
        """The subscriber's concurrency limit as deployed, re-read every 10 s (a redeploy may change it)."""
        read_at, limit = self._limit
        if time.time() - read_at > 10:
            try:
                limits = [value for value in consumer_limits(self._lambda, load_outputs(self.stack)) if value]
                limit = min(limits) if limits else None
            except Exception:  # the page shows the sampler's error; keep the last limit
                pass
            self._limit = (time.time(), limit)
        return limit

    def latest(self) -> list[tuple[str, Any]]:
        samples = [s for s in self.sampler.samples if "visible" in s]
        if not samples:
            return []
        last = samples[-1]
        return [
            ("waiting", last["visible"]),
            ("in flight", last["in_flight"]),
            ("DLQ", last["dlq"]),
            ("subscriber concurrency", f"{last['concurrency']:g} of {self.limit() or 'unlimited'}"),
        ]

    def page(self) -> str:
        samples = [s for s in self.sampler.samples if "visible" in s]
        concurrency = [(s["t"] - self.started, s["concurrency"]) for s in samples]
        charts = [queue_chart(samples, self.started), concurrency_chart(concurrency, self.limit())]
        return render("live.html", latest=self.latest(), error=self.sampler.error, charts=charts)


def register(web_ui: Any, stack: StackSettings) -> LiveView:
    """Add the live page, a "Harness" tab and a link to the page to Locust's web UI."""
    live = LiveView(stack)
    live.start()
    web_ui.app.add_url_rule(LIVE_PATH, "harness_live", live.page)
    web_ui.template_args["extended_tabs"] = [{"title": "Harness", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": "name", "title": "Topology"}, {"key": "value", "title": "Now"}]}
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": LIVE_PATH, "title": "Harness live view: queue, DLQ and subscriber concurrency charts"}
    ]

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
