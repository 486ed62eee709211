"""Small statistics shared by verification, the report and the benchmark."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0-1) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def percentiles(values: Iterable[float]) -> dict[str, float]:
    """p50, p95, p99, max and count; {} for no values."""
    ordered = sorted(values)
    if not ordered:
        return {}
    marks = {
        name: round(percentile(ordered, fraction), 1) for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
    }
    return {**marks, "max": round(ordered[-1], 1), "count": len(ordered)}


def per_second(times: Iterable[float], origin: float) -> list[tuple[float, float]]:
    """Events per whole second since ``origin``, zero-filled: [(second, count), ...]."""
    counts = Counter(int(t - origin) for t in times)
    if not counts:
        return []
    return [(second, counts.get(second, 0)) for second in range(0, max(counts) + 1)]
