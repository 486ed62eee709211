"""Lambda's log shipping in batches: one PutLogEvents per log stream and batch, not per invocation.

LocalStack's ``LogHandler`` ships each invocation's lines with a PutLogEvents of their own through its
internal client: ~20 % of the gateway's busy time under a webhook ingest load. This one waits up to
``BATCH_WINDOW_S`` after an invocation's lines arrive for more, then writes each stream's lines in the
order they came, each stamped with the time the invocation handed them over (stock stamps the time of
shipping). Lines still reach CloudWatch Logs well within a second.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from collections import defaultdict

from localstack.aws.connect import connect_to
from localstack.services.lambda_.invocation.logs import QUEUE_SHUTDOWN, LogHandler, LogItem
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


class BatchingLogHandler(LogHandler):
    def add_logs(self, log_item: LogItem) -> None:
        if is_api_enabled("logs"):
            self.log_queue.put((log_item, int(time.time() * 1000)))

    def run_log_loop(self, *args, **kwargs) -> None:
        logs_client = connect_to.with_assumed_role(
            region_name=self.region, role_arn=self.role_arn, service_principal=ServicePrincipal.lambda_
        ).logs
        self.ship_until_stopped(logs_client)

    def ship_until_stopped(self, logs_client) -> None:
        stopping = False
        while not stopping and not self._shutdown_event.is_set():
            batch, stopping = self._next_batch()
            for (group, stream), events in log_events(batch).items():
                for call in chunks(events):
                    self._put(logs_client, group, stream, call)

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

    def _put(self, logs_client, group: str, stream: str, events: list[dict]) -> None:
        try:
            try:
                logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
            except logs_client.exceptions.ResourceNotFoundException:
                with contextlib.suppress(logs_client.exceptions.ResourceAlreadyExistsException):
                    logs_client.create_log_group(logGroupName=group)
                logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
                logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        except Exception as error:  # as stock: a failed shipment is logged, the next one still goes
            LOG.warning("Error saving logs to group %s in region %s: %s", group, self.region, error)


class BatchedLogVersions(dict):
    """``LambdaService.lambda_starting_versions``: each version manager stored here (created, not yet
    started) ships its logs in batches."""

    def __setitem__(self, qualified_arn, version_manager) -> None:
        handler = version_manager.log_handler
        if type(handler) is LogHandler:
            version_manager.log_handler = BatchingLogHandler(handler.role_arn, handler.region)
        super().__setitem__(qualified_arn, version_manager)
