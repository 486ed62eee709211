"""CloudWatch with buffered writes for the metrics LocalStack itself publishes per request.

LocalStack records ``AWS/Lambda`` ``Invocations``/``Errors`` per invocation and ``AWS/SQS`` metrics per
message, each with one PutMetricData and so one SQLite transaction: a large share of the gateway's CPU
under an invoke load and under a webhook load (docs/performance.md). Here those datapoints are
buffered and written once per ``FLUSH_INTERVAL_S``, identical datapoints (same metric, dimensions and
second) merged into one Values/Counts entry. Every read flushes first, so a reader never misses a
datapoint. Other namespaces are written at once, as stock. Providers of this process that record
per-request datapoints in ``REQUEST_METRICS`` (no client call at all) are drained into the same
buffer, before every read too. Selected with ``PROVIDER_OVERRIDE_CLOUDWATCH=buffered``.

``ClosingSqlite3`` is the ``sqlite3`` module as LocalStack's metrics database sees it (put in place by
``patches``): each of its ``with sqlite3.connect(...) as conn:`` blocks opens a connection that the block
only commits. On CPython 3.11 a connection sits in a reference cycle with its statement cache, so it, its
file descriptor and its page cache lived until the next full garbage collection: under a load that reads
metrics every second, dozens at a time, each caching more pages as the database grew, and full
collections come more rarely as the process holds more objects. Here the block closes its connection.
"""

import sqlite3
import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from localstack.services.cloudwatch.provider_v2 import (
    CloudwatchProvider,
    _validate_parameters_for_put_metric_data,
)

from .metrics import REQUEST_METRICS

BUFFERED_NAMESPACES = frozenset({"AWS/Lambda", "AWS/SQS"})
FLUSH_INTERVAL_S = 1.0


def _datapoint_key(metric: dict) -> tuple:
    dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions") or []))
    timestamp = metric.get("Timestamp") or datetime.now(UTC)
    return (metric["MetricName"], dimensions, int(timestamp.timestamp()), metric.get("Unit"))


def merge_datapoints(metrics: list[dict]) -> list[dict]:
    """Single-value datapoints of one metric, dimension set and second become one Values/Counts entry."""
    merged: dict[tuple, dict] = {}
    counts: dict[tuple, dict[float, int]] = defaultdict(lambda: defaultdict(int))
    passthrough = []
    for metric in metrics:
        if metric.get("Value") is None:
            passthrough.append(metric)
            continue
        key = _datapoint_key(metric)
        merged.setdefault(
            key,
            {
                "MetricName": metric["MetricName"],
                "Dimensions": metric.get("Dimensions") or [],
                "Timestamp": datetime.fromtimestamp(key[2], UTC),
                **({"Unit": metric["Unit"]} if metric.get("Unit") else {}),
            },
        )
        counts[key][metric["Value"]] += 1
    for key, entry in merged.items():
        entry["Values"] = list(counts[key])
        entry["Counts"] = list(counts[key].values())
    return [*merged.values(), *passthrough]


class ClosingConnection(sqlite3.Connection):
    """A connection that a ``with`` block commits (or rolls back) and then closes."""

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return super().__exit__(*exc_info)
        finally:
            self.close()


class ClosingSqlite3:
    """``sqlite3`` whose ``connect`` makes ``ClosingConnection``s; every other name is the module's."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sqlite3, name)

    @staticmethod
    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return sqlite3.connect(*args, factory=ClosingConnection, **kwargs)


class BufferedCloudwatchProvider(CloudwatchProvider):
    def __init__(self) -> None:
        super().__init__()
        self._buffer: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="cloudwatch-flush", daemon=True)

    def on_after_init(self):
        super().on_after_init()
        REQUEST_METRICS.writer = self._buffer_metrics
        self._flusher.start()

    def on_before_stop(self):
        self._stop.set()
        self.flush()
        REQUEST_METRICS.writer = None
        super().on_before_stop()

    def put_metric_data(self, context, namespace, metric_data=None, **kwargs) -> None:
        if namespace not in BUFFERED_NAMESPACES or kwargs.get("entity_metric_data"):
            return super().put_metric_data(context, namespace, metric_data, **kwargs)
        _validate_parameters_for_put_metric_data(metric_data)
        stamped = [
            metric if metric.get("Timestamp") else {**metric, "Timestamp": datetime.now(UTC)}
            for metric in metric_data or []
        ]
        self._buffer_metrics(context.account_id, context.region, namespace, stamped)

    def _buffer_metrics(self, account_id: str, region: str, namespace: str, metrics: list[dict]) -> None:
        with self._buffer_lock:
            self._buffer[(account_id, region, namespace)].extend(metrics)

    def flush(self) -> None:
        REQUEST_METRICS.flush()  # what other providers recorded in memory, then everything buffered
        with self._flush_lock:
            with self._buffer_lock:
                pending, self._buffer = self._buffer, defaultdict(list)
            for (account_id, region, namespace), metrics in pending.items():
                self.cloudwatch_database.add_metric_data(account_id, region, namespace, merge_datapoints(metrics))

    def _flush_periodically(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S):
            self.flush()

    # Reads see every datapoint written before them.
    def get_metric_data(self, *args, **kwargs):
        self.flush()
        return super().get_metric_data(*args, **kwargs)

    def get_metric_statistics(self, *args, **kwargs):
        self.flush()
        return super().get_metric_statistics(*args, **kwargs)

    def list_metrics(self, *args, **kwargs):
        self.flush()
        return super().list_metrics(*args, **kwargs)
