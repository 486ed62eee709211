"""The faults the embedded stack injects outside the functions: a queue's send outage, a process crash."""

from harness.load.faults import CRASH_VARIABLES, SEND_OUTAGE_TAG
from harness.localstack_extensions.lambda_executor import executor
from harness.localstack_extensions.sqs import SEND_OUTAGE_TAG as EXTENSION_SEND_OUTAGE_TAG
from harness.localstack_extensions.sqs import in_outage


def test_the_harness_and_the_extensions_agree_on_the_names():
    assert SEND_OUTAGE_TAG == EXTENSION_SEND_OUTAGE_TAG
    assert CRASH_VARIABLES == (executor.CRASH_AT_VARIABLE, executor.CRASH_DELAY_VARIABLE)


def test_a_queue_refuses_sends_only_inside_its_tagged_window():
    tags = {SEND_OUTAGE_TAG: "1000,2000", "team": "payments"}
    assert [in_outage(tags, now) for now in (999, 1000, 1999, 2000)] == [False, True, True, False]
    assert not in_outage({}, 1500) and not in_outage({SEND_OUTAGE_TAG: "garbage"}, 1500)


def test_the_crash_picks_one_invocation_per_function_after_its_moment():
    env = {executor.CRASH_AT_VARIABLE: "5000", executor.CRASH_DELAY_VARIABLE: "300"}
    assert executor.claim_crash("arn:f:1", env, now_ms=4999) is None  # not yet
    assert executor.claim_crash("arn:f:1", env, now_ms=5000) == 0.3
    assert executor.claim_crash("arn:f:1", env, now_ms=6000) is None  # once
    assert executor.claim_crash("arn:g:1", env, now_ms=6000) == 0.3  # another function has its own
    assert executor.claim_crash("arn:f:1", {**env, executor.CRASH_AT_VARIABLE: "7000"}, now_ms=7000) == 0.3  # a new run
    assert executor.claim_crash("arn:h:1", {}, now_ms=9000) is None
