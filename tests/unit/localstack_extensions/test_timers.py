"""Timers kept by one thread: they fire after their interval, on a thread of their own, unless cancelled."""

from __future__ import annotations

import threading

import pytest

from harness.localstack_extensions.timers import SharedTimer, Timers
from harness.polling import poll


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict, str]] = []
        self.fired = threading.Event()

    def __call__(self, name: str, *args, **kwargs) -> None:
        self.calls.append((name, args, kwargs, threading.current_thread().name))
        self.fired.set()


def test_due_timers_fire_in_deadline_order_and_cancelled_or_later_ones_do_not():
    timers, fired = Timers(), []
    made = {
        name: SharedTimer(interval, fired.append, args=(name,), timers=timers)
        for name, interval in (("late", 600.0), ("second", 2.0), ("first", 1.0), ("cancelled", 0.5))
    }
    for timer in made.values():
        timer.start()
        timer.fire = lambda timer=timer: timer.function(*timer.args)  # here, not on a thread: order observable
    made["cancelled"].cancel()
    start = made["late"].deadline - 600.0
    waiting = timers.fire_due([], start + 0.1)
    assert fired == [] and len(waiting) == 3  # nothing due; the cancelled one forgotten
    waiting = timers.fire_due(waiting, start + 5.0)
    assert fired == ["first", "second"] and waiting == [made["late"]]
    made["late"].cancel()
    assert timers.fire_due(waiting, start + 700.0) == [] and fired == ["first", "second"]


def test_a_started_timer_fires_on_a_thread_of_its_own_with_its_arguments():
    recorder = Recorder()
    timers = Timers(tick_s=0.01)
    SharedTimer(0.02, recorder, args=("keepalive",), kwargs={"environment": "e-1"}, timers=timers).start()
    assert recorder.fired.wait(10)
    ((name, args, kwargs, thread),) = recorder.calls
    assert (name, args, kwargs) == ("keepalive", (), {"environment": "e-1"}) and thread == "shared-timer-fired"


def test_a_timer_cancelled_before_its_deadline_never_fires_and_starts_once():
    recorder = Recorder()
    timers = Timers(tick_s=0.01)
    cancelled = SharedTimer(0.05, recorder, args=("cancelled",), timers=timers)
    cancelled.start()
    cancelled.cancel()
    later = SharedTimer(0.1, recorder, args=("later",), timers=timers)  # fires after the cancelled one's deadline
    later.start()
    assert recorder.fired.wait(10)
    poll(lambda: recorder.calls, lambda calls: len(calls) >= 1, timeout_s=10, interval_s=0.01)
    assert [call[0] for call in recorder.calls] == ["later"]
    with pytest.raises(RuntimeError):
        later.start()
