"""Fault injection for a load run: switched on before the load, removed after it.

Backend faults (an outage, a share of failing writes) are injected in the backend itself — the DynamoDB
table answers errors, PostgreSQL refuses and drops connections — so they judge any subscriber, a user's
own included. A process crash is done by the embedded stack's Lambda executor, SQS failing the publisher by
its SQS (the queue's tag; both sides read the names in ``harness.localstack_extensions.contract``):
neither needs the functions' cooperation, so they apply to a user's own stack too. Times in the settings
are seconds into the load; everything receives absolute windows, so every execution environment agrees
on when the outage is. Each fault is recorded for the report.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from harness.backend import Backend
from harness.evidence import Fault
from harness.lambda_admin import update_environment
from harness.load.config import LoadSettings
from harness.localstack_extensions.contract import CRASH_VARIABLES, SEND_OUTAGE_TAG
from harness.outputs import Outputs


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


@contextlib.contextmanager
def injected(
    settings: LoadSettings, outputs: Outputs, client: Callable[[str], Any], backend: Backend, origin: float
) -> Iterator[None]:
    """Faults on for the block (the load and its drain), then the backend, the queue and the subscriber as they
    were. Each is injected outside the functions' code, so it applies to any publisher and subscriber."""
    outage = None
    if settings.fault_outage_after_s is not None:
        start = origin + settings.fault_outage_after_s
        outage = (start, start + settings.fault_outage_duration_s)
    with (
        backend.faults(outputs.table_name, outage, settings.fault_error_rate),
        _queue_outage(settings, outputs, client("sqs"), origin),
        _crash(settings, outputs, client("lambda"), origin),
    ):
        yield


@contextlib.contextmanager
def _queue_outage(settings: LoadSettings, outputs: Outputs, sqs: Any, origin: float) -> Iterator[None]:
    if settings.fault_queue_outage_after_s is None:
        yield
        return
    start = origin + settings.fault_queue_outage_after_s
    window = f"{int(start * 1000)},{int((start + settings.fault_queue_outage_duration_s) * 1000)}"
    sqs.tag_queue(QueueUrl=outputs.queue_url, Tags={SEND_OUTAGE_TAG: window})
    try:
        yield
    finally:
        sqs.untag_queue(QueueUrl=outputs.queue_url, TagKeys=[SEND_OUTAGE_TAG])


@contextlib.contextmanager
def _crash(settings: LoadSettings, outputs: Outputs, lambda_client: Any, origin: float) -> Iterator[None]:
    if settings.fault_crash_after_s is None:
        yield
        return
    at_ms = int((origin + settings.fault_crash_after_s) * 1000)
    additions = dict(zip(CRASH_VARIABLES, (str(at_ms), str(settings.fault_crash_delay_ms)), strict=True))
    _update_environment(lambda_client, outputs.subscriber_name, additions)
    try:
        yield
    finally:
        _update_environment(lambda_client, outputs.subscriber_name, {})


def _update_environment(lambda_client: Any, name: str, additions: dict[str, str]) -> None:
    update_environment(
        lambda_client, name, lambda current: {k: v for k, v in current.items() if k not in CRASH_VARIABLES} | additions
    )
