"""The comparison's report: the variants overlaid on the same charts, a table side by side, a sentence each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness.compare.variants import VariantResult, failed_throttled, recommendation, what_the_throttle_did
from harness.load.config import LoadSettings
from harness.report import render, topology_picture
from harness.report.charts import COLOURS, Series, limit_line, line_chart


def overlay(
    results: Sequence[VariantResult], pick: Callable[[VariantResult], list[tuple[float, float]]]
) -> list[Series]:
    return [Series(result.variant.name, pick(result)) for result in results]


def comparison_charts(results: Sequence[VariantResult]) -> list[Any]:
    charts = []
    views = [r.evidence.backend for r in results if r.evidence.backend]
    if views:
        capacity = views[0].capacity
        all_load = [point for view in views for point in view.load]
        charts.append(
            line_chart(
                f"Backend ({views[0].kind}) load against its capacity",
                [
                    *overlay(results, lambda r: r.evidence.backend.load if r.evidence.backend else []),
                    limit_line(
                        f"capacity ({'on demand' if capacity is None else f'{capacity:g}'})", capacity, all_load
                    ),
                ],
                views[0].capacity_unit,
            )
        )
        charts.append(
            line_chart(
                "Refused by the backend for capacity, per second",
                overlay(results, lambda r: r.evidence.backend.refused if r.evidence.backend else []),
                "refusals / s",
            )
        )
    proxied = [r for r in results if r.evidence.backend and r.evidence.backend.proxy]
    if proxied:
        charts.append(
            line_chart(
                "RDS Proxy: database connections it held (proxied variants)",
                overlay(proxied, lambda r: r.evidence.backend.proxy.database_connections),
                "connections",
            )
        )
        charts.append(
            line_chart(
                "RDS Proxy: clients waiting for a database connection (proxied variants)",
                overlay(proxied, lambda r: r.evidence.backend.proxy.clients_waiting),
                "clients",
            )
        )
    charts.append(
        line_chart("Subscriber concurrency", overlay(results, lambda r: r.evidence.consumer.concurrency), "executions")
    )

    def backlog(result: VariantResult) -> list[tuple[float, float]]:
        origin = result.evidence.load_started
        return [(s["t"] - origin, s["visible"] + s["in_flight"]) for s in result.evidence.samples if "visible" in s]

    charts.append(line_chart("Queue: waiting + in flight", overlay(results, backlog), "messages"))
    return charts


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value / 1000:.1f} s" if value >= 1000 else f"{value:g} ms"


ROWS: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("verdict", lambda s: s["verdict"]),
    ("offered (the schedule) / sent", lambda s: f"{s['offered']} / {s['sent']}" if s["offered"] is not None else ""),
    ("refused at the gate (429)", lambda s: s["refused_at_gate"]),
    ("accepted", lambda s: s["accepted"]),
    (
        "backend peak / capacity",
        lambda s: (
            f"{s['backend_peak']:g} / {s['backend_capacity']:g}"
            if s["backend_capacity"] is not None
            else s["backend_peak"]
        ),
    ),
    (
        "within capacity or on burst credit",
        lambda s: (
            "on demand"
            if s["backend_capacity"] is None
            else "overloaded"
            if s["backend_errors"]
            else ("on burst credit" if s["backend_on_credit"] else "within capacity")
        ),
    ),
    (
        "a full burst credit lasts at that peak",
        lambda s: "" if s["credit_lasts_s"] is None else f"{s['credit_lasts_s']:g} s",
    ),
    ("refused for capacity", lambda s: s["backend_errors"]),
    (
        "RDS Proxy: clients / database connections, peak",
        lambda s: (
            f"{s['proxy']['client_connections_peak']:g} / {s['proxy']['database_connections_peak']:g}"
            if s["proxy"]
            else ""
        ),
    ),
    ("RDS Proxy: clients waiting, peak", lambda s: s["proxy"]["clients_waiting_peak"] if s["proxy"] else ""),
    ("RDS Proxy: borrow timeouts", lambda s: s["proxy"]["borrow_timeouts"] if s["proxy"] else ""),
    ("subscriber concurrency, max", lambda s: s["max_consumer_concurrency"]),
    ("Lambda throttles", lambda s: s["throttles"]),
    ("rows", lambda s: s["rows"]),
    ("not (yet) rows", lambda s: s["lost"]),
    ("duplicate rows", lambda s: s["duplicate_rows"]),
    ("DLQ", lambda s: s["dlq"]),
    ("DLQ without a function error", lambda s: s["dlq_without_function_error"]),
    ("still queued at the end", lambda s: s["pending"]),
    ("drain after the load (s)", lambda s: s["drain_seconds"]),
    ("end-to-end latency p50 / p99", lambda s: f"{_ms(s['e2e_p50_ms'])} / {_ms(s['e2e_p99_ms'])}"),
    ("webhook answer p50 / p99", lambda s: f"{_ms(s['answer_p50_ms'])} / {_ms(s['answer_p99_ms'])}"),
)
"""The side-by-side table: a label, and its value from a variant's ``summary()`` (compare.json's keys)."""


def table_rows(results: Sequence[VariantResult]) -> list[tuple[str, list[Any]]]:
    """Every row that says something for at least one variant."""
    summaries = [result.summary() for result in results]
    rows = [(label, [pick(summary) for summary in summaries]) for label, pick in ROWS]
    return [(label, values) for label, values in rows if any(value not in ("", None) for value in values)]


def starting_state(results: Sequence[VariantResult], load: LoadSettings) -> str:
    """What every variant started from, said in the report."""
    views = [result.evidence.backend for result in results if result.evidence.backend]
    if any(view.burst_window_s for view in views):
        credit = {"new": "as a new table's (one second of its capacity)", "none": "nothing banked",
                  "full": "full (300 s of its capacity banked)"}.get(load.burst_credit, load.burst_credit)  # fmt: skip
        backend = f"the table's burst credit {credit} (HARNESS_BURST_CREDIT)"
    else:
        backend = "the database with all its connections free"
    if any(view.proxy for view in views):
        backend += ", RDS Proxy started afresh"
    return (
        f"Every variant got the same {load.shape} load as open arrivals (seed {load.seed}: the same webhooks at "
        f"the same moments, however fast it answered) and started from the same state: its own queue and table, "
        f"empty; fresh execution environments; {backend}."
    )


def render_comparison(results: Sequence[VariantResult], compare_id: str, load: LoadSettings) -> str:
    return render(
        "compare.html",
        compare_id=compare_id,
        results=results,
        rows=table_rows(results),
        starting_state=starting_state(results, load),
        colours=[COLOURS[i % len(COLOURS)] for i in range(len(results))],
        charts=comparison_charts(results),
        verdict="FAIL" if failed_throttled(list(results)) else "PASS",
        recommendation=recommendation(results),
        takeaway=what_the_throttle_did(results),
        load_rows=[(name, str(value)) for name, value, _, _ in load.describe()],
        **(topology_picture(results[0].evidence) if results else {}),
    )
