"""Load shapes as (users, spawn rate) over time. Pure functions of the run time, used by Locust's
LoadTestShape in locustfiles/webhook.py and by tests.

- steady: ``users`` for the whole duration.
- burst: quiet (a tenth of the users) for 20 %, a spike to ``users`` for 30 %, quiet again until the
  end: far above the consumer's drain rate, so a backlog builds during the spike and drains after it.
- soak: half the users for the whole (long) duration.
"""

from __future__ import annotations

from dataclasses import dataclass

SOAK = "soak"
"""The shape whose run is judged on the emulator's resources too (``harness.rules``)."""
SHAPES = ("steady", "burst", SOAK)


@dataclass(frozen=True)
class Stage:
    until_s: float
    users: int


@dataclass(frozen=True)
class Shape:
    name: str
    stages: tuple[Stage, ...]
    spawn_rate: float

    def at(self, run_time_s: float) -> tuple[int, float] | None:
        """(users, spawn rate) at this moment of the run; None once it is over."""
        for stage in self.stages:
            if run_time_s < stage.until_s:
                return stage.users, self.spawn_rate
        return None

    @property
    def duration_s(self) -> float:
        return self.stages[-1].until_s


def shape_for(name: str, users: int, spawn_rate: float, duration_s: float) -> Shape:
    quiet = max(1, users // 10)
    if name == "steady":
        stages = (Stage(duration_s, users),)
    elif name == "burst":
        stages = (Stage(duration_s * 0.2, quiet), Stage(duration_s * 0.5, users), Stage(duration_s, quiet))
    elif name == "soak":
        stages = (Stage(duration_s, max(1, users // 2)),)
    else:
        raise ValueError(f"unknown shape {name!r}: expected steady, burst or soak")
    return Shape(name, stages, spawn_rate)
