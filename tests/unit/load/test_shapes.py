import pytest

from harness.load.shapes import shape_for


def test_burst_is_quiet_then_a_spike_then_quiet_then_over():
    shape = shape_for("burst", users=50, spawn_rate=10, duration_s=100)
    assert [shape.at(t)[0] for t in (0, 19, 20, 49, 50, 99)] == [5, 5, 50, 50, 5, 5]
    assert shape.at(100) is None


def test_steady_and_soak_hold_one_level():
    assert {shape_for("steady", 8, 2, 10).at(t)[0] for t in range(10)} == {8}
    assert {shape_for("soak", 8, 2, 10).at(t)[0] for t in range(10)} == {4}


def test_spawn_rate_is_passed_through():
    assert shape_for("steady", 8, 2.5, 10).at(1) == (8, 2.5)


def test_an_unknown_shape_is_refused():
    with pytest.raises(ValueError, match="unknown shape 'spiky'"):
        shape_for("spiky", 1, 1, 1)
