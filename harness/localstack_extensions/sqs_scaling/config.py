"""Scaling settings, read from the LocalStack process's environment (defaults: AWS's numbers).

The harness sets these from its own settings; in a LocalStack Docker image set them in the container.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

INITIAL_VARIABLE = "HARNESS_ESM_INITIAL_CONCURRENCY"
SCALE_UP_VARIABLE = "HARNESS_ESM_SCALE_UP_PER_MINUTE"
MAXIMUM_VARIABLE = "HARNESS_ESM_MAXIMUM_CONCURRENCY"
HOST_CEILING_VARIABLE = "HARNESS_MAX_CONCURRENT_ENVIRONMENTS"
ENVIRONMENT_MEMORY_MB = 60
"""Resident memory of one busy execution environment (a Python process with boto3), for the ceiling."""


def default_host_ceiling() -> int:
    """Concurrent environments this machine can hold: a quarter of its memory, ENVIRONMENT_MEMORY_MB each."""
    try:
        memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError, AttributeError):
        memory_mb = 4096
    return max(2, min(1000, memory_mb // 4 // ENVIRONMENT_MEMORY_MB))


@dataclass(frozen=True)
class ScalingConfig:
    initial_concurrency: int = 5
    """Concurrent batches when messages become available (AWS: 5)."""
    scale_up_per_minute: float = 300
    """Concurrent invocations added per minute while the backlog lasts (AWS: 300)."""
    maximum_concurrency: int = 1000
    """Upper bound per mapping (AWS: 1,000)."""
    idle_concurrency: int = 2
    """Pollers kept when the queue is idle (AWS scales back down to 2)."""
    host_ceiling: int = 100
    """Concurrent environments this machine may run: beyond it the emulation is capped, and says so."""
    tick_s: float = 1.0
    throttle_backoff_initial_s: float = 0.1
    throttle_backoff_max_s: float = 1.0

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> ScalingConfig:
        environ = os.environ if environ is None else environ

        def number(name: str, default: float, kind: type = int) -> float:
            raw = environ.get(name, "").strip()
            return kind(raw) if raw else default

        return cls(
            initial_concurrency=number(INITIAL_VARIABLE, 5),
            scale_up_per_minute=number(SCALE_UP_VARIABLE, 300, float),
            maximum_concurrency=number(MAXIMUM_VARIABLE, 1000),
            host_ceiling=number(HOST_CEILING_VARIABLE, default_host_ceiling()),
        )
