"""Chart geometry: data in, coordinates out. The markup is the templates' (``templates/_charts.html``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 760, 220, 56, 34, 14
COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626")
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
class Chart:
    title: str
    y_label: str = ""
    empty: bool = False
    legend: list[tuple[str, str]] = field(default_factory=list)  # (label, colour)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # (svg y, text)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)  # (svg x, text)
    markers: list[tuple[float, float, str]] = field(default_factory=list)  # (svg x, label y, text)
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
    y_max = (max(y for _, y in all_points) or 1) * 1.1

    def sx(x: float) -> float:
        return round(PAD_LEFT + PLOT_W * x / x_max, 1)

    def sy(y: float) -> float:
        return round(PAD_TOP + PLOT_H * (1 - y / y_max), 1)

    fractions = (0, 0.25, 0.5, 0.75, 1)
    chart = Chart(
        title,
        y_label,
        legend=[(s.label, COLOURS[i % len(COLOURS)]) for i, s in enumerate(series) if s.points],
        y_ticks=[(sy(y_max * f), _tick(y_max * f, y_max)) for f in fractions],
        x_ticks=[(sx(x_max * f), _tick(x_max * f, x_max) + "s") for f in fractions],
        # Staggered labels, so close markers stay readable.
        markers=[(sx(at), PAD_TOP + 10 + 12 * (i % 4), label) for i, (at, label) in enumerate(sorted(markers))],
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


def _tick(value: float, top: float) -> str:
    return f"{value:.1f}" if top < 10 else f"{value:.0f}"
