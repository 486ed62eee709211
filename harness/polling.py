"""The one way the harness waits: poll a reading until it is good, with a deadline and progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from harness.exceptions import HarnessError

T = TypeVar("T")


class DeadlineExceeded(HarnessError):
    """A wait ran out of time; the message says what was awaited and what to do."""


def poll(
    read: Callable[[], T],
    until: Callable[[T], bool] = bool,
    *,
    timeout_s: float,
    interval_s: float = 0.2,
    what: str = "condition",
    failure: Callable[[T], str] | None = None,
    progress: Callable[[T, float], None] | None = None,
    progress_every_s: float = 2.0,
    settle: bool = False,
) -> T:
    """Call ``read`` until ``until(value)``; that value.

    Past ``timeout_s``: DeadlineExceeded with ``failure(last value)`` (or "timed out ... waiting for
    ``what``"), or with ``settle=True`` the last value, for readings that may legitimately fall short.
    ``progress(value, elapsed_s)`` is called every ``progress_every_s`` while waiting.
    """
    started = time.monotonic()
    next_note = started + progress_every_s
    while True:
        value = read()
        if until(value):
            return value
        now = time.monotonic()
        if now - started >= timeout_s:
            if settle:
                return value
            message = failure(value) if failure else f"timed out after {timeout_s:g}s waiting for {what}"
            raise DeadlineExceeded(message)
        if progress is not None and now >= next_note:
            progress(value, now - started)
            next_note += progress_every_s
        time.sleep(min(interval_s, max(0.0, started + timeout_s - now)))


def wait_until(
    condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.1, what: str = "condition"
) -> None:
    """Poll ``condition`` until true; DeadlineExceeded after ``timeout_s`` (never a blind sleep)."""
    poll(condition, timeout_s=timeout_s, interval_s=interval_s, what=what)
