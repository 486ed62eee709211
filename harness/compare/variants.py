"""The consumer variants a comparison runs, and what each one's run showed."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.evidence import Evidence
from harness.exceptions import SettingsError
from harness.ingress import INGRESSES
from harness.rules import Verdict


@dataclass(frozen=True)
class Variant:
    """One design: the consumer's throttle, its scaling mode, the way in and what stands before the backend."""

    name: str
    reserved_concurrency: int | None
    maximum_concurrency: int | None
    ingress: str | None = None
    """The way in (``harness.ingress.INGRESSES``); None: the topology's own."""
    proxy: bool | None = None
    """RDS Proxy in front of PostgreSQL; None: the backend as deployed."""
    pollers: tuple[int, int] | None = None
    """Provisioned mode's (MinimumPollers, MaximumPollers); None: standard mode."""

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


NAMED_SETS = {
    "designs": "reserved={limit},maximum={limit},proxy,proxy+reserved={limit},none",
}
"""``VARIANTS=designs``: the reference stack's design, AWS's advice (MaximumConcurrency), RDS Proxy without and
with a throttle, and no protection at all (RDS Proxy needs HARNESS_BACKEND=postgres)."""
TERMS = "reserved=N, maximum=N, provisioned=MIN-MAX, proxy, ingress=" + "|".join(INGRESSES)


def parse_variants(spec: str, limit: int, throttle: tuple[int | None, int | None] | None = None) -> list[Variant]:
    """``reserved=1,reserved=2,maximum=2,reserved=2+maximum=2,none,ingress=direct,proxy+reserved=4,
    provisioned=2-20`` or a named set (``designs``); empty: the default three. A variant that sets only the way
    in keeps ``throttle`` (reserved, maximum; default: reserved concurrency ``limit``), so
    ``ingress=function,ingress=direct`` compares the ways in alone; ``proxy`` and ``provisioned`` are designs
    of their own, unthrottled unless combined. When any variant has the proxy, the others run without it."""
    if not spec.strip():
        return default_variants(limit)
    spec = NAMED_SETS.get(spec.strip(), spec).format(limit=limit)
    variants = [_variant(item, limit, throttle) for item in (part.strip() for part in spec.split(",") if part.strip())]
    if any(variant.proxy for variant in variants):
        variants = [dataclasses.replace(variant, proxy=bool(variant.proxy)) for variant in variants]
    return variants


def _variant(item: str, limit: int, throttle: tuple[int | None, int | None] | None) -> Variant:
    reserved = maximum = ingress = pollers = None
    proxy = None
    designed = item == "none"
    for term in item.split("+") if item != "none" else []:
        key, _, value = term.partition("=")
        if key == "ingress" and value in INGRESSES:
            ingress = value
        elif term == "proxy":
            proxy, designed = True, True
        elif key == "provisioned" and re.fullmatch(r"\d+(-\d+)?", value):
            low, _, high = value.partition("-")
            pollers, designed = (int(low), int(high or 200)), True
        elif key in ("reserved", "maximum") and value.isdigit():
            designed = True
            if key == "reserved":
                reserved = int(value)
            else:
                maximum = int(value)
        else:
            raise SettingsError(
                f"variant {item!r}: expected {TERMS}, terms joined with + (proxy+reserved=4), none, or a named set "
                f"({', '.join(NAMED_SETS)}) (e.g. --variants reserved=1,reserved=2,none or designs)"
            )
    if pollers and maximum:
        raise SettingsError(
            f"variant {item!r}: provisioned pollers and MaximumConcurrency are mutually exclusive (AWS rule)"
        )
    if not designed:
        reserved, maximum = throttle if throttle is not None else (limit, None)
    names = [
        "RDS Proxy" if proxy else "",
        f"provisioned pollers {pollers[0]}-{pollers[1]}" if pollers else "",
        f"reserved concurrency {reserved}" if reserved is not None else "",
        f"MaximumConcurrency {maximum}" if maximum is not None else "",
    ]
    name = " + ".join(n for n in names if n) or "no throttle"
    if proxy and reserved is None and maximum is None:
        name += ", no throttle"
    if ingress is not None:
        name += f", ingress {ingress}"
    return Variant(name, reserved, maximum, ingress, proxy, pollers)


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
            "provisioned_pollers": list(self.variant.pollers) if self.variant.pollers else None,
            "proxy": verdict.backend.get("proxy"),
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
            if view.proxy is not None:
                proxy = view.proxy
                parts.append(
                    f"through RDS Proxy: up to {proxy.peak(proxy.client_connections):g} clients on "
                    f"{proxy.peak(proxy.database_connections):g} database connections, "
                    f"{proxy.peak(proxy.clients_waiting):g} waiting at most, {proxy.borrow_timeouts} borrow timeout(s)"
                )
        if verdict.dlq:
            parts.append(f"{verdict.dlq} message(s) in the DLQ")
        if verdict.pending:
            parts.append(f"{verdict.pending} still queued when the drain timed out")
        elif verdict.drain_seconds is not None:
            parts.append(f"drained in {verdict.drain_seconds:g} s")
        if verdict.lost:
            parts.append(f"{verdict.lost} not (yet) rows")
        return f"{self.variant.name}: " + ", ".join(parts) + f" — {verdict.verdict}"


def recommendation(results: Sequence[VariantResult]) -> dict[str, Any]:
    """Computed from the runs, never written by hand: of the variants that kept the backend within capacity
    with nothing lost, nothing left queued and no duplicate row, the one that drained soonest; and, when
    several reserved-concurrency throttles were swept, the highest of them that still held."""

    def held(result: VariantResult) -> bool:
        verdict, view = result.verdict, result.evidence.backend
        return (
            verdict.passed and not verdict.lost and not verdict.pending and not verdict.duplicate_rows
            and (view is None or not view.errors)
        )  # fmt: skip

    holding = [r for r in results if held(r)]
    answer: dict[str, Any] = {"variant": None, "why": "no variant kept the backend within capacity with nothing lost"}
    if holding:
        best = min(holding, key=lambda r: (r.verdict.drain_seconds is None, r.verdict.drain_seconds or 0.0))
        answer = {
            "variant": best.variant.name,
            "why": f"it kept the backend within capacity with nothing lost and drained soonest: {best.sentence()}",
        }
    swept = [r for r in results if r.variant.reserved_concurrency is not None and not r.variant.proxy
             and r.variant.maximum_concurrency is None and not r.variant.pollers]  # fmt: skip
    if len({r.variant.reserved_concurrency for r in swept}) > 1:
        highest = max((r for r in swept if held(r)), key=lambda r: r.variant.reserved_concurrency, default=None)
        answer["highest_reserved_concurrency_that_held"] = highest.variant.reserved_concurrency if highest else None
    return answer


def failed_throttled(results: list[VariantResult]) -> list[VariantResult]:
    """Throttled variants that failed: the comparison fails (an unthrottled one is expected to)."""
    return [r for r in results if r.variant.throttled and not r.verdict.passed]
