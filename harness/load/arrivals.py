"""An open-model load: webhooks arrive on a schedule fixed by the seed, whatever the system answers.

Locust's users are a closed model: each ``constant_throughput`` user waits for its answer before its next
request, so a slower system is sent fewer requests, and two designs compared under "the same load" get
different loads. Webhook senders do not wait for each other: arrivals follow the shape's rate
(``users x user_rps`` requests per second in each stage) as a Poisson process (exponential gaps, as
independent senders give), the same for every run with one seed, like k6's arrival-rate executors. The
shape's peak users are the senders that carry it (as many at once as a closed run has, so the machine is
loaded alike); an arrival none of them is free for is sent late, as soon as one is, never skipped: the load
goes on past its duration until every arrival is sent (up to ``CATCH_UP`` times the duration), and one still
unsent then was offered but never sent. Both are counted.

Pure functions of the settings, used by the locustfile (which sends them) and by the harness (which counts
what was offered).
"""

from __future__ import annotations

import random

from harness.load.shapes import Shape

ARRIVALS = ("closed", "open")
CATCH_UP = 2.0
"""Senders behind the schedule keep sending until every arrival is sent, up to this many times the duration."""
LATE_S = 1.0
"""An arrival sent this much after its time is late: every sender was still waiting for an answer."""


def arrival_times(shape: Shape, user_rps: float, seed: int) -> list[float]:
    """Seconds since the load started at which each webhook arrives."""
    generator = random.Random(seed)
    times: list[float] = []
    start = 0.0
    for stage in shape.stages:
        rate = stage.users * user_rps
        t = start
        while rate > 0:
            t += generator.expovariate(rate)
            if t >= stage.until_s:
                break
            times.append(t)
        start = stage.until_s
    return times


def pool_size(shape: Shape, senders: int) -> int:
    """``senders`` when set; else the shape's peak users (the concurrency of a closed run of the same shape)."""
    return senders or max(stage.users for stage in shape.stages)


def share(times: list[float], index: int, processes: int) -> list[float]:
    """The arrivals one of ``processes`` Locust processes sends (every ``processes``-th, from ``index``)."""
    return times[index::processes] if processes > 1 else times
