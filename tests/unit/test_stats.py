import pytest

from harness.stats import per_second, percentiles


@pytest.mark.parametrize(("values", "p50"), [([1, 2, 3, 4], 3), ([5], 5)])
def test_percentiles(values, p50):
    assert percentiles(values)["p50"] == p50 and percentiles(values)["max"] == max(values)
    assert percentiles([]) == {}


def test_per_second_fills_quiet_seconds_with_zero():
    assert per_second([100.2, 100.7, 102.1], origin=100) == [(0, 2), (1, 0), (2, 1)]
    assert per_second([], origin=0) == []


def test_a_per_second_sum_from_cloudwatch_shows_its_quiet_seconds_as_zero():
    from harness.observe import zero_filled

    assert zero_filled([(3.4, 2.0), (4.6, 1.0), (7.0, 5.0)]) == [
        (3.0, 2.0),
        (4.0, 0.0),
        (5.0, 1.0),
        (6.0, 0.0),
        (7.0, 5.0),
    ]
    assert zero_filled([]) == []
