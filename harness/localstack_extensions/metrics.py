"""Metrics LocalStack does not publish, in CloudWatch the way AWS exposes them, written once a second.

``PerSecondPublisher`` aggregates in memory and writes one PutMetricData per account, region and
namespace each second, never per request. ``LambdaMetrics`` publishes:

- ``AWS/Lambda`` ``ConcurrentExecutions`` (Maximum per second), per function: counted by the executor
  around each invocation actually running in an environment.
- ``AWS/Lambda`` ``Throttles`` (Sum per second), per function: counted by the SQS pollers for each
  invocation refused with TooManyRequestsException.
- ``AWS/Lambda`` ``Invocations`` and ``Errors``, per function, in the shape LocalStack writes them (one
  sample per invocation, no unit, standard resolution): counted here by the version manager (``patches``)
  instead of a PutMetricData per invocation on a thread of its own, each thread kept in a list that only
  shutdown clears.
- ``Harness/Emulation`` ``HostCeilingHits`` per mapping function: seconds in which AWS would have run
  more concurrent batches than this machine's ceiling allows (a fidelity limit, never silent).
- ``Harness/Emulation`` ``Pollers`` per mapping function: the concurrent batches the scaler allows (a
  gauge, each tick): standard mode's scaling and provisioned mode's minimum, seen from outside.

The DynamoDB provider publishes its tables' capacity metrics through the same publisher.

``REQUEST_METRICS`` takes the datapoints LocalStack publishes per request (``AWS/SQS`` per message):
appended in memory on the request's thread and handed once a second to the ``buffered`` CloudWatch
provider, which also drains it before every read, instead of a PutMetricData per message through
LocalStack's internal client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from .contract import EMULATION_NAMESPACE

LOG = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 1.0


Batch = dict[tuple[str, str], dict[str, list[dict]]]
"""(account, region) -> namespace -> metric data."""


class PerSecondPublisher:
    """A daemon thread that asks ``collect()`` for a batch once a second and writes it to CloudWatch."""

    name = "metrics"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def collect(self) -> Batch:
        raise NotImplementedError

    def _ensure_flusher(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._flush_forever, name=self.name, daemon=True)
                    self._thread.start()

    def _flush_forever(self) -> None:
        stop = threading.Event()
        while not stop.wait(FLUSH_INTERVAL_S):
            try:
                self.flush()
            except Exception as error:  # metrics must never take the emulation down
                LOG.debug("publishing %s failed: %s", self.name, error)

    def flush(self) -> None:
        for (account, region), namespaces in self.collect().items():
            from localstack.aws.connect import connect_to

            cloudwatch = connect_to(aws_access_key_id=account, region_name=region).cloudwatch
            for namespace, data in namespaces.items():
                for start in range(0, len(data), 1000):  # PutMetricData takes at most 1,000 data
                    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 1000])


class LambdaMetrics(PerSecondPublisher):
    name = "lambda-metrics"

    def __init__(self) -> None:
        super().__init__()
        self._active: dict[tuple[str, str, str], int] = defaultdict(int)
        self._peak: dict[tuple[str, str, str], int] = defaultdict(int)
        self._throttles: dict[tuple[str, str, str], int] = defaultdict(int)
        self._ceiling_hits: dict[tuple[str, str, str], int] = defaultdict(int)
        self._pollers: dict[tuple[str, str, str], int] = {}
        self._invocations: dict[tuple[str, str, str, int], int] = defaultdict(int)
        self._errors: dict[tuple[str, str, str, int], int] = defaultdict(int)

    # --- recording (hot path: a lock and a dict update) ----------------------------------------

    def invocation_started(self, account: str, region: str, function: str) -> None:
        key = (account, region, function)
        with self._lock:
            self._active[key] += 1
            self._peak[key] = max(self._peak[key], self._active[key])
        self._ensure_flusher()

    def invocation_finished(self, account: str, region: str, function: str) -> None:
        with self._lock:
            self._active[(account, region, function)] -= 1

    def throttled(self, account: str, region: str, function: str) -> None:
        with self._lock:
            self._throttles[(account, region, function)] += 1
        self._ensure_flusher()

    def host_ceiling_hit(self, account: str, region: str, function: str) -> None:
        with self._lock:
            self._ceiling_hits[(account, region, function)] += 1
        self._ensure_flusher()

    def pollers(self, account: str, region: str, function: str, count: int) -> None:
        with self._lock:
            self._pollers[(account, region, function)] = count
        self._ensure_flusher()

    def invoked(self, account: str, region: str, function: str, error: bool = False) -> None:
        """One invocation finished (``error``: with a function error), counted in the second it ended."""
        key = (account, region, function, int(time.time()))
        with self._lock:
            self._invocations[key] += 1
            if error:
                self._errors[key] += 1
        self._ensure_flusher()

    def active(self, account: str, region: str, function: str) -> int:
        with self._lock:
            return self._active[(account, region, function)]

    # --- publishing ------------------------------------------------------------------------------

    def collect(self) -> Batch:
        with self._lock:
            peaks, throttles, hits = dict(self._peak), dict(self._throttles), dict(self._ceiling_hits)
            pollers, self._pollers = self._pollers, {}
            invocations, self._invocations = self._invocations, defaultdict(int)
            errors, self._errors = self._errors, defaultdict(int)
            # The next second starts from what is running now, not from zero.
            self._peak = defaultdict(int, {key: count for key, count in self._active.items() if count > 0})
            self._throttles.clear()
            self._ceiling_hits.clear()
        now = datetime.now(UTC)
        batch: Batch = defaultdict(lambda: defaultdict(list))
        for (account, region, function), peak in peaks.items():
            batch[(account, region)]["AWS/Lambda"].append(
                datum("ConcurrentExecutions", "FunctionName", function, peak, now)
            )
        for (account, region, function), count in throttles.items():
            batch[(account, region)]["AWS/Lambda"].append(datum("Throttles", "FunctionName", function, count, now))
        for (account, region, function), count in hits.items():
            batch[(account, region)][EMULATION_NAMESPACE].append(
                datum("HostCeilingHits", "FunctionName", function, count, now)
            )
        for (account, region, function), count in pollers.items():
            batch[(account, region)][EMULATION_NAMESPACE].append(datum("Pollers", "FunctionName", function, count, now))
        for name, counted in (("Invocations", invocations), ("Errors", errors)):
            for (account, region, function, second), count in counted.items():
                batch[(account, region)]["AWS/Lambda"].append(samples_of_one(name, function, count, second))
        return batch


class RequestMetrics(PerSecondPublisher):
    """Per-request datapoints, written in one batch a second: to ``writer`` when a provider in this
    process takes them directly, otherwise with one PutMetricData per account, region and namespace."""

    name = "request-metrics"

    def __init__(self) -> None:
        super().__init__()
        self._pending: Batch = defaultdict(lambda: defaultdict(list))
        self.writer: Callable[[str, str, str, list[dict]], None] | None = None

    def add(self, account: str, region: str, namespace: str, metric: dict) -> None:
        with self._lock:
            self._pending[(account, region)][namespace].append(metric)
        self._ensure_flusher()

    def collect(self) -> Batch:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(lambda: defaultdict(list))
        return pending

    def flush(self) -> None:
        if self.writer is None:
            return super().flush()
        for (account, region), namespaces in self.collect().items():
            for namespace, data in namespaces.items():
                self.writer(account, region, namespace, data)


def samples_of_one(name: str, function: str, count: int, second: int) -> dict:
    """``count`` samples of 1 in one second: the Sum and SampleCount of ``count`` PutMetricData calls of one."""
    return {
        "MetricName": name,
        "Dimensions": [{"Name": "FunctionName", "Value": function}],
        "Timestamp": datetime.fromtimestamp(second, UTC),
        "Values": [1.0],
        "Counts": [float(count)],
    }


def datum(
    name: str,
    dimension: str,
    value_of_dimension: str,
    value: float,
    timestamp: datetime,
    unit: str = "Count",
    resolution_s: int = 1,
) -> dict:
    """One datum with one dimension; per second (high resolution) unless ``resolution_s`` is 60."""
    return {
        "MetricName": name,
        "Dimensions": [{"Name": dimension, "Value": value_of_dimension}],
        "Timestamp": timestamp,
        "Value": value,
        "Unit": unit,
        "StorageResolution": resolution_s,
    }


LAMBDA_METRICS = LambdaMetrics()
"""One per LocalStack process: the executor and the pollers record here."""

REQUEST_METRICS = RequestMetrics()
"""One per LocalStack process: the SQS provider records here, the CloudWatch provider drains it."""
