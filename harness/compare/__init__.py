"""`harness compare` (`make compare`): the same load against variants of the consumer's throttle.

An orchestrator above ``load/`` and ``topology/``: each variant runs on a topology of its own (the
configured one under a name prefix: its own queue, mapping, subscriber and table, on the same backend
server), emptied and on fresh execution environments, gets the same load (shape, duration, users and
random seed, as open arrivals: the same webhooks at the same moments, however fast each variant answers),
starts from the same backend state (the same burst credit, ``HARNESS_BURST_CREDIT``; a fresh pool), and is
judged and reported like any load run; afterwards its mapping is disabled and its
environments let go of their connections. The topology deployed by `make up` is not touched.

On a user's own stack (deployed with ``harness deploy --template``) the variants run one after another on
that stack itself, its throttle set for each, and its own throttle restored at the end.

One report overlays the variants on the same charts, with a table side by side and one sentence each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.backend import Backend
from harness.compare.benches import StackVariants, TopologyVariants, VariantBench, stack_limit
from harness.compare.report import render_comparison
from harness.compare.variants import (
    Variant,
    VariantResult,
    default_variants,
    failed_throttled,
    parse_variants,
    recommendation,
    what_the_throttle_did,
)
from harness.evidence import Evidence
from harness.exceptions import StackStopped, Terminated
from harness.load import run as load_run
from harness.load.config import LoadSettings
from harness.outputs import Outputs
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings

DEFAULT_SEED = 20261124


def run(
    stack: StackSettings,
    topology: TopologySettings,
    backend: Backend,
    load: LoadSettings,
    variants: Sequence[Variant],
    client: Callable[[str], Any],
    progress: Callable[[str], None] = lambda _: None,
    deployed: Outputs | None = None,
) -> tuple[list[VariantResult], Path]:
    """Each variant loaded and judged in turn: on a topology of its own, or, for ``deployed`` (a user's stack
    from a template), on that stack itself with its throttle changed per variant and restored afterwards."""
    load = load.replace(
        seed=load.seed or DEFAULT_SEED,
        drain_required=False,
        arrival="open",  # the same requests for every variant, however fast each one answers
        burst_credit="new" if load.burst_credit == "kept" else load.burst_credit,  # and the same starting credit
    )
    compare_id = time.strftime("%Y%m%d-%H%M%S") + "-compare"
    compare_dir = load.reports_dir / compare_id
    compare_dir.mkdir(parents=True, exist_ok=True)
    bench: VariantBench
    if deployed is not None and not deployed.ours:
        bench = StackVariants(deployed, backend, client, progress)
    else:
        bench = TopologyVariants(stack, topology, backend, client, progress)
    results = []
    try:
        for index, variant in enumerate(variants, 1):
            progress(f"variant {index}/{len(variants)}: {variant.name}")
            outputs, variant_backend = bench.prepare(variant)
            verdict = None
            try:
                verdict, run_dir = load_run.run(
                    stack, load, progress, outputs=outputs, run_dir=compare_dir / variant.slug, backend=variant_backend
                )
            finally:
                if verdict is None or verdict.ended_by != "stack":  # a dead stack has nothing left to retire
                    bench.retire(outputs)
            stop_when_ended_early(verdict)
            evidence = Evidence.from_json((run_dir / "evidence.json").read_text())
            results.append(VariantResult(variant, verdict, evidence, run_dir))
            progress(f"  {results[-1].sentence()}")
    finally:
        bench.finish()
    (compare_dir / "compare.json").write_text(
        json.dumps(
            {
                "seed": load.seed,
                "arrival": load.arrival,
                "burst_credit": load.burst_credit,
                "variants": [r.summary() for r in results],
                "recommendation": recommendation(results),
                "what_the_throttle_did": what_the_throttle_did(results),
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    (compare_dir / "report.html").write_text(render_comparison(results, compare_id, load))
    load_run.point_latest(load.reports_dir, compare_dir)
    return results, compare_dir


def stop_when_ended_early(verdict: Any) -> None:
    """A variant's run that was interrupted, or whose stack died, ends the comparison: its report stands
    alone, and no variant after it runs."""
    if verdict.ended_by == "stack":
        raise StackStopped(time.time(), f"during the comparison; {verdict.reasons[0]}")
    if verdict.ended_by:
        raise Terminated if verdict.ended_by == "sigterm" else KeyboardInterrupt


__all__ = [
    "Variant",
    "VariantResult",
    "default_variants",
    "failed_throttled",
    "parse_variants",
    "recommendation",
    "run",
    "stack_limit",
    "what_the_throttle_did",
]
