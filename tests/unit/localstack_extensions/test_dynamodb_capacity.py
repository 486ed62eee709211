"""DynamoDB capacity accounting as AWS counts it, on a fake clock."""

import pytest

from harness.localstack_extensions.dynamodb_capacity import (
    CapacityBucket,
    TableCapacity,
    item_size,
    read_units,
    write_units,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("size", "units"), [(1, 1), (1024, 1), (1025, 2), (3000, 3), (0, 1)])
def test_a_write_costs_one_unit_per_started_kilobyte(size, units):
    assert write_units(size) == units
    assert write_units(size, transactional=True) == 2 * units


def test_reads_cost_one_unit_per_started_4kb_half_when_eventually_consistent():
    assert read_units(4096, consistent=True) == 1 and read_units(4097, consistent=True) == 2
    assert read_units(4096) == 0.5 and read_units(10_000) == 1.5
    assert read_units(100, transactional=True) == 2


def test_item_size_counts_names_and_values():
    item = {"id": {"S": "abc"}, "n": {"N": "12345"}, "ok": {"BOOL": True}, "m": {"M": {"k": {"S": "v"}}}}
    # id(2)+3, n(1)+ceil(5/2)+1=4, ok(2)+1, m(1)+3+(k(1)+1+1)
    assert item_size(item) == 5 + 5 + 3 + 7
    assert item_size({"b": {"B": "AAECAw=="}}) == 1 + 4  # base64 of 4 bytes


def test_a_provisioned_bucket_throttles_beyond_its_rate_and_refills():
    clock = Clock()
    bucket = CapacityBucket(5, clock)
    assert [bucket.take(1) for _ in range(6)] == [True] * 5 + [False]
    clock.now += 1
    assert bucket.take(5) and not bucket.take(1)


def test_unused_capacity_is_kept_for_300_seconds_and_no_more():
    clock = Clock()
    bucket = CapacityBucket(5, clock)
    clock.now += 100
    assert bucket.take(5 + 5 * 100) and not bucket.take(1)  # the first second, plus 100 s banked
    clock.now += 10_000
    assert bucket.take(1500) and not bucket.take(1)  # capped at 300 s x 5


def test_a_throttled_request_spends_nothing():
    clock = Clock()
    bucket = CapacityBucket(5, clock)
    assert not bucket.take(6)
    assert bucket.take(5)


def test_on_demand_is_never_throttled():
    bucket = CapacityBucket(None, Clock())
    assert all(bucket.take(1000) for _ in range(100)) and bucket.admit()


def test_reads_pay_after_the_fact_and_may_run_into_debt():
    clock = Clock()
    bucket = CapacityBucket(5, clock)
    assert bucket.admit()
    bucket.spend(50)  # a big scan: 5 - 50 = -45
    assert not bucket.admit()
    clock.now += 9  # +45: back to zero, still not positive
    assert not bucket.admit()
    clock.now += 1
    assert bucket.admit()


def test_update_table_changes_the_rate_live():
    clock = Clock()
    table = TableCapacity("PROVISIONED", 5, 5, clock)
    assert table.take_write(5) and not table.take_write(1)
    table.update("PROVISIONED", 5, 100)
    clock.now += 1
    assert table.take_write(100)
    table.update("PAY_PER_REQUEST", 0, 0)
    assert all(table.take_write(1000) for _ in range(10))


def test_usage_is_counted_per_flush():
    table = TableCapacity("PROVISIONED", 5, 2, Clock())
    table.take_write(1), table.take_write(1), table.take_write(1)
    table.admit_read() and table.spend_read(0.5)
    usage = table.drain_usage()
    assert (usage.consumed_write, usage.write_throttles, usage.consumed_read) == (2, 1, 0.5)
    assert table.drain_usage().consumed_write == 0


def test_a_reset_table_starts_with_the_credit_asked_for_at_most_the_window():
    clock = Clock()
    table = TableCapacity("PROVISIONED", 5.0, 5.0, clock)
    table.bank(300.0)
    assert table.take_write(1500.0) and not table.take_write(1.0)
    table.bank(0.0)
    assert not table.take_write(1.0)
    clock.now += 1
    assert table.take_write(5.0) and not table.take_write(1.0)
    table.bank(10_000.0)
    assert table.write.tokens == table.write.ceiling == 1500.0
    on_demand = TableCapacity("PAY_PER_REQUEST", 0, 0, clock)
    on_demand.bank(300.0)
    assert on_demand.take_write(1_000_000.0)
