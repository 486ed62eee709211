"""Lambda metrics LocalStack does not publish, in CloudWatch the way AWS exposes them.

- ``AWS/Lambda`` ``ConcurrentExecutions`` (Maximum per second), per function: counted by the executor
  around each invocation actually running in an environment.
- ``AWS/Lambda`` ``Throttles`` (Sum per second), per function: counted by the SQS pollers for each
  invocation refused with TooManyRequestsException.
- ``Harness/Emulation`` ``HostCeilingHits`` per mapping function: seconds in which AWS would have run
  more concurrent batches than this machine's ceiling allows (a fidelity limit, never silent).

Aggregated in memory and written once per second (one PutMetricData per function), not per invocation.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import UTC, datetime

LOG = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 1.0
EMULATION_NAMESPACE = "Harness/Emulation"


class LambdaMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str, str], int] = defaultdict(int)
        self._peak: dict[tuple[str, str, str], int] = defaultdict(int)
        self._throttles: dict[tuple[str, str, str], int] = defaultdict(int)
        self._ceiling_hits: dict[tuple[str, str, str], int] = defaultdict(int)
        self._thread: threading.Thread | None = None

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

    def active(self, account: str, region: str, function: str) -> int:
        with self._lock:
            return self._active[(account, region, function)]

    # --- publishing ------------------------------------------------------------------------------

    def _ensure_flusher(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._flush_forever, name="lambda-metrics", daemon=True)
                    self._thread.start()

    def _flush_forever(self) -> None:
        stop = threading.Event()
        while not stop.wait(FLUSH_INTERVAL_S):
            try:
                self.flush()
            except Exception as error:  # metrics must never take the emulation down
                LOG.debug("publishing Lambda metrics failed: %s", error)

    def flush(self) -> None:
        with self._lock:
            peaks, throttles, hits = dict(self._peak), dict(self._throttles), dict(self._ceiling_hits)
            # The next second starts from what is running now, not from zero.
            self._peak = defaultdict(int, {key: count for key, count in self._active.items() if count > 0})
            self._throttles.clear()
            self._ceiling_hits.clear()
        now = datetime.now(UTC)
        per_function: dict[tuple[str, str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for key, peak in peaks.items():
            per_function[key]["AWS/Lambda"].append(_datum("ConcurrentExecutions", key[2], peak, now))
        for key, count in throttles.items():
            per_function[key]["AWS/Lambda"].append(_datum("Throttles", key[2], count, now))
        for key, count in hits.items():
            per_function[key][EMULATION_NAMESPACE].append(_datum("HostCeilingHits", key[2], count, now))
        for (account, region, _), namespaces in per_function.items():
            from localstack.aws.connect import connect_to

            cloudwatch = connect_to(aws_access_key_id=account, region_name=region).cloudwatch
            for namespace, data in namespaces.items():
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)


def _datum(name: str, function: str, value: float, timestamp: datetime) -> dict:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": "FunctionName", "Value": function}],
        "Timestamp": timestamp,
        "Value": value,
        "Unit": "Count",
        "StorageResolution": 1,
    }


LAMBDA_METRICS = LambdaMetrics()
"""One per LocalStack process: the executor and the pollers record here."""
