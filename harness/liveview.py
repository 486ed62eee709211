"""The harness's live view inside Locust's web UI: http://127.0.0.1:8089/harness.

Queue depth, in-flight messages, DLQ depth and subscriber concurrency against its limit, sampled once a
second while the UI runs, drawn with the same charts as report.html (the page refreshes itself).
"""

from __future__ import annotations

import html
import threading
import time
from collections import deque
from typing import Any

from harness import aws, observe, report
from harness.deploy import Outputs, outputs_path
from harness.settings import Settings

HISTORY_S = 600


class LiveSamples(threading.Thread):
    def __init__(self, settings: Settings) -> None:
        super().__init__(name="harness-live", daemon=True)
        self.settings = settings
        self.samples: deque[dict[str, Any]] = deque(maxlen=HISTORY_S)
        self.started = time.time()
        self.error = ""

    def run(self) -> None:
        sqs, cloudwatch = aws.client("sqs", self.settings), aws.client("cloudwatch", self.settings)
        while True:
            try:
                outputs = Outputs.load(outputs_path(self.settings))
                depth = observe.queue_depth(sqs, outputs.queue_url)
                recent = observe.concurrency_per_second(cloudwatch, outputs.subscriber_name, time.time() - 3)
                concurrency = recent[-1][1] if recent else 0
                self.samples.append(
                    {
                        "t": time.time() - self.started,
                        "visible": depth.visible,
                        "in_flight": depth.in_flight,
                        "dlq": observe.queue_depth(sqs, outputs.dlq_url).total,
                        "concurrency": concurrency or 0,
                    }
                )
                self.error = ""
            except Exception as error:  # shown on the page; sampling goes on
                self.error = f"{type(error).__name__}: {error}"
            time.sleep(1)

    def page(self) -> str:
        samples = list(self.samples)
        limit = self.settings.consumer_concurrency_limit
        latest = samples[-1] if samples else {}
        series = lambda key: [(s["t"], s[key]) for s in samples]  # noqa: E731
        end = samples[-1]["t"] if samples else 0
        charts = [
            report.line_chart(
                "Queue",
                [
                    report.Series("waiting", series("visible")),
                    report.Series("in flight", series("in_flight")),
                    report.Series("DLQ", series("dlq")),
                ],
                "messages",
            ),
            report.line_chart(
                "Subscriber concurrency",
                [
                    report.Series("concurrent executions", series("concurrency")),
                    report.Series(f"limit ({limit})", [(0, limit), (end, limit)] if limit else [], dashed=True),
                ],
                "executions",
            ),
        ]
        numbers = ", ".join(f"{key}: {value}" for key, value in latest.items() if key != "t")
        error = f"<p style='color:#b91c1c'>{html.escape(self.error)}</p>" if self.error else ""
        return (
            "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='2'>"
            "<title>harness: live</title><style>body{font:15px system-ui;max-width:820px;margin:1rem auto}"
            "svg{width:100%}.grid{stroke:#e5e7eb}.tick{font-size:11px;fill:#555}.axis{font-size:12px}"
            ".key{border-left:14px solid;padding-left:.4rem;margin-right:1rem;font-size:13px}</style></head><body>"
            f"<h1>Webhook topology, live</h1><p>{html.escape(numbers) or 'sampling...'}</p>{error}"
            f"{''.join(charts)}<p><a href='/'>back to Locust</a></p></body></html>"
        )


def register(app: Any, settings: Settings) -> None:
    live = LiveSamples(settings)
    live.start()
    app.add_url_rule("/harness", "harness_live", live.page)
