"""How many batches a mapping processes at once: AWS's documented SQS scaling, as a pure state machine.

- Messages available: start with ``initial_concurrency`` (5) concurrent batches, then add up to
  ``scale_up_per_minute`` (300/min) while the backlog lasts, up to ``maximum_concurrency`` (1,000).
- ``ScalingConfig.MaximumConcurrency`` of the mapping caps it further (pollers then never exceed it).
- A function error makes it back off (halve); an idle queue scales it back one per tick, down to 2 (to 5,
  or the mapping's maximum if lower, when ``MaximumConcurrency`` is set: AWS keeps that optimisation from it).
- The host ceiling caps what the emulation runs; the scaler reports when that, not AWS, is the limit.

Provisioned mode (``ProvisionedPollerConfig``, ``ProvisionedScaler``) has its own rules, below.

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
        self._start = min(config.initial_concurrency, self.ceiling)
        self._rate_per_minute = config.scale_up_per_minute
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
            self._allowance += self._rate_per_minute * elapsed / 60
            growth = int(self._allowance)
            self._allowance -= growth
            self.target = min(self.ceiling, max(self.target, self._start) + growth)
        else:
            self._allowance = 0.0
            self.target = max(self.floor, self.target - 1)
        return Decision(concurrency=min(self.target, self.config.host_ceiling), wanted=self.target)


INVOCATIONS_PER_POLLER = 10
"""AWS: in provisioned mode one SQS event poller carries up to 10 concurrent invocations (besides about
1 MB/s and 10 polls per second), docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html."""
PROVISIONED_SCALE_UP_PER_MINUTE = 1000
"""AWS: provisioned pollers scale up by up to 1,000 concurrent executions per minute, "more than three times
faster" than standard mode's 300 (aws.amazon.com/blogs/aws, provisioned mode for SQS ESM, 2025-11)."""
PROVISIONED_MAXIMUM_CONCURRENCY = 20_000
"""AWS: up to 20,000 concurrency per mapping in provisioned mode (the same announcement)."""
MINIMUM_POLLERS, MAXIMUM_POLLERS = (2, 200), (2, 10_000)
"""``ProvisionedPollerConfig`` bounds for SQS (API_ProvisionedPollerConfig): at least 2 pollers kept, at
most 200 minimum; 2-10,000 maximum. Defaults: 2 and 200."""


class ProvisionedScaler(ConcurrencyScaler):
    """Provisioned mode: ``minimum`` pollers stay ready (and poll when idle), so a backlog starts at what they
    carry at once; more are added at ``PROVISIONED_SCALE_UP_PER_MINUTE`` up to what ``maximum`` pollers
    carry. Time compression applies as in standard mode: the rate keeps its ratio to
    ``config.scale_up_per_minute``."""

    def __init__(self, config: ScalingConfig, minimum: int, maximum: int, now: float) -> None:
        super().__init__(config, None, now)
        self.ceiling = min(PROVISIONED_MAXIMUM_CONCURRENCY, maximum * INVOCATIONS_PER_POLLER)
        self.floor = min(minimum, self.ceiling)
        self.target = self.floor
        self._start = min(minimum * INVOCATIONS_PER_POLLER, self.ceiling)
        self._rate_per_minute = config.scale_up_per_minute * PROVISIONED_SCALE_UP_PER_MINUTE / 300


def scaler_for(config: ScalingConfig, esm_config: dict, now: float) -> ConcurrencyScaler:
    """The scaler a mapping's settings ask for: provisioned pollers, or standard mode (with its maximum)."""
    provisioned = esm_config.get("ProvisionedPollerConfig") or {}
    if provisioned:
        minimum = provisioned.get("MinimumPollers") or MINIMUM_POLLERS[0]
        maximum = provisioned.get("MaximumPollers") or 200
        return ProvisionedScaler(config, minimum, maximum, now)
    return ConcurrencyScaler(config, (esm_config.get("ScalingConfig") or {}).get("MaximumConcurrency"), now)


def provisioning_problem(esm_config: dict) -> str | None:
    """Why an SQS mapping's scaling settings are refused, as AWS refuses them; None when they hold."""
    provisioned = esm_config.get("ProvisionedPollerConfig") or {}
    if not provisioned:
        return None
    if (esm_config.get("ScalingConfig") or {}).get("MaximumConcurrency"):
        return (
            "ProvisionedPollerConfig and ScalingConfig.MaximumConcurrency are mutually exclusive: configure "
            "one scaling mode for the event source mapping"
        )
    minimum = provisioned.get("MinimumPollers", MINIMUM_POLLERS[0])
    maximum = provisioned.get("MaximumPollers", 200)
    if not MINIMUM_POLLERS[0] <= minimum <= MINIMUM_POLLERS[1]:
        return f"MinimumPollers must be between {MINIMUM_POLLERS[0]} and {MINIMUM_POLLERS[1]} for Amazon SQS"
    if not MAXIMUM_POLLERS[0] <= maximum <= MAXIMUM_POLLERS[1]:
        return f"MaximumPollers must be between {MAXIMUM_POLLERS[0]} and {MAXIMUM_POLLERS[1]:,} for Amazon SQS"
    if minimum > maximum:
        return "MinimumPollers must be less than or equal to MaximumPollers"
    return None
