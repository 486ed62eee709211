"""The topology picture is drawn from what was deployed: the way in, the throttle, a DLQ or its absence, the
backend and its capacity."""

import dataclasses

from harness.evidence import BackendView
from harness.report import render_report, topology
from harness.rules import judge
from tests.unit.builders import FOREIGN, evidence, record, row


def test_the_harness_topology_flows_from_the_senders_through_the_publisher_to_the_backend_with_a_dlq():
    run = evidence([record("a")], rows=[row("a")], backend=BackendView("dynamodb", 5.0, "write units / s", 4.0, 0))
    drawn = topology.graph(run)
    assert [node.key for node in drawn.chain] == ["senders", "api", "publisher", "queue", "subscriber", "backend"]
    assert drawn.chain[-1].lines == ("dynamodb", "Messages", "capacity 5 write units / s")
    assert "reserved concurrency 2" in drawn.chain[4].lines
    text = topology.mermaid(drawn)
    assert text.startswith("flowchart LR") and "queue -.->" in text and 'dlq[("dead-letter queue<br/>dlq")]' in text
    picture = topology.picture(drawn)
    assert len(picture.boxes) == 7 and len(picture.arrows) == 6
    assert all(arrow.x2 > arrow.x1 or arrow.y2 > arrow.y1 for arrow in picture.arrows)  # left to right, or down


def test_a_direct_way_in_has_no_publisher_and_a_stack_without_a_dlq_shows_its_absence():
    run = evidence([record("a")], rows=[row("a")], reserved=None, maximum=4)
    direct = dataclasses.replace(run, outputs=dataclasses.replace(FOREIGN, ingress="direct", publisher_name=""))
    drawn = topology.graph(direct)
    assert "publisher" not in [node.key for node in drawn.chain]
    assert ("queue", topology.Node("dlq", ("no dead-letter queue",), "missing")) in drawn.below
    assert "MaximumConcurrency 4" in drawn.chain[3].lines
    assert drawn.chain[-1].lines[-1] == "on demand"


def test_every_report_draws_it_with_its_mermaid_source_and_cuts_long_names_in_the_box_only():
    run = evidence([record("a")], rows=[row("a")])
    long_name = "cmp-reserved-concurrency-1-webhook-subscriber"
    run = dataclasses.replace(run, outputs=dataclasses.replace(run.outputs, subscriber_name=long_name))
    page = render_report(run, judge(run), [])
    assert 'class="topology"' in page and "flowchart LR" in page
    assert f"<title>subscriber · {long_name}" in page and ">cmp-reserved-concurrenc…<" in page
