"""The consumer variants a comparison runs, and what each one's run showed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.evidence import Evidence
from harness.exceptions import SettingsError
from harness.ingress import INGRESSES
from harness.rules import Verdict


@dataclass(frozen=True)
class Variant:
    name: str
    reserved_concurrency: int | None
    maximum_concurrency: int | None
    ingress: str | None = None
    """The way in (``harness.ingress.INGRESSES``); None: the topology's own."""

    @property
    def throttled(self) -> bool:
        return self.reserved_concurrency is not None or self.maximum_concurrency is not None

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


def default_variants(limit: int) -> list[Variant]:
    """The reference stack's throttle, AWS's advice for the same limit, and no throttle at all."""
    return [
        Variant(f"reserved concurrency {limit}", limit, None),
        Variant(f"MaximumConcurrency {limit}", None, limit),
        Variant("no throttle", None, None),
    ]


def parse_variants(spec: str, limit: int, throttle: tuple[int | None, int | None] | None = None) -> list[Variant]:
    """``reserved=1,reserved=2,maximum=2,reserved=2+maximum=2,none,ingress=direct``; empty: the default
    three. A variant that sets only the way in keeps ``throttle`` (reserved, maximum; default: reserved
    concurrency ``limit``), so ``ingress=function,ingress=direct`` compares the ways in alone."""
    if not spec.strip():
        return default_variants(limit)
    variants = []
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        reserved = maximum = ingress = None
        throttled_here = item == "none"
        for term in item.split("+") if item != "none" else []:
            key, _, value = term.partition("=")
            if key == "ingress" and value in INGRESSES:
                ingress = value
                continue
            if key not in ("reserved", "maximum") or not value.isdigit():
                raise SettingsError(
                    f"variant {item!r}: expected reserved=N, maximum=N, ingress={'|'.join(INGRESSES)}, "
                    "terms joined with + (reserved=N+maximum=M), or none "
                    "(e.g. --variants reserved=1,reserved=2,none or ingress=function,ingress=direct)"
                )
            throttled_here = True
            if key == "reserved":
                reserved = int(value)
            else:
                maximum = int(value)
        if not throttled_here:
            reserved, maximum = throttle if throttle is not None else (limit, None)
        names = [f"reserved concurrency {reserved}" if reserved is not None else "",
                 f"MaximumConcurrency {maximum}" if maximum is not None else ""]  # fmt: skip
        name = " + ".join(n for n in names if n) or "no throttle"
        if ingress is not None:
            name += f", ingress {ingress}"
        variants.append(Variant(name, reserved, maximum, ingress))
    return variants


@dataclass
class VariantResult:
    variant: Variant
    verdict: Verdict
    evidence: Evidence
    run_dir: Path

    def summary(self) -> dict[str, Any]:
        verdict, view = self.verdict, self.evidence.backend
        return {
            "name": self.variant.name,
            "reserved_concurrency": self.variant.reserved_concurrency,
            "maximum_concurrency": self.variant.maximum_concurrency,
            "ingress": self.evidence.outputs.ingress,
            "backend_kind": view.kind if view else None,
            "backend_capacity": view.capacity if view else None,
            "backend_capacity_unit": view.capacity_unit if view else None,
            "backend_peak": view.peak if view else None,
            "backend_errors": view.errors if view else None,
            "accepted": verdict.accepted,
            "rows": verdict.rows,
            "lost": verdict.lost,
            "duplicate_rows": verdict.duplicate_rows,
            "dlq": verdict.dlq,
            "dlq_without_function_error": self.dlq_without_function_error(),
            "pending": verdict.pending,
            "max_consumer_concurrency": verdict.max_consumer_concurrency,
            "throttles": verdict.throttles,
            "drain_seconds": verdict.drain_seconds,
            "answer_p50_ms": verdict.answer_latency_ms.get("p50"),
            "answer_p99_ms": verdict.answer_latency_ms.get("p99"),
            "verdict": verdict.verdict,
            "run_dir": str(self.run_dir),
        }

    def dlq_without_function_error(self) -> int:
        """Dead letters the function never failed on: throttled past maxReceiveCount (overpull)."""
        return 0 if self.evidence.consumer.errors else self.verdict.dlq

    def sentence(self) -> str:
        view, verdict = self.evidence.backend, self.verdict
        parts = []
        if view is not None:
            capacity = "unlimited" if view.capacity is None else f"{view.capacity:g}"
            peak = f"{view.peak:g} of {capacity} {view.capacity_unit}"
            if view.errors:
                parts.append(f"overloaded the backend: {view.errors} refused for capacity (peak {peak})")
            elif view.capacity is not None and view.peak > view.capacity:
                parts.append(f"the backend took a peak of {peak} from its burst credit, refusing nothing")
            else:
                parts.append(f"held the backend at ≤ {peak}")
        if verdict.dlq:
            parts.append(f"{verdict.dlq} message(s) in the DLQ")
        if verdict.pending:
            parts.append(f"{verdict.pending} still queued when the drain timed out")
        elif verdict.drain_seconds is not None:
            parts.append(f"drained in {verdict.drain_seconds:g} s")
        if verdict.lost:
            parts.append(f"{verdict.lost} not (yet) rows")
        return f"{self.variant.name}: " + ", ".join(parts) + f" — {verdict.verdict}"


def failed_throttled(results: list[VariantResult]) -> list[VariantResult]:
    """Throttled variants that failed: the comparison fails (an unthrottled one is expected to)."""
    return [r for r in results if r.variant.throttled and not r.verdict.passed]
