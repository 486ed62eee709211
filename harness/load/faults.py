"""Fault injection for a load run: switched on before the load, removed after it.

Backend faults (an outage, a share of failing writes) are injected in the backend itself — the DynamoDB
table answers errors, PostgreSQL refuses and drops connections — so they judge any subscriber, a user's
own included. A process crash and SQS failing the publisher are set in those functions' environment.
Times in the settings are seconds into the load; everything receives absolute windows, so every
execution environment agrees on when the outage is. Each fault is recorded for the report.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from harness import backend
from harness.load.config import LoadSettings
from harness.outputs import Outputs

FAULT_VARIABLES = (
    "FAULT_CRASH_AFTER_MS",
    "FAULT_CRASH_MARKER",
    "FAULT_QUEUE_OUTAGE_WINDOW_MS",
)


@dataclass(frozen=True)
class Fault:
    what: str
    function: str
    from_s: float | None
    to_s: float | None

    def describe(self) -> str:
        when = "for the whole load" if self.from_s is None else f"at {self.from_s:g}s"
        if self.to_s is not None:
            when = f"from {self.from_s:g}s to {self.to_s:g}s"
        return f"{self.what} ({self.function}) {when}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def planned(settings: LoadSettings, outputs: Outputs) -> list[Fault]:
    faults = []
    backend = f"{outputs.backend} {outputs.table_name}"
    if settings.fault_outage_after_s is not None:
        start = settings.fault_outage_after_s
        faults.append(Fault("backend outage", backend, start, start + settings.fault_outage_duration_s))
    if settings.fault_error_rate:
        faults.append(Fault(f"{settings.fault_error_rate:.0%} of writes fail", backend, None, None))
    if settings.fault_crash_after_s is not None:
        faults.append(Fault("process crash mid-batch", outputs.subscriber_name, settings.fault_crash_after_s, None))
    if settings.fault_queue_outage_after_s is not None:
        start = settings.fault_queue_outage_after_s
        faults.append(
            Fault(
                "SQS unavailable to the publisher",
                outputs.publisher_name,
                start,
                start + settings.fault_queue_outage_duration_s,
            )
        )
    if settings.poison_share:
        faults.append(Fault(f"{settings.poison_share:.0%} poisoned requests", outputs.subscriber_name, None, None))
    return faults


def _variables(settings: LoadSettings, origin: float, marker: str) -> dict[str, dict[str, str]]:
    """Environment additions per function role, windows in epoch ms from ``origin`` (epoch s)."""

    def at(seconds: float) -> str:
        return str(int((origin + seconds) * 1000))

    subscriber, publisher = {}, {}
    if settings.fault_crash_after_s is not None:
        subscriber["FAULT_CRASH_AFTER_MS"] = at(settings.fault_crash_after_s)
        subscriber["FAULT_CRASH_MARKER"] = marker
    if settings.fault_queue_outage_after_s is not None:
        start = settings.fault_queue_outage_after_s
        publisher["FAULT_QUEUE_OUTAGE_WINDOW_MS"] = f"{at(start)},{at(start + settings.fault_queue_outage_duration_s)}"
    return {"subscriber": subscriber, "publisher": publisher}


@contextlib.contextmanager
def injected(
    settings: LoadSettings, outputs: Outputs, client: Callable[[str], Any], origin: float, marker: str
) -> Iterator[None]:
    """Faults on for the block (the load and its drain), then the backend and the functions as they were."""
    outage = None
    if settings.fault_outage_after_s is not None:
        start = origin + settings.fault_outage_after_s
        outage = (start, start + settings.fault_outage_duration_s)
    with (
        backend.faults(outputs, client, outage, settings.fault_error_rate),
        _in_functions(settings, outputs, client("lambda"), origin, marker),
    ):
        yield


@contextlib.contextmanager
def _in_functions(
    settings: LoadSettings, outputs: Outputs, lambda_client: Any, origin: float, marker: str
) -> Iterator[None]:
    additions = _variables(settings, origin, marker)
    names = {"subscriber": outputs.subscriber_name, "publisher": outputs.publisher_name}
    changed = []
    try:
        for role, variables in additions.items():
            if variables:
                _update_environment(lambda_client, names[role], variables)
                changed.append(names[role])
        yield
    finally:
        for name in changed:
            _update_environment(lambda_client, name, {})


def _update_environment(lambda_client: Any, name: str, additions: dict[str, str]) -> None:
    current = lambda_client.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
    variables = {k: v for k, v in current.items() if k not in FAULT_VARIABLES} | additions
    lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
