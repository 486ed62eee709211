"""SQS that can be made unavailable to senders for a window, by a tag on the queue, and that counts its
per-message metrics in memory.

A queue tagged ``harness:fault-send-outage-ms`` = ``"start,end"`` (epoch ms) answers ``SendMessage`` and
``SendMessageBatch`` with ``503 ServiceUnavailable`` inside that window, as SQS does when it cannot take a
message: any publisher (the harness's, a user's Node or Python one, any SDK) sees the outage, and nothing
is queued. Receiving, deleting and the Lambda pollers are untouched.

The per-message metrics (``NumberOfMessagesSent``, ``SentMessageSize``, ``NumberOfMessagesReceived``,
``NumberOfMessagesDeleted``, ``NumberOfEmptyReceives``) are the same datapoints as stock, but appended to
``REQUEST_METRICS`` instead of each one a PutMetricData through LocalStack's internal client on a thread
pool. Selected with ``PROVIDER_OVERRIDE_SQS=faults``.
"""

import time
from datetime import UTC, datetime

from localstack.aws.api import CommonServiceException
from localstack.services.sqs.provider import CloudwatchDispatcher, SqsProvider

from .contract import SEND_OUTAGE_TAG
from .metrics import REQUEST_METRICS, datum


def in_outage(tags: dict[str, str], now_ms: float) -> bool:
    window = (tags or {}).get(SEND_OUTAGE_TAG, "")
    start, _, end = window.partition(",")
    try:
        return float(start) <= now_ms < float(end)
    except ValueError:
        return False


class InProcessSqsMetrics(CloudwatchDispatcher):
    """LocalStack's dispatcher, recording where it would have submitted a PutMetricData."""

    def __init__(self) -> None:
        self.running = True

    def shutdown(self) -> None:
        self.running = False

    def dispatch_sqs_metric(self, account_id, region, queue_name, metric, value=1, unit="Count") -> None:
        if self.running:
            now = datetime.now(UTC)
            REQUEST_METRICS.add(
                account_id, region, "AWS/SQS", datum(metric, "QueueName", queue_name, value, now, unit, 60)
            )


class FaultySqsProvider(SqsProvider):
    def _init_cloudwatch_metrics_reporting(self):
        super()._init_cloudwatch_metrics_reporting()
        if self._cloudwatch_dispatcher is not None:
            self._cloudwatch_dispatcher.shutdown()
            self._cloudwatch_dispatcher = InProcessSqsMetrics()

    def send_message(self, context, queue_url, *args, **kwargs):
        self._refuse_during_outage(context, queue_url)
        return super().send_message(context, queue_url, *args, **kwargs)

    def send_message_batch(self, context, queue_url, *args, **kwargs):
        self._refuse_during_outage(context, queue_url)
        return super().send_message_batch(context, queue_url, *args, **kwargs)

    def _refuse_during_outage(self, context, queue_url) -> None:
        queue = self._resolve_queue(context, queue_url=queue_url)
        if in_outage(queue.tags, time.time() * 1000):
            raise CommonServiceException(
                "ServiceUnavailable", "Service is unavailable (injected SQS outage)", status_code=503
            )
