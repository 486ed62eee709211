"""DynamoDB capacity as AWS counts and enforces it: units per request, burst credit, throttling.

Pure accounting (no LocalStack, an injectable clock), used by the ``dynamodb`` provider:
- one write capacity unit (WCU) per write of up to 1 KB, one more per started KB; a transactional write
  costs twice; a conditional write whose condition fails still consumes;
- one read capacity unit (RCU) per strongly consistent read of up to 4 KB per started 4 KB, half for an
  eventually consistent read, twice for a transactional one; a query or scan is sized by what it returns;
- PROVISIONED tables accrue their units every second and keep up to 300 s of unused capacity as burst
  credit; a request beyond that is throttled (``ProvisionedThroughputExceededException``, nothing written);
- PAY_PER_REQUEST (on-demand) tables are never throttled here.
A new table starts with one second of capacity and no banked burst (AWS does not document the initial
credit; starting empty is the conservative choice).
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

BURST_WINDOW_S = 300.0
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB-JSON attribute value, by AWS's item-size rules."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        return len(base64.b64decode(content)) if isinstance(content, str) else len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in content)
    if kind == "NS":
        return sum(_number_size(n) for n in content)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) if isinstance(b, str) else len(b) for b in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(len(name.encode()) + 1 + value_size(element) for name, element in content.items())
    return len(str(content))


def _number_size(raw: str) -> int:
    """Roughly one byte per two significant digits, plus one."""
    try:
        digits = Decimal(raw).normalize().as_tuple().digits
    except InvalidOperation:
        return len(raw)
    return math.ceil(len(digits) / 2) + 1


def item_size(item: dict[str, dict[str, Any]] | None) -> int:
    """An item's size: the UTF-8 length of each attribute name plus its value's size."""
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def write_units(size: int, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / WRITE_UNIT_BYTES))
    return units * (2 if transactional else 1)


def read_units(size: int, consistent: bool = False, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    if transactional:
        return units * 2.0
    return float(units) if consistent else units / 2


@dataclass
class CapacityBucket:
    """Units accrued per second, unused ones kept for up to ``BURST_WINDOW_S``; None: unlimited (on demand)."""

    rate: float | None
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.updated = self.clock()
        self.tokens = self.rate or 0.0

    @property
    def ceiling(self) -> float:
        return (self.rate or 0.0) * BURST_WINDOW_S

    def _refill(self) -> None:
        now = self.clock()
        if self.rate is not None:
            self.tokens = min(self.ceiling, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def admit(self) -> bool:
        """May a request start now? (It pays afterwards, with ``spend``, once its size is known.)"""
        if self.rate is None:
            return True
        self._refill()
        return self.tokens > 0

    def take(self, units: float) -> bool:
        """Spend ``units`` if the bucket holds them; False (and nothing spent) when the request is throttled."""
        if self.rate is None:
            return True
        self._refill()
        if self.tokens < units:
            return False
        self.tokens -= units
        return True

    def spend(self, units: float) -> None:
        """Spend after the fact (reads sized by their result); the bucket may go into debt, as on AWS."""
        if self.rate is not None:
            self._refill()
            self.tokens -= units

    def set_rate(self, rate: float | None) -> None:
        """UpdateTable: the new rate applies from now; banked credit is kept up to the new ceiling."""
        self._refill()
        self.rate = rate
        self.tokens = min(self.tokens, self.ceiling) if rate is not None else 0.0


@dataclass
class Usage:
    """What a table consumed and refused in the current second, for CloudWatch."""

    consumed_read: float = 0.0
    consumed_write: float = 0.0
    read_throttles: int = 0
    write_throttles: int = 0


class TableCapacity:
    """One table's read and write buckets and its usage since the last flush (thread-safe)."""

    def __init__(
        self,
        billing_mode: str,
        read_units_per_s: float,
        write_units_per_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self.clock = clock
        self.billing_mode = billing_mode
        self.provisioned_read, self.provisioned_write = read_units_per_s, write_units_per_s
        on_demand = billing_mode == "PAY_PER_REQUEST"
        self.read = CapacityBucket(None if on_demand else read_units_per_s, clock)
        self.write = CapacityBucket(None if on_demand else write_units_per_s, clock)
        self.usage = Usage()

    def update(self, billing_mode: str, read_units_per_s: float, write_units_per_s: float) -> None:
        with self._lock:
            on_demand = billing_mode == "PAY_PER_REQUEST"
            self.billing_mode = billing_mode
            self.provisioned_read, self.provisioned_write = read_units_per_s, write_units_per_s
            self.read.set_rate(None if on_demand else read_units_per_s)
            self.write.set_rate(None if on_demand else write_units_per_s)

    def bank(self, seconds: float) -> None:
        """Start with ``seconds`` of the provisioned rate as credit (at most the burst window's)."""
        with self._lock:
            for bucket in (self.read, self.write):
                if bucket.rate is not None:
                    bucket.tokens, bucket.updated = min(bucket.ceiling, bucket.rate * seconds), self.clock()

    def take_write(self, units: float) -> bool:
        with self._lock:
            if not self.write.take(units):
                self.usage.write_throttles += 1
                return False
            self.usage.consumed_write += units
            return True

    def admit_read(self) -> bool:
        with self._lock:
            if not self.read.admit():
                self.usage.read_throttles += 1
                return False
            return True

    def spend_read(self, units: float) -> None:
        with self._lock:
            self.read.spend(units)
            self.usage.consumed_read += units

    def drain_usage(self) -> Usage:
        """This second's usage, and a fresh count for the next."""
        with self._lock:
            usage, self.usage = self.usage, Usage()
            return usage
