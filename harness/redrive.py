"""`harness redrive`: move the DLQ's messages back to the source queue, e.g. after fixing the consumer.

SQS's own StartMessageMoveTask when the stack supports it; otherwise receive -> send -> delete, where a
message leaves the DLQ only after its copy is on the source queue: a failure midway loses nothing, and
a copy sent twice is absorbed by the subscriber's idempotent write (one row per id).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from harness import observe
from harness.exceptions import HarnessError
from harness.outputs import Outputs
from harness.polling import poll

UNSUPPORTED = {"UnsupportedOperation", "InvalidAction", "NotImplemented", "InternalFailure", "InternalError"}


def redrive(sqs: Any, outputs: Outputs, timeout_s: float = 60, progress: Callable[[str], None] = lambda _: None) -> int:
    """Messages moved from the DLQ to the source queue."""
    waiting = observe.queue_depth(sqs, outputs.dlq_url).visible
    if not waiting:
        return 0
    try:
        return _move_task(sqs, outputs, timeout_s, progress)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in UNSUPPORTED:
            raise
        progress("StartMessageMoveTask is not available here; moving messages one batch at a time")
        return _copy_then_delete(sqs, outputs)


def _move_task(sqs: Any, outputs: Outputs, timeout_s: float, progress: Callable[[str], None]) -> int:
    sqs.start_message_move_task(SourceArn=outputs.dlq_arn, DestinationArn=outputs.queue_arn)

    def latest_task() -> dict:
        tasks = sqs.list_message_move_tasks(SourceArn=outputs.dlq_arn, MaxResults=1)["Results"]
        return tasks[0] if tasks else {}

    def ended(task: dict) -> bool:
        if task.get("Status") in {"FAILED", "CANCELLED"}:
            raise HarnessError(
                f"the message move task ended {task['Status']}: {task.get('FailureReason', 'no reason given')}"
            )
        return task.get("Status") == "COMPLETED"

    task = poll(
        latest_task,
        ended,
        timeout_s=timeout_s,
        interval_s=0.5,
        failure=lambda _: (
            f"the message move task did not complete within {timeout_s:.0f}s; messages left stay in the DLQ"
        ),
        progress=lambda task, _: progress(f"moving: {task.get('ApproximateNumberOfMessagesMoved', 0)} moved so far"),
    )
    return int(task.get("ApproximateNumberOfMessagesMoved", 0))


def _copy_then_delete(sqs: Any, outputs: Outputs) -> int:
    moved = 0
    while True:
        batch = sqs.receive_message(
            QueueUrl=outputs.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return moved
        sent = sqs.send_message_batch(
            QueueUrl=outputs.queue_url,
            Entries=[{"Id": str(i), "MessageBody": m["Body"], **_attributes(m)} for i, m in enumerate(batch)],
        )
        succeeded = {entry["Id"] for entry in sent.get("Successful", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch) if str(i) in succeeded]
        if done:
            sqs.delete_message_batch(QueueUrl=outputs.dlq_url, Entries=done)
        moved += len(done)
        if sent.get("Failed"):
            raise HarnessError(
                f"{len(sent['Failed'])} message(s) could not be sent back and stay in the DLQ: {sent['Failed'][0]}"
            )


def _attributes(message: dict) -> dict:
    attributes = message.get("MessageAttributes")
    return {"MessageAttributes": attributes} if attributes else {}
