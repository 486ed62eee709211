"""report.html, the comparison and the live view: pages drawn from Jinja2 templates sharing one stylesheet.

The report is one self-contained page (inline SVG and CSS, no scripts, nothing downloaded). Nothing here
reads AWS: the report is a function of the evidence and the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from harness.evidence import Accepted, BackendView, Evidence
from harness.ingress import ingress_for
from harness.report import topology
from harness.report.charts import Chart, Series, histogram, limit_line, line_chart
from harness.rules import Verdict, kept_and_net, latencies_ms, machine_limit
from harness.stats import per_second


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["number"] = lambda value: fmt(round(value, 1) if isinstance(value, float) else value)
    return environment


@cache
def stylesheet() -> str:
    return resources.files("harness.report").joinpath("templates/style.css").read_text()


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(stylesheet=stylesheet(), **context)


def markers(evidence: Evidence) -> list[tuple[float, str]]:
    """Where the load ended and each fault started and recovered, in seconds since the load started."""
    found = [(evidence.load_ended - evidence.load_started, "load ends")]
    for fault in evidence.faults:
        if fault.from_s is not None:
            found.append((fault.from_s, fault.what))
        if fault.to_s is not None:
            found.append((fault.to_s, "recovered"))
    return found


def over_time(samples: Sequence[dict[str, Any]], origin: float, key: str) -> list[tuple[float, float]]:
    """One sampled value as (seconds since ``origin``, value)."""
    return [(s["t"] - origin, s[key]) for s in samples]


def queue_chart(samples: Sequence[dict[str, Any]], origin: float, marks: Sequence[tuple[float, str]] = ()) -> Chart:
    """Backlog, in flight and DLQ depth from the per-second samples."""
    good = [s for s in samples if "visible" in s]
    return line_chart(
        "Queue: backlog, in flight, DLQ",
        [
            Series("waiting (visible)", over_time(good, origin, "visible")),
            Series("in flight", over_time(good, origin, "in_flight")),
            Series("dead-letter queue", over_time(good, origin, "dlq")),
        ],
        "messages",
        marks,
    )


def concurrency_chart(
    concurrency: Sequence[tuple[float, float]], limit: int | None, marks: Sequence[tuple[float, str]] = ()
) -> Chart:
    return line_chart(
        "Subscriber concurrency against its limit",
        [Series("concurrent executions", concurrency), limit_line(f"limit ({limit})", limit, concurrency)],
        "executions",
        marks,
    )


def backend_chart(view: BackendView | None, marks: Sequence[tuple[float, str]] = ()) -> Chart:
    """The backend's load against its capacity line, and what it refused for capacity."""
    if view is None:
        return Chart("Backend load against its capacity", empty=True)
    capacity = "on demand" if view.capacity is None else f"{view.capacity:g}"
    return line_chart(
        f"Backend ({view.kind}) load against its capacity",
        [
            Series(f"in use ({view.capacity_unit})", view.load),
            limit_line(f"capacity ({capacity})", view.capacity, view.load),
            Series("refused for capacity", view.refused),
        ],
        view.capacity_unit,
        marks,
    )


def proxy_charts(view: BackendView | None, marks: Sequence[tuple[float, str]] = ()) -> list[Chart]:
    """RDS Proxy's two sides: the clients it serves against the database connections it holds (none: no chart)."""
    if view is None or view.proxy is None:
        return []
    proxy = view.proxy
    return [
        line_chart(
            "RDS Proxy: client connections against database connections",
            [
                Series("client connections (ClientConnections)", proxy.client_connections),
                Series("database connections (DatabaseConnections)", proxy.database_connections),
                limit_line(f"pool ({proxy.pool_size})", proxy.pool_size, proxy.database_connections),
                Series("clients waiting for a connection", proxy.clients_waiting),
                Series(f"borrow timeouts (> {proxy.borrow_timeout_s:g}s)", proxy.refused),
            ],
            "connections",
            marks,
        )
    ]


def report_charts(evidence: Evidence) -> list[Chart]:
    origin, marks = evidence.load_started, markers(evidence)
    accepted = evidence.accepted
    written = [float(row["written_at_ms"]) / 1000 for row in evidence.rows if row.get("written_at_ms") is not None]
    return [
        line_chart(
            "Ingest: accepted webhooks per second",
            [
                Series("accepted requests", per_second(accepted.times("new"), origin)),
                Series("sender retries (same key)", per_second(accepted.times("sender-retry"), origin)),
                Series("injected redeliveries", per_second(accepted.times("redelivery"), origin)),
                *signed_series(accepted, origin),
                *throttled_series(accepted, origin),
            ],
            "per second",
            marks,
            *saturated(evidence),
        ),
        queue_chart(evidence.samples, origin, marks),
        concurrency_chart(evidence.consumer.concurrency, evidence.consumer.limit, marks),
        backend_chart(evidence.backend, marks),
        *proxy_charts(evidence.backend, marks),
        line_chart(
            "Backend writes per second",
            [Series("rows written", per_second(written, origin))],
            "writes / s",
            marks,
        ),
        histogram("End-to-end latency (accepted -> row)", latencies_ms(evidence), "ms"),
        *emulator_charts(evidence.samples, origin, marks, evidence.held_mib),
    ]


def emulator_charts(
    samples: Sequence[dict[str, Any]],
    origin: float,
    marks: Sequence[tuple[float, str]] = (),
    held_mib: Sequence[tuple[float, float]] = (),
) -> list[Chart]:
    """LocalStack's own resources over the run (none when they were not sampled): what a leak would grow; its
    memory beside what it keeps for the run (a soak's) and what is left when that is taken away."""
    measured = [s for s in samples if "gateway_rss_mb" in s]
    if not measured:
        return []

    def series(key: str) -> list[tuple[float, float]]:
        return over_time(measured, origin, key)

    memory = [Series("resident memory (MiB)", series("gateway_rss_mb"))]
    if held_mib:
        kept, net = kept_and_net([(s["t"], s["gateway_rss_mb"]) for s in measured], dict(held_mib))
        memory += [
            Series("kept for the run: its rows and log lines", [(t - origin, mib) for t, mib in kept]),
            Series("resident memory net of it", [(t - origin, mib) for t, mib in net]),
        ]
    return [
        line_chart("LocalStack's resident memory", memory, "MiB", marks),
        line_chart(
            "LocalStack's threads and open files, and the function processes",
            [
                Series("threads", series("gateway_threads")),
                Series("open files", series("gateway_open_files")),
                Series("function processes", series("function_processes")),
            ],
            "count",
            marks,
        ),
    ]


def saturated(evidence: Evidence) -> tuple[list[tuple[float, float]], str]:
    """The seconds this machine was the limit, shaded on the ingest chart (none: nothing shaded)."""
    limit = machine_limit(evidence)
    if limit is None:
        return [], ""
    return [(float(start), float(end)) for start, end in limit.spans()], "this machine at its limit (" + ", ".join(
        limit.by
    ) + ")"


def throttled_series(accepted: Accepted, origin: float) -> list[Series]:
    """Answers 429 from API Gateway's throttle, beside what it let through (none: no series)."""
    if not accepted.throttled:
        return []
    return [Series("throttled at the gate (429)", per_second([record["t"] for record in accepted.throttled], origin))]


def signed_series(accepted: Accepted, origin: float) -> list[Series]:
    """Signed webhooks: replays (accepted, one row each) and forged or stale deliveries (refused)."""
    if not accepted.refused and not accepted.times("replay"):
        return []
    refused = [record["t"] for record in accepted.refused]
    return [
        Series("replays (same delivery)", per_second(accepted.times("replay"), origin)),
        Series("forged or stale (refused, 401)", per_second(refused, origin)),
    ]


CORRELATION = {
    "id": "id: each request's id, as the publisher answered it, is a row's key",
    "token": "token: each request's token, found in a row's attributes",
    "count": "count: no row keeps the request's token, so accepted requests were counted against new rows",
}


def numbers(verdict: Verdict, locust_cpu_max: float | None = None) -> list[tuple[str, Any]]:
    latency = verdict.e2e_latency_ms
    offered = verdict.offered
    rows = [
        ("verified by", CORRELATION[verdict.correlation]),
        *(
            [("offered / sent (open arrivals)", f"{offered['offered']} / {offered['sent']}, {offered['late']} late")]
            if offered
            else []
        ),
        ("accepted", verdict.accepted),
        ("rows written", verdict.rows),
        ("lost", verdict.lost),
        ("duplicate rows", verdict.duplicate_rows),
        ("duplicates injected / suppressed", f"{verdict.duplicates_injected} / {verdict.duplicates_suppressed}"),
        (
            "DLQ",
            verdict.dlq if verdict.has_dlq else "none in this stack: failed messages are retried until they expire",
        ),
        ("messages enqueued per accepted request", fmt(verdict.enqueued_per_request)),
        (
            "throttled at the gate (429)",
            f"{verdict.throttled_at_gate} answer(s); {verdict.never_accepted} request(s) never accepted (not lost)",
        ),
        (
            "server errors or no answer",
            f"{verdict.unanswered} ({verdict.queued_unanswered} of them queued all the same, by the queue's count)",
        ),
        (
            "subscriber concurrency max / limit",
            f"{fmt(verdict.max_consumer_concurrency)} / {fmt(verdict.consumer_concurrency_limit)}",
        ),
        ("throttles", fmt(verdict.throttles)),
        ("function errors", fmt(verdict.function_errors)),
        ("ingest rate", f"{verdict.ingest_rps} req/s"),
        ("drain after the load", f"{fmt(verdict.drain_seconds)} s"),
        (
            "webhook answer (request -> queued) p50 / p95 / p99 / max",
            " / ".join(fmt(verdict.answer_latency_ms.get(key)) for key in ("p50", "p95", "p99", "max")) + " ms",
        ),
        (
            "end-to-end latency p50 / p95 / p99 / max",
            " / ".join(fmt(latency.get(key)) for key in ("p50", "p95", "p99", "max")) + " ms",
        ),
    ]
    if signed := verdict.signed:
        rows[6:6] = [
            ("forged deliveries: sent / accepted", f"{signed['forged']} / {signed['forged_accepted']} (401 expected)"),
            ("stale deliveries: sent / accepted", f"{signed['stale']} / {signed['stale_accepted']} (401 expected)"),
            ("replays inside the tolerance", f"{signed['replays']}, one row per delivery"),
            ("rows of refused deliveries", signed["refused_rows"]),
        ]
    if verdict.backend:
        rows.insert(6, ("backend", f"{verdict.backend['kind']}: {verdict.backend['summary']}"))
    if locust_cpu_max is not None:
        rows.append(("load generator CPU, peak", f"{fmt(locust_cpu_max)} %"))
    for growth in verdict.soak:
        trend = "grew without bound" if growth["unbounded"] else "flat"
        rows.append(
            (
                f"soak: {growth['resource']}",
                f"{growth['level']:g}, {growth['growth']:+g} over {growth['window_s'] / 60:.0f} min "
                f"(fitted {growth['per_hour']:+g} an hour): {trend}",
            )
        )
    return rows


def deployed(evidence: Evidence) -> list[tuple[str, Any]]:
    """The topology the run went against, as it was deployed (not as configured)."""
    outputs, consumer = evidence.outputs, evidence.consumer
    stack = [("stack", f"{outputs.stack_name} (from {outputs.template})")] if outputs.stack_name else []
    return [
        *stack,
        ("webhook", f"{outputs.webhook_url} ({outputs.entry_kind})"),
        ("way in", ingress_for(outputs.ingress).description),
        *([("publisher", outputs.publisher_name)] if outputs.publisher_name else []),
        ("queue / DLQ", f"{outputs.queue_url} / {outputs.dlq_url or 'no DLQ'}"),
        ("subscriber", outputs.subscriber_name),
        (
            "reserved concurrency",
            "unreserved" if consumer.reserved_concurrency is None else consumer.reserved_concurrency,
        ),
        (
            "ScalingConfig.MaximumConcurrency",
            "not set" if consumer.maximum_concurrency is None else consumer.maximum_concurrency,
        ),
        *(
            [("ProvisionedPollerConfig", ", ".join(f"{k} {v}" for k, v in consumer.provisioned_pollers.items()))]
            if consumer.provisioned_pollers
            else []
        ),
        ("backend table", outputs.table_name),
        *([("subscriber connects through", "RDS Proxy")] if outputs.backend_proxy != "none" else []),
    ] + ([("signatures verified", outputs.signature_scheme)] if outputs.signature_scheme != "none" else [])


def render_report(
    evidence: Evidence, verdict: Verdict, settings_rows: Sequence[tuple[str, str]], locust_cpu_max: float | None = None
) -> str:
    return render(
        "report.html",
        run_id=evidence.run_id,
        verdict=verdict,
        numbers=numbers(verdict, locust_cpu_max),
        faults=evidence.faults,
        charts=report_charts(evidence),
        deployed=deployed(evidence),
        settings_rows=settings_rows,
        **topology_picture(evidence),
    )


def topology_picture(evidence: Evidence) -> dict[str, Any]:
    """The template's ``picture`` (SVG geometry) and ``mermaid`` (its source) of the topology as deployed."""
    drawn = topology.graph(evidence)
    return {"picture": topology.picture(drawn), "mermaid": topology.mermaid(drawn)}


def fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if isinstance(value, float) and value == int(value) else str(value)
