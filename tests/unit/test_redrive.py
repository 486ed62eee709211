"""The receive -> send -> delete fallback of `harness redrive`, over a fake SQS without move tasks."""

import pytest
from botocore.exceptions import ClientError

from harness.exceptions import HarnessError
from harness.redrive import redrive
from tests.unit.builders import OUTPUTS


class FakeSQS:
    def __init__(self, bodies: list[str], failing: set[str] = frozenset()) -> None:
        self.dlq = {f"m{i}": body for i, body in enumerate(bodies)}
        self.queue: list[str] = []
        self.failing = failing

    def get_queue_attributes(self, **_):
        return {
            "Attributes": {
                k: "0" for k in ("ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")
            }
            | {"ApproximateNumberOfMessages": str(len(self.dlq))}
        }

    def start_message_move_task(self, **_):
        raise ClientError({"Error": {"Code": "UnsupportedOperation", "Message": "no"}}, "StartMessageMoveTask")

    def receive_message(self, **_):
        hidden = getattr(self, "hidden", set())
        batch = [{"MessageId": k, "ReceiptHandle": k, "Body": v} for k, v in self.dlq.items() if k not in hidden][:10]
        self.hidden = hidden | {m["MessageId"] for m in batch}
        return {"Messages": batch}

    def send_message_batch(self, Entries, **_):
        ok = [e for e in Entries if e["MessageBody"] not in self.failing]
        self.queue += [e["MessageBody"] for e in ok]
        failed = [{"Id": e["Id"], "Code": "Boom"} for e in Entries if e["MessageBody"] in self.failing]
        return {"Successful": [{"Id": e["Id"]} for e in ok], "Failed": failed}

    def delete_message_batch(self, Entries, **_):
        for entry in Entries:
            del self.dlq[entry["ReceiptHandle"]]


def test_every_message_moves_once():
    sqs = FakeSQS([f"body{i}" for i in range(23)])
    assert redrive(sqs, OUTPUTS) == 23
    assert sorted(sqs.queue) == sorted(f"body{i}" for i in range(23)) and sqs.dlq == {}


def test_a_failure_midway_loses_nothing():
    sqs = FakeSQS(["a", "b", "c"], failing={"b"})
    with pytest.raises(HarnessError, match="could not be sent back and stay in the DLQ"):
        redrive(sqs, OUTPUTS)
    assert sqs.queue == ["a", "c"] and list(sqs.dlq.values()) == ["b"]


def test_an_empty_dlq_moves_nothing():
    assert redrive(FakeSQS([]), OUTPUTS) == 0
