"""AWS's SQS scaling rules, driven with explicit time (no sleeps)."""

import itertools
import os

from harness.localstack_extensions.sqs_scaling.config import ScalingConfig, default_host_ceiling
from harness.localstack_extensions.sqs_scaling.scaler import ConcurrencyScaler

AWS = ScalingConfig(host_ceiling=1000)


def run(scaler: ConcurrencyScaler, seconds: int, backlog: bool = True, start: float = 0.0) -> list[int]:
    return [scaler.update(start + second, backlog).concurrency for second in range(1, seconds + 1)]


def test_idle_mapping_keeps_two_pollers():
    scaler = ConcurrencyScaler(AWS, None, now=0)
    assert run(scaler, 5, backlog=False) == [2, 2, 2, 2, 2]


def test_a_backlog_starts_at_five_then_adds_300_per_minute():
    scaler = ConcurrencyScaler(AWS, None, now=0)
    concurrency = run(scaler, 60)
    assert concurrency[0] == 5 + 5  # five at once, plus one second's worth (300/min = 5/s)
    assert concurrency[59] == 5 + 300  # one minute later
    assert all(later - earlier <= 5 for earlier, later in itertools.pairwise(concurrency))


def test_it_never_exceeds_1000_per_mapping():
    scaler = ConcurrencyScaler(AWS, None, now=0)
    assert max(run(scaler, 600)) == 1000


def test_maximum_concurrency_caps_the_mapping():
    scaler = ConcurrencyScaler(AWS, mapping_maximum=3, now=0)
    assert set(run(scaler, 30)) == {3}
    assert set(run(scaler, 5, backlog=False, start=30)) == {3}  # no scaling down to two with it set


def test_with_maximum_concurrency_low_traffic_keeps_five_batches_not_two():
    scaler = ConcurrencyScaler(AWS, mapping_maximum=50, now=0)
    run(scaler, 4)
    run(scaler, 60, backlog=False, start=4)
    assert scaler.target == 5


def test_function_errors_halve_the_concurrency():
    scaler = ConcurrencyScaler(AWS, None, now=0)
    run(scaler, 10)
    before = scaler.target
    assert scaler.update(11, backlog=True, function_errors=1).concurrency == before // 2


def test_traffic_falling_scales_back_one_per_tick_to_two():
    scaler = ConcurrencyScaler(AWS, None, now=0)
    run(scaler, 4)
    assert run(scaler, 30, backlog=False, start=4)[:3] == [24, 23, 22]
    assert scaler.target == 2


def test_scale_up_rate_and_start_are_settings_so_tests_can_compress_time():
    fast = ScalingConfig(initial_concurrency=2, scale_up_per_minute=6000, host_ceiling=1000)
    assert run(ConcurrencyScaler(fast, None, now=0), 3) == [102, 202, 302]


def test_the_host_ceiling_caps_the_emulation_and_says_so():
    scaler = ConcurrencyScaler(ScalingConfig(host_ceiling=8), None, now=0)
    decisions = [scaler.update(second, backlog=True) for second in range(1, 4)]
    assert [d.concurrency for d in decisions] == [8, 8, 8]
    assert [d.wanted for d in decisions] == [10, 15, 20]
    assert all(d.host_limited for d in decisions)


def test_configuration_comes_from_the_environment():
    config = ScalingConfig.from_environment(
        {
            "HARNESS_ESM_INITIAL_CONCURRENCY": "3",
            "HARNESS_ESM_SCALE_UP_PER_MINUTE": "60",
            "HARNESS_ESM_MAXIMUM_CONCURRENCY": "50",
            "HARNESS_MAX_CONCURRENT_ENVIRONMENTS": "7",
        }
    )
    assert (config.initial_concurrency, config.scale_up_per_minute, config.maximum_concurrency) == (3, 60, 50)
    assert config.host_ceiling == 7
    assert ScalingConfig.from_environment({}).initial_concurrency == 5


def test_the_default_ceiling_is_a_quarter_of_memory_at_60_mb_per_environment():
    memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    assert default_host_ceiling() == max(2, min(1000, memory_mb // 4 // 60))


def test_provisioned_pollers_start_with_what_the_minimum_carries_and_scale_over_three_times_faster():
    from harness.localstack_extensions.sqs_scaling.scaler import ProvisionedScaler

    roomy = ScalingConfig(host_ceiling=20_000)
    provisioned = ProvisionedScaler(roomy, minimum=2, maximum=200, now=0)
    standard = ConcurrencyScaler(roomy, None, now=0)
    fast, slow = run(provisioned, 60), run(standard, 60)
    assert fast[0] > slow[0] and fast[0] == 2 * 10 + 16  # two ready pollers carry 20 at once, +1000/min
    assert fast[59] == 20 + 1000 > 3 * (slow[59] - 5)
    assert max(run(ProvisionedScaler(AWS, minimum=2, maximum=3, now=0), 10)) == 30  # 10 per poller


def test_provisioned_pollers_keep_their_minimum_when_idle():
    from harness.localstack_extensions.sqs_scaling.scaler import ProvisionedScaler

    scaler = ProvisionedScaler(AWS, minimum=7, maximum=200, now=0)
    assert run(scaler, 3, backlog=False) == [7, 7, 7]
    run(scaler, 5, start=3)
    run(scaler, 600, backlog=False, start=8)
    assert scaler.target == 7


def test_the_mapping_picks_its_mode_and_aws_refuses_both_at_once():
    from harness.localstack_extensions.sqs_scaling.scaler import (
        ProvisionedScaler,
        provisioning_problem,
        scaler_for,
    )

    assert isinstance(scaler_for(AWS, {"ProvisionedPollerConfig": {"MinimumPollers": 3}}, 0), ProvisionedScaler)
    assert scaler_for(AWS, {"ScalingConfig": {"MaximumConcurrency": 4}}, 0).ceiling == 4
    assert scaler_for(AWS, {"ProvisionedPollerConfig": {}}, 0).ceiling == 1000  # {} clears it: standard mode
    both = {"ProvisionedPollerConfig": {"MinimumPollers": 2}, "ScalingConfig": {"MaximumConcurrency": 2}}
    assert "mutually exclusive" in provisioning_problem(both)
    assert "between 2 and 200" in provisioning_problem({"ProvisionedPollerConfig": {"MinimumPollers": 1}})
    assert "between 2 and 10,000" in provisioning_problem({"ProvisionedPollerConfig": {"MaximumPollers": 10_001}})
    assert "less than or equal" in provisioning_problem(
        {"ProvisionedPollerConfig": {"MinimumPollers": 9, "MaximumPollers": 8}}
    )
    assert provisioning_problem({"ProvisionedPollerConfig": {"MinimumPollers": 2, "MaximumPollers": 20}}) is None
