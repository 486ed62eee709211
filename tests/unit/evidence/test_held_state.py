"""What the stack keeps for a run: measured by storing the same objects in the same moto backends."""

from __future__ import annotations

from harness.evidence.held_state import (
    held_mib,
    log_bytes_per_invocation,
    stored_item_bytes,
    stored_log_bytes,
    traced_bytes,
)

LINES = [
    "START RequestId: 6f1d2a8e-1111-2222-3333-444455556666 Version: $LATEST\n",
    "END RequestId: 6f1d2a8e-1111-2222-3333-444455556666\n",
    "REPORT RequestId: 6f1d2a8e-1111-2222-3333-444455556666\tDuration: 1.00 ms\tMemory Size: 128 MB\n",
]
KEY = [{"AttributeName": "id", "KeyType": "HASH"}]
ATTRIBUTES = [{"AttributeName": "id", "AttributeType": "S"}]


def test_the_memory_stored_log_lines_take_grows_with_the_invocations_that_wrote_them():
    hundred, thousand = stored_log_bytes(LINES, 100), stored_log_bytes(LINES, 1000)
    assert 3 * 100 * 100 < hundred < thousand  # at least the text itself, ~100 bytes a line
    assert thousand > 5 * hundred  # it grows with them, beyond a fixed cost
    assert log_bytes_per_invocation(LINES) > 300 and log_bytes_per_invocation([]) == 0.0


def test_a_stored_row_takes_more_than_its_text_and_rows_add_up():
    rows = [{"id": f"id-{i}", "message": "x" * 200, "written_at_ms": 1796644741743.855, "n": 3} for i in range(400)]
    hundred, four_hundred = stored_item_bytes(rows[:100], KEY, ATTRIBUTES), stored_item_bytes(rows, KEY, ATTRIBUTES)
    assert hundred > 100 * 200
    assert 3 * hundred < four_hundred < 5 * hundred


def test_what_is_held_at_each_time_counts_the_rows_and_invocations_stored_by_then():
    mib = 2**20
    rows = ([10.0, 11.0, 12.0, 30.0], mib / 2)  # half a MiB a row
    invocations = [([(10.0, 2.0), (20.0, 2.0)], mib / 4), ([(12.0, 1.0)], mib)]
    assert held_mib([5.0, 11.0, 15.0, 40.0], rows, invocations) == [
        (5.0, 0.0),
        (11.0, 2 * 0.5 + 2 * 0.25),
        (15.0, 3 * 0.5 + 2 * 0.25 + 1.0),
        (40.0, 4 * 0.5 + 4 * 0.25 + 1.0),
    ]


def test_rows_read_back_from_one_scan_page_are_measured_as_each_request_stored_them():
    import json

    from moto.dynamodb.models import DynamoDBBackend

    names = ["id", "message", "received_at_ms", "sqs_message_id", "body_sha256"]
    page = json.loads(json.dumps([{name: f"{name}-{i}" for name in names} for i in range(500)]))  # names shared
    documents = [json.dumps({name: {"S": value} for name, value in row.items()}) for row in page]

    def store_each_request() -> DynamoDBBackend:
        backend = DynamoDBBackend("us-east-1", "000000000000")
        backend.create_table(
            "t", schema=KEY, throughput=None, attr=ATTRIBUTES, global_indexes=None, indexes=None, streams=None,
            billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[], deletion_protection_enabled=False,
        )  # fmt: skip
        for document in documents:  # each PutItem parsed from its own body, as LocalStack does
            backend.put_item("t", json.loads(document))
        return backend

    each_parsed = traced_bytes(store_each_request)
    measured = stored_item_bytes(page, KEY, ATTRIBUTES)
    assert abs(measured - each_parsed) < 0.05 * each_parsed
