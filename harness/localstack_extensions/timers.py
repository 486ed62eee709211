"""Timers without a thread each: LocalStack's execution environments time their keep-alive with them.

LocalStack arms a ``threading.Timer`` for an environment's keep-alive every time an invocation ends and
cancels it when the next begins: a thread started (``Thread.start`` waits until the new thread runs,
a hand-over of the GIL) and ended per invocation, to wait ten minutes that almost never pass.
``SharedTimer`` has ``threading.Timer``'s ``start`` and ``cancel``; one thread keeps every deadline,
and a timer that fires runs its function on a thread of its own, as ``threading.Timer`` does. Timers
are handed to that thread through a deque (``append`` is one step under the GIL, no lock, no wake-up),
which it takes in every ``TICK_S``: a timer fires up to that much after its interval.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

TICK_S = 0.25
"""How often the timers' thread takes new timers and fires those due."""


class SharedTimer:
    """``threading.Timer(interval, function, args, kwargs)``: ``start()`` once, ``cancel()`` any time."""

    def __init__(
        self,
        interval: float,
        function: Callable[..., Any],
        args: Any = None,
        kwargs: dict[str, Any] | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.interval, self.function = interval, function
        self.args, self.kwargs = args or (), kwargs or {}
        self.timers = timers or TIMERS
        self.deadline: float | None = None
        self.cancelled = False

    def start(self) -> None:
        if self.deadline is not None:
            raise RuntimeError("timers can only be started once")  # as threads (and threading.Timer) say
        self.deadline = time.monotonic() + self.interval
        self.timers.add(self)

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        threading.Thread(
            target=self.function, args=self.args, kwargs=self.kwargs, name="shared-timer-fired", daemon=True
        ).start()


class Timers:
    """The deadlines of every started ``SharedTimer``, kept by one daemon thread started with the first."""

    def __init__(self, tick_s: float = TICK_S) -> None:
        self.tick_s = tick_s
        self._added: collections.deque[SharedTimer] = collections.deque()
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, timer: SharedTimer) -> None:
        self._added.append(timer)
        if self._thread is None:
            with self._starting:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._keep, name="shared-timers", daemon=True)
                    self._thread.start()

    def _keep(self) -> None:
        waiting: list[SharedTimer] = []
        while True:
            time.sleep(self.tick_s)
            waiting = self.fire_due(waiting, time.monotonic())

    def fire_due(self, waiting: list[SharedTimer], now: float) -> list[SharedTimer]:
        """Take the timers added since, forget the cancelled, fire those due (earliest first, ties in the
        order started); what still waits."""
        while self._added:
            waiting.append(self._added.popleft())
        live = [timer for timer in waiting if not timer.cancelled]
        for timer in sorted((timer for timer in live if timer.deadline <= now), key=lambda timer: timer.deadline):
            timer.fire()
        return [timer for timer in live if timer.deadline > now]


TIMERS = Timers()
