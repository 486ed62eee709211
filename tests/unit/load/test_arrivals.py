"""The open-model schedule: fixed by the seed, the shape's rate in each stage, shared between processes."""

from harness.load import arrivals
from harness.load.shapes import shape_for


def test_the_schedule_is_fixed_by_the_seed_and_follows_the_shapes_rate():
    burst = shape_for("burst", users=20, spawn_rate=10, duration_s=100)
    times = arrivals.arrival_times(burst, user_rps=2.0, seed=7)
    assert times == arrivals.arrival_times(burst, user_rps=2.0, seed=7)
    assert times != arrivals.arrival_times(burst, user_rps=2.0, seed=8)
    assert times == sorted(times) and times[0] > 0 and times[-1] < 100
    quiet = sum(1 for t in times if t < 20)
    spike = sum(1 for t in times if 20 <= t < 50)
    # 2 users x 2/s for 20 s, then 20 users x 2/s for 30 s (Poisson: within a few standard deviations)
    assert 60 < quiet < 100 and 1080 < spike < 1320


def test_the_processes_share_the_schedule_without_overlap():
    times = arrivals.arrival_times(shape_for("steady", 5, 5, 10), 1.0, seed=3)
    shares = [arrivals.share(times, index, 3) for index in range(3)]
    assert sorted(t for share in shares for t in share) == times
    assert arrivals.share(times, 0, 1) == times


def test_the_senders_are_the_shapes_peak_users_unless_set():
    burst = shape_for("burst", users=20, spawn_rate=10, duration_s=60)
    assert arrivals.pool_size(burst, senders=0) == 20
    assert arrivals.pool_size(burst, senders=7) == 7
