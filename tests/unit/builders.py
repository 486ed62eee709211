"""Plain evidence values the unit tests build runs from: a deployment, accepted records, rows, evidence."""

from __future__ import annotations

from harness.evidence import Accepted, Consumer, DeadLetter, Evidence
from harness.outputs import Outputs

OUTPUTS = Outputs(
    endpoint="http://127.0.0.1:4566",
    webhook_url="http://127.0.0.1:4566/_aws/execute-api/webhookapi/prod",
    api_id="webhookapi",
    queue_url="q",
    queue_arn="arn:q",
    dlq_url="dlq",
    dlq_arn="arn:dlq",
    table_name="Messages",
    publisher_name="webhook-publisher",
    subscriber_name="webhook-subscriber",
    event_source_mapping_uuid="u",
)

FOREIGN = Outputs(**{**OUTPUTS.__dict__, "dlq_url": "", "dlq_arn": "", "stack_name": "mine", "template": "t.yaml"})
"""A stack of your own: no DLQ, found in a template's stack."""


def row(item_id: str, body: str = "") -> dict:
    return {"id": item_id, "received_at_ms": 1000, "written_at_ms": 1250, "body_sha256": body or f"sha-{item_id}"}


def record(item_id: str, event: str | None = None, kind: str = "new", poisoned: bool = False) -> dict:
    return {"id": item_id, "event": event or f"e-{item_id}", "kind": kind, "t": 0, "poisoned": poisoned}


def evidence(
    records, rows=(), dlq=(), suppressed=0, concurrency=2.0, reserved=2, maximum=None, backend=None
) -> Evidence:
    return Evidence(
        run_id="run",
        outputs=OUTPUTS,
        accepted=Accepted(list(records)),
        rows=list(rows),
        dead_letters=[DeadLetter(f"m{i}", item_id, 5, "{}") for i, item_id in enumerate(dlq)],
        consumer=Consumer(reserved, maximum, concurrency, 0.0, 0.0, suppressed),
        load_started=0,
        load_ended=10,
        drain_seconds=3.0,
        backend=backend,
    )
