"""SQS that can be made unavailable to senders for a window, by a tag on the queue.

A queue tagged ``harness:fault-send-outage-ms`` = ``"start,end"`` (epoch ms) answers ``SendMessage`` and
``SendMessageBatch`` with ``503 ServiceUnavailable`` inside that window, as SQS does when it cannot take a
message: any publisher (the harness's, a user's Node or Python one, any SDK) sees the outage, and nothing
is queued. Receiving, deleting and the Lambda pollers are untouched. Selected with
``PROVIDER_OVERRIDE_SQS=faults``.
"""

import time

from localstack.aws.api import CommonServiceException
from localstack.services.plugins import Service, aws_provider
from localstack.services.sqs.provider import SqsProvider

SEND_OUTAGE_TAG = "harness:fault-send-outage-ms"
"""As the harness sets it (harness/load/faults.py; extensions cannot import it)."""


def in_outage(tags: dict[str, str], now_ms: float) -> bool:
    window = (tags or {}).get(SEND_OUTAGE_TAG, "")
    start, _, end = window.partition(",")
    try:
        return float(start) <= now_ms < float(end)
    except ValueError:
        return False


class FaultySqsProvider(SqsProvider):
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


@aws_provider(api="sqs", name="faults")
def sqs_faults() -> Service:
    return Service.for_provider(FaultySqsProvider())
