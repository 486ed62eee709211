"""Settings of `harness compare` (`make compare`) beside the load's: which consumer variants run."""

from __future__ import annotations

from dataclasses import dataclass

from harness.settings import SettingsGroup, option


@dataclass(frozen=True)
class CompareSettings(SettingsGroup):
    title = "compare"

    variants: str = option(
        "",
        "the variants (designs), e.g. reserved=1,reserved=2,maximum=2,reserved=2+maximum=2,none; proxy (RDS Proxy, "
        "unthrottled unless combined: proxy+reserved=4), provisioned=2-20 (provisioned pollers), the way in: "
        "ingress=function,ingress=direct (the topology's throttle); or designs (the reference's throttle, "
        "MaximumConcurrency, RDS Proxy alone and throttled, nothing; HARNESS_BACKEND=postgres) "
        "(empty: reserved and MaximumConcurrency at the topology's limit, and no throttle)",
    )
