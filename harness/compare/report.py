"""The comparison's report: the variants overlaid on the same charts, a table side by side, a sentence each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness.compare.variants import VariantResult, failed_throttled, recommendation
from harness.load.config import LoadSettings
from harness.report import render
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


def render_comparison(results: Sequence[VariantResult], compare_id: str, load: LoadSettings) -> str:
    return render(
        "compare.html",
        compare_id=compare_id,
        results=results,
        colours=[COLOURS[i % len(COLOURS)] for i in range(len(results))],
        charts=comparison_charts(results),
        verdict="FAIL" if failed_throttled(list(results)) else "PASS",
        recommendation=recommendation(results),
        load_rows=[(name, str(value)) for name, value, _, _ in load.describe()],
    )
