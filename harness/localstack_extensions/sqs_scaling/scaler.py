"""How many batches a mapping processes at once: AWS's documented SQS scaling, as a pure state machine.

- Messages available: start with ``initial_concurrency`` (5) concurrent batches, then add up to
  ``scale_up_per_minute`` (300/min) while the backlog lasts, up to ``maximum_concurrency`` (1,000).
- ``ScalingConfig.MaximumConcurrency`` of the mapping caps it further (pollers then never exceed it).
- A function error makes it back off (halve); an idle queue scales it back one per tick, down to 2 (to 5,
  or the mapping's maximum if lower, when ``MaximumConcurrency`` is set: AWS keeps that optimisation from it).
- The host ceiling caps what the emulation runs; the scaler reports when that, not AWS, is the limit.

Time is passed in, so tests drive it without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ScalingConfig


@dataclass
class Decision:
    concurrency: int
    """Pollers to run now."""
    wanted: int
    """What AWS would run; above ``concurrency`` when the host ceiling is the limit."""

    @property
    def host_limited(self) -> bool:
        return self.wanted > self.concurrency


class ConcurrencyScaler:
    def __init__(self, config: ScalingConfig, mapping_maximum: int | None, now: float) -> None:
        self.config = config
        self.ceiling = min(config.maximum_concurrency, mapping_maximum or config.maximum_concurrency)
        # AWS: low traffic scales back to five concurrent batches and may go down to two, "however, this
        # optimization is not available when you enable the maximum concurrency setting"
        # (docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
        idle = config.idle_concurrency if mapping_maximum is None else config.initial_concurrency
        self.floor = min(idle, self.ceiling)
        self.target = self.floor
        self._allowance = 0.0
        self._last = now

    def update(self, now: float, backlog: bool, function_errors: int = 0) -> Decision:
        elapsed, self._last = max(0.0, now - self._last), now
        if function_errors:
            self.target = max(self.floor, self.target // 2)
            self._allowance = 0.0
        elif backlog:
            start = min(self.config.initial_concurrency, self.ceiling)
            self._allowance += self.config.scale_up_per_minute * elapsed / 60
            growth = int(self._allowance)
            self._allowance -= growth
            self.target = min(self.ceiling, max(self.target, start) + growth)
        else:
            self._allowance = 0.0
            self.target = max(self.floor, self.target - 1)
        return Decision(concurrency=min(self.target, self.config.host_ceiling), wanted=self.target)
