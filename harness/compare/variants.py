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
            "e2e_p50_ms": verdict.e2e_latency_ms.get("p50"),
            "e2e_p99_ms": verdict.e2e_latency_ms.get("p99"),
            "offered": verdict.offered.get("offered"),
            "sent": verdict.offered.get("sent"),
            "late": verdict.offered.get("late"),
            "refused_at_gate": verdict.throttled_at_gate,
            "never_accepted": verdict.never_accepted,
            "backend_on_credit": bool(view and view.on_credit),
            "credit_lasts_s": None
            if view is None or view.credit_lasts_s() is None
            else round(view.credit_lasts_s(), 1),
            "host_ceiling_hits": self.evidence.consumer.host_ceiling_hits,
            "provisioned_pollers": list(self.variant.pollers) if self.variant.pollers else None,
            "proxy": verdict.backend.get("proxy"),
            "notes": verdict.notes,
            "verdict": verdict.verdict,
            "run_dir": str(self.run_dir),
        }

    def dlq_without_function_error(self) -> int:
        """Dead letters the function never failed on: throttled past maxReceiveCount (overpull)."""
        return 0 if self.evidence.consumer.errors else self.verdict.dlq

    def sentence(self) -> str:
        """What the design bought and cost, in one sentence."""
        view, verdict = self.evidence.backend, self.verdict
        parts = []
        if view is not None:
            capacity = "unlimited" if view.capacity is None else f"{view.capacity:g}"
            peak = f"{view.peak:g} of {capacity} {view.capacity_unit}"
            if view.errors:
                parts.append(f"overloaded {view.kind}: {view.refusal} {view.errors} time(s) (peak {peak})")
            elif view.on_credit:
                parts.append(
                    f"{view.kind} survived only on burst credit (peak {peak}; at that rate a full credit lasts "
                    f"{view.credit_lasts_s():.0f} s)"
                )
            else:
                parts.append(f"held {view.kind} at ≤ {peak}")
            if view.proxy is not None:
                proxy = view.proxy
                timeouts = proxy.borrow_timeouts
                parts.append(
                    f"through RDS Proxy: up to {proxy.peak(proxy.client_connections):g} clients on "
                    f"{proxy.peak(proxy.database_connections):g} database connections, "
                    f"{proxy.peak(proxy.clients_waiting):g} waiting at most"
                    + (f"; {timeouts} borrow timeout(s) became retries" if timeouts else "")
                )
        if verdict.throttles:
            parts.append(f"{verdict.throttles:g} Lambda throttle(s)")
        if verdict.dlq:
            parts.append(f"{verdict.dlq} message(s) in the DLQ")
        if verdict.pending:
            parts.append(f"{verdict.pending} still queued when the drain timed out")
        elif verdict.drain_seconds is not None:
            parts.append(f"drained in {verdict.drain_seconds:g} s")
        if p99 := verdict.e2e_latency_ms.get("p99"):
            parts.append(f"end-to-end p99 {p99 / 1000:.1f} s")
        if verdict.lost:
            parts.append(f"{verdict.lost} not (yet) rows")
        offered = verdict.offered
        if offered and self.evidence.offered and self.evidence.offered.short:
            parts.append(f"sent {offered['sent']} of {offered['offered']} offered ({offered['late']} late)")
        return f"{self.variant.name}: " + ", ".join(parts) + f" — {verdict.verdict}"


def recommendation(results: Sequence[VariantResult]) -> dict[str, Any]:
    """Computed from the runs, never written by hand: of the variants that kept the backend within capacity
    with nothing lost, nothing left queued and no duplicate row, the one that drained soonest (one that stayed
    within the provisioned rate before one that survived on burst credit); and, when
    several reserved-concurrency throttles were swept, the highest of them that still held."""

    def held(result: VariantResult) -> bool:
        """Held the backend under the whole load: a design that was sent less than offered was not tested by it."""
        verdict, view, offered = result.verdict, result.evidence.backend, result.evidence.offered
        return (
            verdict.passed and not verdict.lost and not verdict.pending and not verdict.duplicate_rows
            and (view is None or not view.errors) and (offered is None or offered.unsent <= 0.05 * offered.offered)
        )  # fmt: skip

    def on_credit(result: VariantResult) -> bool:
        return bool(result.evidence.backend and result.evidence.backend.on_credit)

    holding = [r for r in results if held(r)]
    within = [r for r in holding if not on_credit(r)]
    answer: dict[str, Any] = {"variant": None, "why": "no variant kept the backend within capacity with nothing lost"}
    if holding:
        best = min(within or holding, key=lambda r: (r.verdict.drain_seconds is None, r.verdict.drain_seconds or 0.0))
        how = (
            "it kept the backend within capacity with nothing lost and drained soonest"
            if within
            else "no variant stayed within the provisioned rate; this one survived on burst credit with nothing "
            "lost and drained soonest, safe only while the credit lasts"
        )
        answer = {"variant": best.variant.name, "why": f"{how}: {best.sentence()}", "on_credit": on_credit(best)}
    swept = [r for r in results if r.variant.reserved_concurrency is not None and not r.variant.proxy
             and r.variant.maximum_concurrency is None and not r.variant.pollers]  # fmt: skip
    if len({r.variant.reserved_concurrency for r in swept}) > 1:
        highest = max((r for r in swept if held(r)), key=lambda r: r.variant.reserved_concurrency, default=None)
        answer["highest_reserved_concurrency_that_held"] = highest.variant.reserved_concurrency if highest else None
    return answer


def what_the_throttle_did(results: Sequence[VariantResult]) -> str | None:
    """The comparison in one sentence a newcomer reads: each throttled variant's backend peak and refusals against
    the unthrottled variant's, and whether any throttle kept the backend within its capacity (None: there is
    no unthrottled variant to measure against, or the backend has no capacity)."""

    def plain(result: VariantResult) -> bool:
        variant = result.variant
        return not variant.proxy and not variant.pollers and result.evidence.backend is not None

    baseline = next((r for r in results if plain(r) and not r.variant.throttled), None)
    throttled = [r for r in results if plain(r) and r.variant.throttled]
    if baseline is None or not throttled or baseline.evidence.backend.capacity is None:
        return None
    view = baseline.evidence.backend
    unit, capacity = view.capacity_unit, f"{view.capacity:g}"

    def load(result: VariantResult) -> str:
        backend = result.evidence.backend
        return f"{backend.errors} refused ({backend.refusal}; peak {backend.peak:g})"

    each = "; ".join(f"{r.variant.name}: {load(r)}" for r in throttled)
    start = f"Without a throttle the backend ({capacity} {unit}) had {load(baseline)}; {each}. "
    held = [r for r in throttled if not r.evidence.backend.errors and r.evidence.backend.peak <= view.capacity]
    if held:
        names = ", ".join(r.variant.name for r in held)
        return start + f"Within its capacity: {names}. The throttle is what kept it there."
    if not view.errors:
        return start + "Nothing was refused without a throttle either: this load did not test the throttle."
    shares = sorted(round(100 * r.evidence.backend.errors / view.errors) for r in throttled)
    cut = f"{shares[0]} %" if len(shares) == 1 else f"{shares[0]} to {shares[-1]} %"
    return start + (
        f"The throttle cut the refusals to {cut} of the unthrottled run's, but none kept the backend within its "
        f"{capacity}: a throttle limits how many invocations run at once, not how fast each one writes. Give the "
        "backend capacity for what one invocation writes per second, or pace the writes."
    )


def failed_throttled(results: list[VariantResult]) -> list[VariantResult]:
    """Throttled variants that failed: the comparison fails (an unthrottled one is expected to)."""
    return [r for r in results if r.variant.throttled and not r.verdict.passed]
