"""The verdict: rules over plain evidence values, no AWS and no fakes."""

from __future__ import annotations

import dataclasses

from harness.evidence import Accepted, BackendView, Consumer, Evidence
from harness.rules import judge
from tests.unit.builders import FOREIGN, evidence, record, row


def test_a_clean_run_passes_with_its_numbers():
    result = judge(evidence([record("a"), record("b")], rows=[row("a"), row("b")]))
    assert result.verdict == "PASS" and result.reasons == []
    assert (result.accepted, result.rows, result.lost, result.dlq) == (2, 2, 0, 0)
    assert result.e2e_latency_ms["p50"] == 250
    assert result.ingest_rps == 0.2


def test_an_accepted_id_that_is_neither_a_row_nor_dead_is_lost():
    result = judge(evidence([record("a"), record("b")], rows=[row("a")]))
    assert result.verdict == "FAIL" and result.lost == 1 and result.lost_ids == ["b"]
    assert "neither a row nor in the DLQ" in result.reasons[0]


def test_colliding_ids_are_caught_as_lost():
    """The reference stack's path + epoch-ms ids: two requests, one id, one row."""
    records = [record("/hello1700000000000", "e1"), record("/hello1700000000000", "e2")]
    result = judge(evidence(records, rows=[row("/hello1700000000000")], suppressed=1))
    assert result.verdict == "FAIL" and result.lost == 1
    assert "the publisher's ids collide" in " ".join(result.reasons)


def test_sender_retries_of_one_event_are_not_collisions():
    records = [record("k1", "e1"), record("k1", "e1", kind="sender-retry")]
    result = judge(evidence(records, rows=[row("k1")], suppressed=1))
    assert result.verdict == "PASS" and result.lost == 0


def test_two_rows_of_one_request_are_duplicate_rows():
    result = judge(evidence([record("a"), record("b")], rows=[row("a", "same"), row("b", "same")]))
    assert result.duplicate_rows == 1 and result.verdict == "FAIL"


def test_concurrency_above_the_limit_fails_the_run():
    result = judge(evidence([record("a")], rows=[row("a")], concurrency=3.0))
    assert any("above its limit of 2" in reason for reason in result.reasons)


def test_the_limit_is_the_smaller_of_reserved_and_maximum_concurrency_as_deployed():
    held = judge(evidence([record("a")], rows=[row("a")], concurrency=3.0, reserved=5, maximum=4))
    assert held.verdict == "PASS" and held.consumer_concurrency_limit == 4
    unlimited = judge(evidence([record("a")], rows=[row("a")], concurrency=50.0, reserved=None))
    assert unlimited.verdict == "PASS" and unlimited.consumer_concurrency_limit is None


def test_unexpected_dlq_messages_fail_the_run_but_poisoned_ones_are_expected():
    unexpected = judge(evidence([record("a"), record("b")], rows=[row("a")], dlq=["b"]))
    assert "unexpected DLQ" in " ".join(unexpected.reasons)
    expected = judge(evidence([record("a"), record("p", poisoned=True)], rows=[row("a")], dlq=["p"]))
    assert expected.verdict == "PASS" and expected.dlq_messages[0]["why"].startswith("poisoned on purpose")


def test_a_poisoned_message_missing_from_the_dlq_fails_the_run():
    result = judge(evidence([record("p", poisoned=True)], rows=[row("p")]))
    assert "did not reach the DLQ" in " ".join(result.reasons)


def test_injected_duplicates_must_all_be_suppressed():
    records = [record("a"), record("a", kind="redelivery"), record("b"), record("b", kind="redelivery")]
    result = judge(evidence(records, rows=[row("a"), row("b")], suppressed=1))
    assert "2 duplicate(s) injected but only 1 suppressed" in " ".join(result.reasons)


def test_after_a_fix_poisoned_requests_must_be_rows():
    records = [record("p", poisoned=True)]
    fixed = Accepted(records).with_poison_fixed()
    assert judge(evidence(fixed.records, rows=[row("p")])).verdict == "PASS"
    assert judge(evidence(fixed.records, dlq=["p"])).verdict == "FAIL"


def test_a_backend_that_refused_work_for_capacity_fails_the_run():
    refused = BackendView("postgres", 10.0, "connections", peak=10.0, errors=212, refusal="refused connections")
    result = judge(evidence([record("a")], rows=[row("a")], backend=refused))
    assert result.verdict == "FAIL"
    assert "refused connections 212 time(s) for capacity, peaking at 10 connections" in " ".join(result.reasons)
    assert (
        result.backend["errors"] == 212
        and result.backend["summary"] == "peaked at 10 of 10 connections, refused 212 for capacity"
    )


def test_a_backend_within_its_capacity_passes_and_reports_its_peak():
    held = BackendView("dynamodb", 5.0, "write units / s", peak=4.0, errors=0)
    result = judge(evidence([record("a")], rows=[row("a")], backend=held))
    assert result.verdict == "PASS" and result.backend["peak"] == 4.0
    on_demand = BackendView("dynamodb", None, "write units / s", peak=40.0, errors=0)
    assert "on demand" in judge(evidence([record("a")], rows=[row("a")], backend=on_demand)).backend["summary"]


# --- a stack of your own: by token, by count, and the messages enqueued per request --------------------------

T1, T2, T3 = "whtok" + "1" * 24, "whtok" + "2" * 24, "whtok" + "3" * 24


def foreign(records, rows=(), correlation="token", table_rows=None, enqueued=None) -> Evidence:
    return Evidence(
        **{
            **evidence(records, rows).__dict__,
            "outputs": FOREIGN,
            "correlation": correlation,
            "table_rows": table_rows,
            "enqueued": enqueued,
        }
    )


def token_record(token: str, kind: str = "new") -> dict:
    return {"id": None, "token": token, "event": f"e-{token}", "kind": kind, "t": 0}


def test_a_foreign_stack_is_judged_by_the_tokens_its_rows_carry():
    records = [token_record(T1), token_record(T2), token_record(T3)]
    rows = [{"pk": "x", "message": f"hello from /a/{T1}"}, {"pk": "y", "payload": {"nested": [T2]}}]
    result = judge(foreign(records, rows, enqueued=3))
    assert result.verdict == "FAIL" and result.lost == 1 and result.correlation == "token"
    assert "(the stack has no DLQ)" in result.reasons[0] and T3 in result.reasons[0]
    assert result.enqueued_per_request == 1


def test_a_sender_retry_that_becomes_a_second_row_is_named():
    records = [token_record(T1), token_record(T1, kind="sender-retry")]
    rows = [{"pk": "a", "m": T1}, {"pk": "b", "m": T1}]
    result = judge(foreign(records, rows, enqueued=2))
    assert result.duplicate_rows == 1 and "sender retries" in result.reasons[0]


def test_a_publisher_that_enqueues_twice_fails_even_when_the_rows_look_right():
    records = [token_record(T1), token_record(T2)]
    rows = [{"pk": "a", "m": T1}, {"pk": "b", "m": T2}]
    result = judge(foreign(records, rows, enqueued=4))
    assert result.verdict == "FAIL" and result.enqueued_per_request == 2
    assert "enqueued 4 message(s) for 2 accepted request(s)" in result.reasons[0]


def test_a_stack_that_keeps_no_token_is_counted_and_says_what_it_cannot_prove():
    records = [token_record(T1), token_record(T2), token_record(T3)]
    passed = judge(foreign(records, correlation="count", table_rows=(10, 13), enqueued=3))
    assert passed.verdict == "PASS" and passed.rows == 3 and passed.correlation == "count"
    assert any("cancel out" in gap for gap in passed.unproven)
    short = judge(foreign(records, correlation="count", table_rows=(10, 12), enqueued=3))
    assert short.verdict == "FAIL" and short.lost == 1 and "by count" in short.reasons[0]


def test_a_drained_run_whose_subscriber_never_failed_explains_missing_rows_as_colliding_ids():
    records = [token_record(T1), token_record(T2), token_record(T3)]
    drained = judge(foreign(records, correlation="count", table_rows=(0, 1), enqueued=3))
    assert drained.lost == 2 and "the stack's ids collide" in drained.reasons[0]
    failing = foreign(records, correlation="count", table_rows=(0, 1), enqueued=3)
    failing = Evidence(**{**failing.__dict__, "consumer": Consumer(2, None, 2.0, 0.0, 4.0, 0)})
    assert "ids collide" not in judge(failing).reasons[0]  # failed invocations: it cannot tell


def test_a_request_that_got_a_server_error_but_was_queued_is_neither_a_double_send_nor_a_duplicate():
    records = [token_record(T1), token_record(T2)]
    unanswered = [{"token": T3, "event": "e3", "kind": "unanswered", "status": 502, "t": 0}]
    rows = [{"pk": "a", "m": T1}, {"pk": "b", "m": T2}, {"pk": "c", "m": T3}]
    by_token = foreign(records, rows, enqueued=3)
    by_token = Evidence(**{**by_token.__dict__, "accepted": Accepted(records, unanswered)})
    assert judge(by_token).verdict == "PASS", judge(by_token).reasons
    counted = Evidence(**{**by_token.__dict__, "correlation": "count", "table_rows": (0, 3)})
    assert judge(counted).verdict == "PASS" and judge(counted).duplicate_rows == 0
    twice = Evidence(**{**by_token.__dict__, "enqueued": 4})  # more than even the unanswered one explains
    assert (
        judge(twice).verdict == "FAIL" and "+ up to 1 for requests that got a server error" in judge(twice).reasons[0]
    )


def signed_evidence(refused, refused_rows=0, replays=0) -> Evidence:
    records = [record("a", "e1")] + [record("a", "e1", kind="replay") for _ in range(replays)]
    base = evidence(records, rows=[row("a")], suppressed=replays)
    return dataclasses.replace(base, accepted=Accepted(records, refused=list(refused)), refused_rows=refused_rows)


def test_the_webhooks_answer_latency_is_summarised_from_what_the_senders_waited():
    records = [{**token_record(token), "ms": ms} for token, ms in ((T1, 10.0), (T2, 30.0), (T3, 20.0))]
    result = judge(foreign(records, [{"pk": t, "m": t} for t in (T1, T2, T3)], enqueued=3))
    assert result.answer_latency_ms["p50"] == 20.0 and result.answer_latency_ms["max"] == 30.0


def test_requests_only_ever_answered_429_are_counted_apart_never_lost_and_must_leave_no_row():
    records = [token_record(T1)]
    throttled = [{"token": T1, "event": f"e-{T1}", "kind": "throttled", "status": 429, "t": 0},
                 {"token": T2, "event": "e2", "kind": "throttled", "status": 429, "t": 0},
                 {"token": T2, "event": "e2", "kind": "throttled", "status": 429, "t": 1}]  # fmt: skip
    base = foreign(records, [{"pk": "a", "m": T1}], enqueued=1)
    result = judge(Evidence(**{**base.__dict__, "accepted": Accepted(records, [], [], throttled)}))
    assert result.verdict == "PASS" and result.lost == 0 and result.accepted == 1
    assert (result.throttled_at_gate, result.never_accepted) == (3, 1)
    queued = Evidence(**{**base.__dict__, "accepted": Accepted(records, [], [], throttled), "throttled_rows": 1})
    assert "only ever answered 429" in judge(queued).reasons[0]


def test_refused_signed_deliveries_pass_and_are_counted_and_replays_are_one_row():
    refused = [{"id": "f1", "kind": "forged", "status": 401}, {"id": "s1", "kind": "stale", "status": 401}]
    result = judge(signed_evidence(refused, replays=2))
    assert result.verdict == "PASS", result.reasons
    assert result.signed == {
        "forged": 1, "forged_accepted": 0, "stale": 1, "stale_accepted": 0, "replays": 2, "refused_rows": 0
    }  # fmt: skip
    assert result.duplicates_injected == 2 and result.rows == 1


def test_a_forged_delivery_accepted_or_written_fails_the_run():
    refused = [{"id": "f1", "kind": "forged", "status": 202}, {"id": "s1", "kind": "stale", "status": 401}]
    result = judge(signed_evidence(refused, refused_rows=1))
    assert result.verdict == "FAIL"
    assert "1 of 1 forged signed deliveries were accepted (expected 401)" in result.reasons[0]
    assert "1 row(s) carry a forged or stale delivery" in result.reasons[0]


# --- notes: what a reader must know to trust the figures ----------------------------------------------------


def test_a_backend_above_its_rate_on_burst_credit_passes_with_a_note_of_how_long_the_credit_lasts():
    load = [(0.0, 5.0), (1.0, 25.0), (2.0, 15.0)]
    credit = BackendView("dynamodb", 5.0, "write units / s", peak=25.0, errors=0, load=load, burst_window_s=300.0)
    result = judge(evidence([record("a")], rows=[row("a")], backend=credit))
    assert result.verdict == "PASS"
    (note,) = result.notes
    # 20 + 10 units beyond the rate; a full credit (5 x 300 = 1500) lasts 1500 / (25 - 5) = 75 s at the peak
    assert "survived on burst credit" in note and "drawing 30 of the 1500 units" in note and "in 75 s" in note
    hard = BackendView("postgres", 10.0, "connections", peak=10.0, errors=0)
    assert judge(evidence([record("a")], rows=[row("a")], backend=hard)).notes == []


def test_an_open_load_short_of_its_schedule_says_why_with_what_was_measured():
    from harness.evidence import Offered

    answered = [{**record(f"i{n}"), "ms": 2500.0} for n in range(10)]
    short = dataclasses.replace(
        evidence(answered, rows=[row(f"i{n}") for n in range(10)]),
        offered=Offered(offered=100, sent=80, late=30, late_max_s=4.2),
        samples=[{"t": 0, "gateway_cpu": 97.0}],
    )
    result = judge(short)
    assert result.verdict == "PASS" and result.offered == {
        "offered": 100, "sent": 80, "late": 30, "late_max_s": 4.2, "unsent": 20,
    }  # fmt: skip
    (note,) = result.notes
    assert "offered 100 webhooks on its schedule and sent 80, 30 of them over a second late (up to 4.2 s)" in note
    assert "answers p99 2500 ms" in note and "LocalStack at up to 97 % of a core" in note
    on_time = dataclasses.replace(short, offered=Offered(offered=100, sent=99, late=1))
    assert judge(on_time).notes == []


def test_a_consumer_bounded_by_the_host_ceiling_is_named_unless_its_own_throttle_bounded_it():
    def with_hits(**limits) -> Evidence:
        run = evidence([record("a")], rows=[row("a")], **limits)
        return dataclasses.replace(run, consumer=dataclasses.replace(run.consumer, host_ceiling_hits=4))

    (note,) = judge(with_hits(reserved=None, concurrency=30.0)).notes
    assert "host ceiling" in note and "in 4 second(s)" in note
    assert judge(with_hits(reserved=2, concurrency=2.0)).notes == []  # its throttle, not the machine


def saturated_run(samples, records=None, backend=None) -> Evidence:
    records = records if records is not None else [{**record(f"i{n}"), "t": 0.5 + n * 0.1} for n in range(80)]
    return dataclasses.replace(
        evidence(records, rows=[row(r["id"]) for r in records], backend=backend), load_ended=8, samples=samples
    )


def test_seconds_when_this_machine_was_the_limit_are_a_note_with_the_rate_it_let_in_not_a_failure():
    # seconds 1-3: LocalStack's gateway at its ceiling (a backlog waiting); 5-6: a Locust process (one of two)
    samples = [{"t": t, "gateway_cpu": 95.0, "visible": 40, "in_flight": 10} for t in (1, 2, 3)]
    samples += [{"t": 4, "gateway_cpu": 40.0, "visible": 5}]
    samples += [{"t": t, "locust_cpu": 120.0, "locust_cpu_busiest": 93.0, "visible": 3} for t in (5, 6)]
    result = judge(saturated_run(samples))
    assert result.verdict == "PASS"
    (note,) = result.notes
    assert "ingest was capped by this machine at ~10/s from second 1" in note
    assert "LocalStack's gateway and the load generator at its ceiling in 5 s" in note
    assert "AWS would have accepted them (10,000 requests/s per account)" in note and "rests on" not in note
    assert result.machine_limit["seconds"] == [1, 2, 3, 5, 6] and result.machine_limit["first_s"] == 1
    assert not result.machine_limit["conclusion_depends"]


def test_a_held_backend_with_an_empty_queue_while_capped_says_the_verdict_rests_on_those_seconds():
    samples = [{"t": t, "machine_cpu": 99.0, "visible": 0, "in_flight": 0} for t in (2, 3, 4)]
    held = BackendView("dynamodb", 5.0, "write units / s", peak=4.0, errors=0)
    (note,) = judge(saturated_run(samples, backend=held)).notes
    assert "every core of this machine" in note and "the queue was empty at second 2" in note
    overloaded = BackendView("dynamodb", 5.0, "write units / s", peak=9.0, errors=12)
    limit = judge(saturated_run(samples, backend=overloaded)).machine_limit
    assert limit["queue_empty_at_s"] == 2 and not limit["conclusion_depends"]  # it failed anyway


def test_a_blip_or_a_machine_with_room_is_no_limit():
    blip = [{"t": t, "gateway_cpu": 99.0} for t in (1, 2)] + [{"t": t, "gateway_cpu": 50.0} for t in (3, 4)]
    assert judge(saturated_run(blip)).machine_limit == {}
    roomy = [{"t": t, "gateway_cpu": 70.0, "locust_cpu": 60.0, "machine_cpu": 80.0} for t in range(1, 9)]
    assert judge(saturated_run(roomy)).notes == []
    after_the_load = [{"t": t, "gateway_cpu": 99.0} for t in (12, 13, 14)]  # the drain, not the ingest
    assert judge(saturated_run(after_the_load)).machine_limit == {}
    cold_starts = [{"t": t, "machine_cpu": 99.0} for t in (16, 17, 18)]  # 3 s of a 60 s load: under a tenth
    assert judge(dataclasses.replace(saturated_run(cold_starts), load_ended=60)).machine_limit == {}


def test_a_sample_held_up_by_a_swamped_machine_counts_for_every_second_it_covers():
    samples = [{"t": 2, "machine_cpu": 40.0}, {"t": 7, "machine_cpu": 99.0, "visible": 30, "in_flight": 5}]
    limit = judge(saturated_run(samples)).machine_limit
    assert limit["seconds"] == [3, 4, 5, 6, 7] and limit["by"] == ["every core of this machine"]


def soak_run(growth_per_s: float, seconds: int = 600) -> Evidence:
    run = evidence([record("a")], rows=[row("a")])
    samples = [
        {"t": t, "gateway_rss_mb": 250 + growth_per_s * t + (t % 7) * 0.3, "gateway_threads": 40 + t % 3,
         "gateway_open_files": 60, "function_processes": 8}
        for t in range(0, seconds, 10)
    ]  # fmt: skip
    return dataclasses.replace(run, shape="soak", load_ended=seconds, samples=samples)


def test_a_soak_fails_when_a_resource_grows_without_bound_on_a_fitted_slope_not_one_sample():
    flat = judge(soak_run(0.0))
    assert flat.verdict == "PASS" and [g["resource"] for g in flat.soak] == [
        "LocalStack's resident memory (MiB)", "LocalStack's threads", "LocalStack's open files", "function processes",
    ]  # fmt: skip
    assert not any(g["unbounded"] for g in flat.soak)
    leaking = judge(soak_run(0.1))  # 0.1 MiB a second: +53 MiB between the first and the last sample fitted
    assert leaking.verdict == "FAIL"
    (reason,) = [r for r in leaking.reasons if "grew without bound" in r]
    assert "LocalStack's resident memory (MiB) grew without bound over the soak: +53 in 9 min" in reason
    assert "+360 an hour" in reason
    not_a_soak = dataclasses.replace(soak_run(0.1), shape="burst")
    assert judge(not_a_soak).verdict == "PASS" and judge(not_a_soak).soak == []


def test_a_soaks_memory_is_judged_net_of_the_rows_and_log_lines_the_stack_keeps_for_it():
    growing = soak_run(0.2)
    kept = [(sample["t"], 0.2 * sample["t"]) for sample in growing.samples]  # all of it: what the run stored
    explained = judge(dataclasses.replace(growing, held_mib=kept))
    assert explained.verdict == "PASS", explained.reasons
    memory = explained.soak[0]
    assert memory["resource"] == "LocalStack's resident memory (MiB), net of what it keeps for the run"
    assert memory["kept_for_the_run"] == 106.0 and abs(memory["growth"]) < 1
    half = judge(dataclasses.replace(growing, held_mib=[(t, mib / 2) for t, mib in kept]))
    assert half.verdict == "FAIL"
    (reason,) = [r for r in half.reasons if "grew without bound" in r]
    assert "net of what it keeps for the run grew without bound over the soak: +53 in 9 min" in reason


def test_a_run_that_did_not_run_its_course_is_not_judged_and_claims_no_loss():
    from harness.rules import INCOMPLETE, not_judged

    judged = judge(evidence([record("a"), record("b")], rows=[row("a")]))
    assert judged.lost == 1
    stopped = not_judged(judged, INCOMPLETE, "the run was interrupted (Ctrl-C) at second 12", "ctrl-c")
    assert (stopped.verdict, stopped.lost, stopped.ended_by) == ("INCOMPLETE", 0, "ctrl-c")
    assert stopped.reasons == ["the run was interrupted (Ctrl-C) at second 12"] and not stopped.passed
