import pytest

from harness.stats import per_second, percentiles


@pytest.mark.parametrize(("values", "p50"), [([1, 2, 3, 4], 3), ([5], 5)])
def test_percentiles(values, p50):
    assert percentiles(values)["p50"] == p50 and percentiles(values)["max"] == max(values)
    assert percentiles([]) == {}


def test_per_second_fills_quiet_seconds_with_zero():
    assert per_second([100.2, 100.7, 102.1], origin=100) == [(0, 2), (1, 0), (2, 1)]
    assert per_second([], origin=0) == []
