"""Lambda's log shipping in batches, written straight into CloudWatch Logs' state in this process.

LocalStack's ``LogHandler`` ships each invocation's lines with a PutLogEvents of their own through its
internal client, a large share of the gateway's busy time under a webhook load (docs/performance.md
has the profile). This one waits up to ``BATCH_WINDOW_S`` after an invocation's lines
arrive for more, then writes each stream's lines in the order they came, each stamped with the time
the invocation handed them over (stock stamps the time of shipping). Lines still reach CloudWatch Logs
well within a second.

Even batched, a PutLogEvents per stream through the internal client is serialised, signed, sent through
the handler chain and parsed again by moto. ``StateWriter`` ends where that request ends, in
LocalStack's CloudWatch Logs backend (the same validation, and LocalStack's subscription-filter
delivery), without the round trip. Only when the account has metric filters, which LocalStack's Logs
provider applies on its PutLogEvents, do the lines still go through the service (``ServiceWriter``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from localstack.aws.connect import connect_to
from localstack.services.lambda_.invocation.logs import QUEUE_SHUTDOWN, LogHandler, LogItem
from localstack.services.logs.models import get_moto_logs_backend
from localstack.services.plugins import SERVICE_PLUGINS
from localstack.utils.aws.arns import extract_account_id_from_arn
from localstack.utils.aws.client_types import ServicePrincipal
from localstack.utils.bootstrap import is_api_enabled

LOG = logging.getLogger(__name__)

BATCH_WINDOW_S = 0.5
MAX_ITEMS = 1000
"""Invocations per batch: a backlog is shipped in several batches, never held back."""
MAX_EVENTS = 10_000
MAX_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
"""PutLogEvents' limits: 10,000 events and 1 MiB per call, each event counting its message + 26 bytes."""

Stamped = tuple[LogItem, int]


def log_events(batch: list[Stamped]) -> dict[tuple[str, str], list[dict]]:
    """Each stream's events in the order their invocations finished; empty lines dropped as stock does."""
    streams: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item, timestamp_ms in batch:
        streams[(item.log_group, item.log_stream)].extend(
            {"timestamp": timestamp_ms, "message": line + "\n"} for line in item.logs.split("\n") if line
        )
    return streams


def chunks(events: list[dict]) -> list[list[dict]]:
    """Split into PutLogEvents calls within the service's count and size limits."""
    calls: list[list[dict]] = [[]]
    size = 0
    for event in events:
        event_size = len(event["message"].encode()) + EVENT_OVERHEAD_BYTES
        if calls[-1] and (len(calls[-1]) == MAX_EVENTS or size + event_size > MAX_BYTES):
            calls.append([])
            size = 0
        calls[-1].append(event)
        size += event_size
    return [call for call in calls if call]


class LogWriter(Protocol):
    def put(self, group: str, stream: str, events: list[dict]) -> None: ...


class ServiceWriter:
    """Through LocalStack's CloudWatch Logs service, as stock ships: the group and stream created on the way."""

    def __init__(self, logs_client) -> None:
        self.client = logs_client

    def put(self, group: str, stream: str, events: list[dict]) -> None:
        client = self.client
        try:
            client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except client.exceptions.ResourceNotFoundException:
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                client.create_log_group(logGroupName=group)
            client.create_log_stream(logGroupName=group, logStreamName=stream)
            client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


_creating = threading.Lock()
"""Shipping threads of several versions of one function share its log group."""


class StateWriter:
    """Into LocalStack's CloudWatch Logs backend of the function's account and region, where the service's
    PutLogEvents ends; through the service while the account has metric filters (its provider applies them)."""

    def __init__(self, account_id: str, region: str, service: Callable[[], LogWriter]) -> None:
        self.account_id, self.region = account_id, region
        self._service = service

    @functools.cached_property
    def _through_service(self) -> LogWriter:
        return self._service()  # made on first need: it assumes the function's role

    def put(self, group: str, stream: str, events: list[dict]) -> None:
        backend = get_moto_logs_backend(self.account_id, self.region)
        if backend.filters.metric_filters:
            self._through_service.put(group, stream, events)
            return
        with _creating:
            if group not in backend.groups:
                try:
                    backend.create_log_group(group, tags={})
                except Exception:
                    if group not in backend.groups:  # not a CreateLogGroup call of the user's just before
                        raise
            backend.ensure_log_stream(group, stream)
        backend.put_log_events(group, stream, events)


class BatchingLogHandler(LogHandler):
    def add_logs(self, log_item: LogItem) -> None:
        if is_api_enabled("logs"):
            self.log_queue.put((log_item, int(time.time() * 1000)))

    def run_log_loop(self, *args, **kwargs) -> None:
        account_id = extract_account_id_from_arn(self.role_arn)
        if account_id and is_api_enabled("logs"):
            SERVICE_PLUGINS.require("logs")  # its provider's module sets up the backend's subscription delivery
            writer: LogWriter = StateWriter(account_id, self.region, self._service_writer)
        else:
            writer = self._service_writer()
        self.ship_until_stopped(writer)

    def _service_writer(self) -> ServiceWriter:
        return ServiceWriter(
            connect_to.with_assumed_role(
                region_name=self.region, role_arn=self.role_arn, service_principal=ServicePrincipal.lambda_
            ).logs
        )

    def ship_until_stopped(self, writer: LogWriter) -> None:
        stopping = False
        while not stopping and not self._shutdown_event.is_set():
            batch, stopping = self._next_batch()
            for (group, stream), events in log_events(batch).items():
                for call in chunks(events):
                    try:
                        writer.put(group, stream, call)
                    except Exception as error:  # as stock: a failed shipment is logged, the next one still goes
                        LOG.warning("Error saving logs to group %s in region %s: %s", group, self.region, error)

    def _next_batch(self) -> tuple[list[Stamped], bool]:
        """What arrives within the window after the first item; True once the handler is told to stop."""
        first = self.log_queue.get()
        if first is QUEUE_SHUTDOWN:
            return [], True
        batch = [first]
        deadline = time.monotonic() + BATCH_WINDOW_S
        while len(batch) < MAX_ITEMS:
            try:
                item = self.log_queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is QUEUE_SHUTDOWN:
                return batch, True
            batch.append(item)
        return batch, False


class BatchedLogVersions(dict):
    """``LambdaService.lambda_starting_versions``: each version manager stored here (created, not yet
    started) ships its logs in batches."""

    def __setitem__(self, qualified_arn, version_manager) -> None:
        handler = version_manager.log_handler
        if type(handler) is LogHandler:
            version_manager.log_handler = BatchingLogHandler(handler.role_arn, handler.region)
        super().__setitem__(qualified_arn, version_manager)
