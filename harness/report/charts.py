"""Chart geometry: data in, coordinates out. The markup is the templates' (``templates/_charts.html``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 760, 220, 56, 34, 14
COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#a16207", "#6b7280")
PLOT_W, PLOT_H = WIDTH - PAD_LEFT - 10, HEIGHT - PAD_BOTTOM - PAD_TOP


@dataclass
class Series:
    label: str
    points: Sequence[tuple[float, float]]  # (seconds since the run started, value)
    dashed: bool = False


@dataclass
class Line:
    points: str
    colour: str
    dashed: bool


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass
class Marker:
    """A moment of the run: a vertical line, its label to the right (to the left near the right edge)."""

    x: float
    label_y: float
    text: str
    label_x: float
    anchor: str


@dataclass
class Chart:
    title: str
    y_label: str = ""
    empty: bool = False
    legend: list[tuple[str, str]] = field(default_factory=list)  # (label, colour)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # (svg y, text)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)  # (svg x, text)
    markers: list[Marker] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    bands: list[tuple[float, float]] = field(default_factory=list)  # (svg x, svg width): shaded stretches of time
    band_label: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    top: int = PAD_TOP
    bottom: int = HEIGHT - PAD_BOTTOM


def line_chart(
    title: str,
    series: Sequence[Series],
    y_label: str,
    markers: Sequence[tuple[float, str]] = (),
    shaded: Sequence[tuple[float, float]] = (),
    shaded_label: str = "",
) -> Chart:
    """``shaded``: stretches of time, (from, to) in seconds, drawn behind the lines and named ``shaded_label``."""
    all_points = [point for s in series for point in s.points]
    if not all_points:
        return Chart(title, empty=True)
    x_max = max([x for x, _ in all_points] + [end for _, end in shaded]) or 1
    y_top = max(y for _, y in all_points) or 1
    y_step = nice_step(y_top)
    y_max = y_step * (math.floor(y_top / y_step) + 1)  # the next round value above the highest point

    def sx(x: float) -> float:
        return round(PAD_LEFT + PLOT_W * x / x_max, 1)

    def sy(y: float) -> float:
        return round(PAD_TOP + PLOT_H * (1 - y / y_max), 1)

    chart = Chart(
        title,
        y_label,
        legend=[(s.label, COLOURS[i % len(COLOURS)]) for i, s in enumerate(series) if s.points],
        y_ticks=[(sy(y), f"{y:g}") for y in multiples(y_step, y_max)],
        x_ticks=[(sx(x), text) for x, text in time_ticks(x_max)],
        # Staggered labels, so close markers stay readable.
        markers=[marker(sx(at), PAD_TOP + 10 + 12 * (i % 4), label) for i, (at, label) in enumerate(sorted(markers))],
        bands=[(sx(start), round(sx(end) - sx(start), 1)) for start, end in shaded],
        band_label=shaded_label if shaded else "",
    )
    # Reference lines (dashed) first, so a measured series equal to its limit stays visible on top.
    for index, s in sorted(enumerate(series), key=lambda pair: not pair[1].dashed):
        if s.points:
            points = " ".join(f"{sx(x)},{sy(y)}" for x, y in s.points)
            chart.lines.append(Line(points, COLOURS[index % len(COLOURS)], s.dashed))
    return chart


def histogram(title: str, values: Sequence[float], unit: str, bins: int = 30) -> Chart:
    if not values:
        return Chart(title, empty=True)
    low, high = min(values), max(values)
    width = (high - low) / bins or 1
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / width))] += 1
    top = max(counts) * 1.1
    bar_w = PLOT_W / bins
    return Chart(
        title,
        bars=[
            Bar(
                x=round(PAD_LEFT + i * bar_w, 1),
                y=round(PAD_TOP + PLOT_H * (1 - count / top), 1),
                width=round(bar_w - 1, 1),
                height=round(PLOT_H * count / top, 1),
                title=f"{low + width * (i + 0.5):.0f} {unit}: {count}",
            )
            for i, count in enumerate(counts)
        ],
        x_ticks=[(round(PAD_LEFT + PLOT_W * f, 1), f"{low + (high - low) * f:.0f} {unit}") for f in (0, 0.5, 1)],
    )


def limit_line(label: str, limit: float | None, series: Sequence[tuple[float, float]]) -> Series:
    """A dashed horizontal line at ``limit`` across the measured series (none when unlimited)."""
    end = max((x for x, _ in series), default=0)
    return Series(label, [(0, limit), (end, limit)] if limit else [], dashed=True)


def marker(x: float, label_y: float, text: str) -> Marker:
    near_right_edge = x > PAD_LEFT + PLOT_W * 0.8
    return Marker(x, label_y, text, x - 4 if near_right_edge else x + 4, "end" if near_right_edge else "start")


def nice_step(top: float, ticks: int = 4) -> float:
    """A step of 1, 2, 2.5 or 5 times a power of ten giving about ``ticks`` steps up to ``top``: labels a
    reader can add up (0, 50, 100), not fifths of the maximum (0, 70, 140, 210, 281)."""
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def multiples(step: float, top: float) -> list[float]:
    """0, step, 2 step, ... up to ``top`` (rounded, so 0.1 steps read 0.3, not 0.30000000000000004)."""
    return [round(step * i, 10) for i in range(int(top / step + 1e-9) + 1)]


TIME_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def time_ticks(end_s: float, ticks: int = 6) -> list[tuple[float, str]]:
    """Seconds on round steps (0s, 15s, 30s; 0, 5 min, 10 min past ten minutes), within the run."""
    step = next((s for s in TIME_STEPS_S if end_s / s <= ticks), TIME_STEPS_S[-1])
    in_minutes = end_s > 600
    return [(t, f"{t / 60:g} min" if in_minutes else f"{t:g}s") for t in multiples(step, end_s)]
