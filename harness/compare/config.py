"""Settings of `harness compare` (`make compare`) beside the load's: which consumer variants run."""

from __future__ import annotations

from dataclasses import dataclass

from harness.settings import SettingsGroup, option


@dataclass(frozen=True)
class CompareSettings(SettingsGroup):
    title = "compare"

    variants: str = option(
        "",
        "the variants, e.g. reserved=1,reserved=2,maximum=2,reserved=2+maximum=2,none, or the way in: "
        "ingress=function,ingress=direct (the topology's throttle), reserved=2+ingress=direct "
        "(empty: reserved and MaximumConcurrency at the topology's limit, and no throttle)",
    )
