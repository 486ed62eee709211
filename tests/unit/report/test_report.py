"""The rendered pages: self-contained, escaped, drawn from the evidence alone."""

import re
from html.parser import HTMLParser

from harness.evidence import Fault
from harness.report import render, render_report
from harness.report.charts import Series, line_chart
from harness.rules import judge
from tests.unit.builders import evidence, record, row


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)


def test_the_report_is_one_self_contained_page_with_the_verdict():
    found = evidence([record("a"), record("b <ids>")], rows=[row("a")])
    page = render_report(found, judge(found), [("users", "8")])
    parser = Tags()
    parser.feed(page)
    assert "svg" in parser.tags and "script" not in parser.tags and "link" not in parser.tags
    assert "FAIL" in page and "b &lt;ids&gt;" in page and "b <ids>" not in page  # escaped
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", page) and "@import" not in page  # nothing fetched
    assert "Subscriber concurrency against its limit" in page and "End-to-end latency" in page
    assert "<th>reserved concurrency</th><td>2</td>" in page  # the topology as deployed, from the evidence


def test_faults_are_listed_and_marked_on_the_charts():
    found = evidence([record("a")], rows=[row("a")])
    found.faults.append(Fault("backend outage", "webhook-subscriber", 3.0, 5.0))
    found.samples.extend({"t": t, "visible": 1, "in_flight": 0, "dlq": 0} for t in range(8))
    page = render_report(found, judge(found), [])
    assert page.count("backend outage") >= 2 and "recovered" in page


def test_the_live_page_shares_the_reports_stylesheet():
    chart = line_chart("Queue", [Series("waiting", [(0, 1), (1, 2)])], "messages")
    live = render("live.html", latest=[("waiting", 2)], error="", charts=[chart])
    report = render_report(evidence([record("a")], rows=[row("a")]), judge(evidence([record("a")])), [])
    style = live[live.index("<style>") : live.index("</style>")]
    assert style and style in report
    assert 'http-equiv="refresh"' in live and "<polyline" in live


def test_the_seconds_this_machine_was_the_limit_are_shaded_on_the_ingest_chart_and_said_in_the_verdict():
    records = [{**record(f"i{n}"), "t": 0.5 + n * 0.1} for n in range(80)]
    found = evidence(records, rows=[row(r["id"]) for r in records])
    found.samples.extend({"t": t, "gateway_cpu": 97.0, "visible": 9, "in_flight": 1, "dlq": 0} for t in (2, 3, 4))
    page = render_report(found, judge(found), [])
    assert page.count('class="saturated"') == 1  # seconds 2-4: one stretch
    assert "this machine at its limit (LocalStack&#39;s gateway)" in page
    assert "ingest was capped by this machine at ~10/s from second 2" in page
    calm = evidence(records, rows=[row(r["id"]) for r in records])
    assert 'class="saturated"' not in render_report(calm, judge(calm), [])
