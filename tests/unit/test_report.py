from html.parser import HTMLParser

from harness import report
from harness.verify import Verdict


def verdict(**changes) -> Verdict:
    fields = dict(
        verdict="PASS", reasons=[], accepted=3, rows=3, dlq=0, lost=0, lost_ids=[], duplicate_rows=0,
        duplicates_injected=1, duplicates_suppressed=1, max_consumer_concurrency=2.0, consumer_concurrency_limit=2,
        throttles=5.0, function_errors=0, drain_seconds=1.5, e2e_latency_ms={"p50": 10.0, "max": 20.0}, ingest_rps=3.0,
    )  # fmt: skip
    return Verdict(**{**fields, **changes})


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)


def test_a_line_chart_draws_each_series_and_the_limit():
    chart = report.line_chart(
        "Concurrency",
        [report.Series("executions", [(0, 1), (5, 2)]), report.Series("limit", [(0, 2), (5, 2)], dashed=True)],
        "executions",
        [(3, "load ends")],
    )
    assert chart.count("<polyline") == 2 and "stroke-dasharray" in chart and "load ends" in chart


def test_the_report_is_one_self_contained_page_with_the_verdict():
    page = report.render(
        verdict(verdict="FAIL", reasons=["2 lost <ids>"]),
        [report.histogram("Latency", [1, 2, 3], "ms")],
        "run-1",
        [("users", "8")],
    )
    parser = Tags()
    parser.feed(page)
    assert "svg" in parser.tags and "script" not in parser.tags and "link" not in parser.tags
    assert "FAIL" in page and "2 lost &lt;ids&gt;" in page  # escaped
    assert "http" not in page  # nothing to download


def test_empty_data_is_said_not_drawn():
    assert "no data" in report.line_chart("Queue", [report.Series("x", [])], "messages")
    assert "no data" in report.histogram("Latency", [], "ms")
