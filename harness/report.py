"""report.html: one self-contained page (inline SVG, no scripts, no downloads) a person reads."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.verify import Verdict

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 760, 220, 56, 34, 14
COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626")


@dataclass
class Series:
    label: str
    points: Sequence[tuple[float, float]]  # (seconds since the run started, value)
    dashed: bool = False


def line_chart(title: str, series: Sequence[Series], y_label: str, markers: Sequence[tuple[float, str]] = ()) -> str:
    all_points = [point for s in series for point in s.points]
    if not all_points:
        return f"<h3>{html.escape(title)}</h3><p class='empty'>no data</p>"
    x_max = max(x for x, _ in all_points) or 1
    y_max = max(y for _, y in all_points) or 1
    y_max *= 1.1
    plot_w, plot_h = WIDTH - PAD_LEFT - 10, HEIGHT - PAD_BOTTOM - PAD_TOP

    def sx(x: float) -> float:
        return PAD_LEFT + plot_w * x / x_max

    def sy(y: float) -> float:
        return PAD_TOP + plot_h * (1 - y / y_max)

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">']
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = y_max * fraction
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - 10}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" class="grid"/>'
            f'<text x="{PAD_LEFT - 6}" y="{sy(y) + 4:.1f}" class="tick" text-anchor="end">{_tick(y, y_max)}</text>'
        )
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        x = x_max * fraction
        parts.append(
            f'<text x="{sx(x):.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" class="tick" text-anchor="middle">'
            f"{_tick(x, x_max)}s</text>"
        )
    for index, (at, label) in enumerate(sorted(markers)):
        label_y = PAD_TOP + 10 + 12 * (index % 4)  # staggered, so close markers stay readable
        parts.append(
            f'<line x1="{sx(at):.1f}" x2="{sx(at):.1f}" y1="{PAD_TOP}" y2="{HEIGHT - PAD_BOTTOM}" class="marker"/>'
            f'<text x="{sx(at) + 4:.1f}" y="{label_y}" class="tick">{html.escape(label)}</text>'
        )
    # Reference lines (dashed) first, so a measured series equal to its limit stays visible on top.
    for index, s in sorted(enumerate(series), key=lambda pair: not pair[1].dashed):
        if not s.points:
            continue
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s.points)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        colour = COLOURS[index % len(COLOURS)]
        width = 2 if s.dashed else 2.5
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="{width}"{dash}/>')
    middle = PAD_TOP + plot_h / 2
    parts.append(
        f'<text x="14" y="{middle:.0f}" class="axis" transform="rotate(-90 14 {middle:.0f})"'
        f' text-anchor="middle">{html.escape(y_label)}</text></svg>'
    )
    legend = " ".join(
        f'<span class="key" style="border-color:{COLOURS[i % len(COLOURS)]}">{html.escape(s.label)}</span>'
        for i, s in enumerate(series)
    )
    return f"<h3>{html.escape(title)}</h3><div class='legend'>{legend}</div>{''.join(parts)}"


def histogram(title: str, values: Sequence[float], unit: str, bins: int = 30) -> str:
    if not values:
        return f"<h3>{html.escape(title)}</h3><p class='empty'>no data</p>"
    low, high = min(values), max(values)
    width = (high - low) / bins or 1
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / width))] += 1
    points = [(low + width * (i + 0.5), count) for i, count in enumerate(counts)]
    top = max(counts) * 1.1
    plot_w, plot_h = WIDTH - PAD_LEFT - 10, HEIGHT - PAD_BOTTOM - PAD_TOP
    bar_w = plot_w / bins
    bars = "".join(
        f'<rect x="{PAD_LEFT + i * bar_w:.1f}" y="{PAD_TOP + plot_h * (1 - c / top):.1f}" width="{bar_w - 1:.1f}"'
        f' height="{plot_h * c / top:.1f}" fill="{COLOURS[0]}"><title>{x:.0f} {unit}: {c}</title></rect>'
        for i, (x, c) in enumerate(points)
    )
    ticks = "".join(
        f'<text x="{PAD_LEFT + plot_w * f:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" class="tick" text-anchor="middle">'
        f"{low + (high - low) * f:.0f} {unit}</text>"
        for f in (0, 0.5, 1)
    )
    return f'<h3>{html.escape(title)}</h3><svg viewBox="0 0 {WIDTH} {HEIGHT}">{bars}{ticks}</svg>'


def render(
    verdict: Verdict,
    charts: Sequence[str],
    run_id: str,
    settings_rows: Sequence[tuple[str, str]],
    faults: Sequence[Any] = (),
) -> str:
    status_class = "pass" if verdict.passed else "fail"
    reasons = "".join(f"<li>{html.escape(reason)}</li>" for reason in verdict.reasons) or "<li>all checks held</li>"
    latency = verdict.e2e_latency_ms
    numbers = [
        ("accepted (202)", verdict.accepted),
        ("rows written", verdict.rows),
        ("lost", verdict.lost),
        ("duplicate rows", verdict.duplicate_rows),
        (
            "duplicates injected / suppressed",
            f"{verdict.duplicates_injected} / {verdict.duplicates_suppressed}",
        ),
        ("DLQ", verdict.dlq),
        (
            "subscriber concurrency max / limit",
            f"{_fmt(verdict.max_consumer_concurrency)} / {_fmt(verdict.consumer_concurrency_limit)}",
        ),
        ("throttles", _fmt(verdict.throttles)),
        ("function errors", _fmt(verdict.function_errors)),
        ("ingest rate", f"{verdict.ingest_rps} req/s"),
        ("drain after the load", f"{_fmt(verdict.drain_seconds)} s"),
        (
            "end-to-end latency p50 / p95 / p99 / max",
            " / ".join(_fmt(latency.get(key)) for key in ("p50", "p95", "p99", "max")) + " ms",
        ),
    ]
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in numbers)
    dlq_rows = "".join(
        f"<tr><td>{html.escape(str(m['id']))}</td><td>{m['receive_count']}</td><td>{html.escape(m['why'])}</td></tr>"
        for m in verdict.dlq_messages[:50]
    )
    dlq = (
        f"<h2>Dead-letter queue</h2><table><tr><th>id</th><th>receives</th><th>why</th></tr>{dlq_rows}</table>"
        if verdict.dlq_messages
        else ""
    )
    fault_rows = "".join(
        f"<tr><td>{html.escape(f.what)}</td><td>{html.escape(f.function)}</td>"
        f"<td>{'whole load' if f.from_s is None else f'{f.from_s:g} s'}</td>"
        f"<td>{'' if f.to_s is None else f'{f.to_s:g} s'}</td></tr>"
        for f in faults
    )
    fault_table = (
        "<h2>Faults injected</h2><table><tr><th>what</th><th>function</th><th>from</th><th>to</th></tr>"
        f"{fault_rows}</table>"
        if faults
        else ""
    )
    settings_table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in settings_rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Webhook load run {html.escape(run_id)}: {verdict.verdict}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 820px; color: #111; }}
h1 {{ margin-bottom: .2rem; }} .run {{ color: #555; margin-top: 0; }}
.verdict {{ padding: .8rem 1rem; border-radius: 8px; margin: 1rem 0; }}
.verdict.pass {{ background: #dcfce7; border: 1px solid #16a34a; }}
.verdict.fail {{ background: #fee2e2; border: 1px solid #dc2626; }}
.verdict strong {{ font-size: 1.4rem; }}
table {{ border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }}
th, td {{ text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e5e7eb; }}
th {{ font-weight: 600; width: 45%; }}
svg {{ width: 100%; height: auto; }} .grid {{ stroke: #e5e7eb; }} .marker {{ stroke: #9ca3af; stroke-dasharray: 3 3; }}
.tick {{ font-size: 11px; fill: #555; }} .axis {{ font-size: 12px; fill: #333; }}
.legend {{ margin: .2rem 0; }}
.key {{ border-left: 14px solid; padding-left: .4rem; margin-right: 1rem; font-size: 13px; }}
.empty {{ color: #888; }}
</style></head><body>
<h1>Webhook load run</h1><p class="run">{html.escape(run_id)}</p>
<div class="verdict {status_class}"><strong>{verdict.verdict}</strong><ul>{reasons}</ul></div>
<h2>Numbers</h2><table>{table}</table>
{fault_table}
<h2>Over time</h2>{"".join(charts)}
{dlq}
<h2>Settings of this run</h2><table>{settings_table}</table>
</body></html>
"""


def _tick(value: float, top: float) -> str:
    return f"{value:.1f}" if top < 10 else f"{value:.0f}"


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if isinstance(value, float) and value == int(value) else str(value)
