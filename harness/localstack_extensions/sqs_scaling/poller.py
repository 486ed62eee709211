"""A mapping's SQS poller as a bounded pool of concurrent pollers, sized by the scaler.

LocalStack's ``EsmWorker`` calls ``poll_events`` in a loop: here each call is one scaler tick (read the
queue's depth, decide the concurrency, start or retire poller threads), and the batches are received
and delivered by those threads. Delivery reuses LocalStack's own ``SqsPoller.handle_messages``
(filters, FIFO groups, partial batch responses, deletes); what changes is around the invocation:

- a throttled invocation (TooManyRequestsException) is retried with backoff until the batch's
  visibility timeout is about to lapse; then the messages are left to reappear, costing one receive
  each — past maxReceiveCount they move to the DLQ although the function never failed ("overpull");
- function errors make the scaler back off.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError
from localstack.aws.api.sqs import MessageSystemAttributeName
from localstack.services.lambda_.event_source_mapping.event_processor import BatchFailureError
from localstack.services.lambda_.event_source_mapping.pollers.sqs_poller import (
    DEFAULT_MAX_RECEIVE_COUNT,
    DEFAULT_MAX_WAIT_TIME_SECONDS,
    SqsPoller,
    split_by_message_group_id,
)
from localstack.services.lambda_.event_source_mapping.senders.sender import SenderError
from localstack.utils.aws.arns import parse_arn

from ..metrics import LAMBDA_METRICS
from .config import ScalingConfig
from .scaler import scaler_for

LOG = logging.getLogger(__name__)
IDLE_LONG_POLL_S = 5
"""Without a batching window, pollers long-poll (returning as soon as a message arrives), as AWS's do:
an idle mapping costs the gateway one receive per poller every few seconds, not a stream of short polls."""
VISIBILITY_MARGIN_S = 1.0


class ThrottledBatch(SenderError):
    """Throttled until the visibility timeout was about to lapse: the batch is left to reappear."""


class _ThrottleRetryingSender:
    """Wraps LocalStack's Lambda sender: retries throttled invocations within the batch's deadline.

    Giving up raises a SenderError, which LocalStack's processor turns into a BatchFailureError
    quietly; the poller tells it from a function error by its cause.
    """

    def __init__(self, inner: Any, poller: ScalingSqsPoller) -> None:
        self.inner = inner
        self.poller = poller

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def send_events(self, events: Any) -> Any:
        deadline = self.poller.batch_deadline()
        backoff = self.poller.config.throttle_backoff_initial_s
        while True:
            try:
                return self.inner.send_events(events)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code == "TooManyRequestsException":
                    self.poller.record_throttle()
                elif status >= 500:
                    # The service failed before the function ran (e.g. a transient LocalStack error):
                    # retried like a throttle, as Lambda retries its own errors.
                    LOG.warning("Invoke of %s failed in the service, retrying: %s", self.target_arn, error)
                else:
                    raise
            if time.monotonic() + backoff >= deadline:
                raise ThrottledBatch("throttled until the visibility timeout", error={"throttled": True})
            if self.poller.stopped.wait(backoff):
                # The mapping was updated, disabled or deleted: this poller's rules are over. The batch is
                # left to reappear after its visibility timeout, for the pollers of the mapping as it is now.
                raise ThrottledBatch("the mapping changed while the batch was throttled", error={"throttled": True})
            backoff = min(backoff * 2, self.poller.config.throttle_backoff_max_s)


class ScalingSqsPoller(SqsPoller):
    config: ScalingConfig

    @classmethod
    def replacing(cls, stock: SqsPoller, esm_config: dict, config: ScalingConfig) -> ScalingSqsPoller:
        """Take over a stock poller LocalStack built (its client, hooks and processor) before it starts."""
        poller = cls.__new__(cls)
        poller.__dict__.update(stock.__dict__)
        poller._setup(esm_config, config)
        return poller

    def _setup(self, esm_config: dict, config: ScalingConfig) -> None:
        self.config = config
        arn = parse_arn(esm_config["FunctionArn"])
        self.function = (arn["account"], arn["region"], arn["resource"].split(":")[1])
        self.processor.sender = _ThrottleRetryingSender(self.processor.sender, self)
        self.scaler = scaler_for(config, esm_config, time.monotonic())
        self.visibility_timeout_s = 30.0
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._allowed = 0
        self._function_errors = 0
        self._warned_ceiling_at = 0.0
        self._deleter = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"sqs-delete-{self.function[2]}")
        self.successor: ScalingSqsPoller | None = None
        """The poller of the mapping as updated (set when this one is replaced, not when the mapping is disabled
        or deleted): what this one's threads receive after it closed is delivered through it."""

    # --- the scaler tick (LocalStack's EsmWorker loop) -------------------------------------------

    def poll_events(self) -> None:
        attributes = self.source_client.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "VisibilityTimeout"],
        )["Attributes"]
        self.visibility_timeout_s = float(attributes.get("VisibilityTimeout", 30))
        backlog = int(attributes.get("ApproximateNumberOfMessages", 0)) > 0
        with self._lock:
            errors, self._function_errors = self._function_errors, 0
        decision = self.scaler.update(time.monotonic(), backlog, errors)
        if decision.host_limited:
            self._report_ceiling(decision.wanted, decision.concurrency)
        self._resize(decision.concurrency)
        LAMBDA_METRICS.pollers(*self.function, decision.concurrency)
        self._stop.wait(self.config.tick_s)

    def _resize(self, concurrency: int) -> None:
        with self._lock:
            self._allowed = concurrency
            self._threads = [thread for thread in self._threads if thread.is_alive()]
            missing = concurrency - len(self._threads)
            for _ in range(max(0, missing)):
                thread = threading.Thread(target=self._poll_forever, name=f"sqs-poller-{self.function[2]}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _retire(self) -> bool:
        """A poller thread above the allowed concurrency leaves (at a batch boundary)."""
        with self._lock:
            alive = [thread for thread in self._threads if thread.is_alive()]
            if len(alive) > self._allowed:
                self._threads.remove(threading.current_thread())
                return True
            return False

    def _report_ceiling(self, wanted: int, allowed: int) -> None:
        LAMBDA_METRICS.host_ceiling_hit(*self.function)
        now = time.monotonic()
        if now - self._warned_ceiling_at > 60:
            self._warned_ceiling_at = now
            LOG.warning(
                "fidelity limit: AWS would run %d concurrent batches of %s, this machine's ceiling is %d "
                "(HARNESS_MAX_CONCURRENT_ENVIRONMENTS); results understate AWS's concurrency",
                wanted,
                self.function[2],
                allowed,
            )

    # --- one poller thread -----------------------------------------------------------------------

    def _poll_forever(self) -> None:
        while not self._stop.is_set() and not self._retire():
            try:
                messages = self._receive()
            except Exception as error:
                LOG.warning("receiving from %s failed: %s", self.source_arn, error)
                self._stop.wait(1.0)
                continue
            if not messages:
                continue
            if self._stop.is_set():  # closed during the long poll: the mapping as it is now takes these
                successor = self.successor
                if successor is not None and not successor.stopped.is_set():
                    # Delivered, not released: a release makes them visible to the next closed poller still in
                    # its long poll, and each such receive counts towards maxReceiveCount (the DLQ).
                    successor._deliver(messages, received_at=time.monotonic())
                else:
                    self._release(messages)
                break
            self._deliver(messages, received_at=time.monotonic())

    def _receive(self) -> list[dict]:
        # With a batching window LocalStack's override waits for a full batch or the window, as AWS does;
        # without one, a plain long poll returns with whatever is there as soon as anything is.
        wait_s = self.maximum_batching_window or IDLE_LONG_POLL_S
        response = self.source_client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, DEFAULT_MAX_RECEIVE_COUNT),
            WaitTimeSeconds=min(wait_s, DEFAULT_MAX_WAIT_TIME_SECONDS),
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=[MessageSystemAttributeName.All],
            sqs_override_max_message_count=self.batch_size,
            sqs_override_wait_time_seconds=self.maximum_batching_window,
        )
        return response.get("Messages", [])

    def _deliver(self, messages: list[dict], received_at: float) -> None:
        self._local.deadline = received_at + max(0.0, self.visibility_timeout_s - VISIBILITY_MARGIN_S)
        groups = split_by_message_group_id(messages).values() if self.is_fifo_queue else [messages]
        for group in groups:
            try:
                self.handle_messages(group)
            except BatchFailureError as failure:
                if isinstance(failure.__cause__, ThrottledBatch):
                    LOG.debug("a batch of %d was throttled until its visibility timeout", len(group))
                else:
                    with self._lock:
                        self._function_errors += 1
            except Exception as error:
                LOG.warning("delivering a batch from %s failed: %s", self.source_arn, error)

    def _release(self, messages: list[dict]) -> None:
        try:
            self.source_client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, message in enumerate(messages)
                ],
            )
        except Exception as error:  # they reappear after their visibility timeout instead: never lost
            LOG.warning("releasing %d messages of a closed poller failed: %s", len(messages), error)

    def delete_messages(self, messages: list[dict], message_ids_to_delete: set) -> None:
        """Deletes run beside the poller, so its next receive and invocation don't wait for them."""
        if not message_ids_to_delete:
            return
        try:
            self._deleter.submit(self._delete_quietly, messages, message_ids_to_delete)
        except RuntimeError:  # closed (the mapping changed) while this batch ran: delete it here, not never
            self._delete_quietly(messages, message_ids_to_delete)

    def _delete_quietly(self, messages: list[dict], message_ids_to_delete: set) -> None:
        try:
            SqsPoller.delete_messages(self, messages, message_ids_to_delete)
        except Exception as error:  # the messages reappear and are processed again: never lost
            LOG.warning("deleting %d processed messages failed: %s", len(message_ids_to_delete), error)

    def batch_deadline(self) -> float:
        return getattr(self._local, "deadline", time.monotonic() + self.visibility_timeout_s)

    @property
    def stopped(self) -> threading.Event:
        return self._stop

    def record_throttle(self) -> None:
        LAMBDA_METRICS.throttled(*self.function)

    def close(self) -> None:
        self._stop.set()
        self._deleter.shutdown(wait=True)
        super().close()
