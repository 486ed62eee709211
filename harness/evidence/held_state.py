"""What the stack must keep in LocalStack's memory for a run: the rows (when the backend lives there) and
the log lines of every invocation. A soak's memory is judged net of it: keeping what the run stored is the
emulator doing its job, not a leak.

The costs are measured, not assumed: the same objects are stored in the same moto backends here, in the
harness's process, under ``tracemalloc``. Each stored the way LocalStack receives it: every request is
parsed from a document of its own, so every row has its own attribute names and every log event its own
timestamp, where rows read back from one scan page share their names (JSON decoding memoizes the keys of
a document), which would count each name once for thousands of rows."""

from __future__ import annotations

import bisect
import itertools
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

MIB = 2**20


def traced_bytes(store: Callable[[], object]) -> int:
    """The memory ``store()`` leaves allocated (what it keeps, not what it used on the way)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = store()
        stored = tracemalloc.get_traced_memory()[0] - before
        del kept
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return stored


def as_received(value: Any) -> Any:
    """``value`` as LocalStack holds it after parsing a request of its own: its own str and int objects, and
    numbers where rows read back hold floats."""
    if isinstance(value, str):
        return value.encode().decode()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(str(value))
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {as_received(key): as_received(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_received(item) for item in value]
    return value


def stored_log_bytes(lines: Sequence[str], invocations: int) -> int:
    """What CloudWatch Logs' moto backend keeps for ``invocations`` invocations' ``lines`` (new request ids
    each), written in batches as the harness's log shipper writes them."""
    from moto.logs.models import LogsBackend

    request_id = next((line.split()[2] for line in lines if line.startswith("START ")), "")

    def store() -> LogsBackend:
        backend = LogsBackend("us-east-1", "000000000000")
        backend.create_log_group("/aws/lambda/measured", {})
        backend.create_log_stream("/aws/lambda/measured", "stream")
        now_ms = int(time.time() * 1000)
        for first in range(0, invocations, 100):
            events = []
            for _ in range(first, min(first + 100, invocations)):
                new_id = str(uuid.uuid4())
                events += [
                    {"timestamp": as_received(now_ms), "message": line.replace(request_id, new_id)} for line in lines
                ]
            backend.put_log_events("/aws/lambda/measured", "stream", events)
        return backend

    return traced_bytes(store)


def stored_item_bytes(
    rows: Sequence[dict[str, Any]], key_schema: list[dict[str, str]], attributes: list[dict[str, str]]
) -> int:
    """What DynamoDB's moto backend (LocalStack's, with the harness's provider) keeps for ``rows``."""
    from boto3.dynamodb.types import TypeSerializer
    from moto.dynamodb.models import DynamoDBBackend

    serialize = TypeSerializer().serialize
    items = [{name: serialize(as_received(value)) for name, value in row.items()} for row in rows]

    def store() -> DynamoDBBackend:
        backend = DynamoDBBackend("us-east-1", "000000000000")
        backend.create_table(
            "measured", schema=key_schema, throughput=None, attr=attributes, global_indexes=None, indexes=None,
            streams=None, billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[],
            deletion_protection_enabled=False,
        )  # fmt: skip
        for item in items:
            backend.put_item("measured", as_received(item))  # its own names and strings, made here
        return backend

    return traced_bytes(store)


def log_bytes_per_invocation(lines: Sequence[str], invocations: int = 500) -> float:
    return stored_log_bytes(lines, invocations) / invocations if lines else 0.0


def held_mib(
    at: Iterable[float],
    rows: tuple[Sequence[float], float],
    invocations: Sequence[tuple[Sequence[tuple[float, float]], float]],
) -> list[tuple[float, float]]:
    """(t, MiB held) at each time of ``at`` (epoch s): ``rows`` is (the times rows were stored, bytes per
    row); ``invocations`` per function, (invocations per second as (epoch s, count), log bytes per
    invocation)."""
    row_times = sorted(rows[0])
    counted = []
    for per_second, _ in invocations:
        ordered = sorted(per_second)
        counted.append(([t for t, _ in ordered], list(itertools.accumulate(count for _, count in ordered))))

    def invoked_by(t: float, times: list[float], running: list[float]) -> float:
        index = bisect.bisect_right(times, t)
        return running[index - 1] if index else 0.0

    found = []
    for t in at:
        held = bisect.bisect_right(row_times, t) * rows[1]
        for (times, running), (_, per_invocation) in zip(counted, invocations, strict=True):
            held += invoked_by(t, times, running) * per_invocation
        found.append((t, held / MIB))
    return found
