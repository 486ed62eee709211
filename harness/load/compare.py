"""`harness compare` (`make compare`): the same load against variants of the consumer's throttle.

Each variant runs on a topology of its own (the configured one under a name prefix: its own queue,
mapping, subscriber and table, on the same backend server), emptied and on fresh execution environments,
gets the same load (shape, duration, users and random seed), and is judged and reported like any load
run; afterwards its mapping is disabled and its environments let go of their connections. The
topology deployed by `make up` is not touched.

On a user's own stack (deployed with ``harness deploy --template``) the variants run one after another on
that stack itself, its throttle set for each, and its own throttle restored at the end.

One report overlays the variants on the same charts, with a table side by side and one sentence each.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness import aws, backend
from harness.backend.config import BackendSettings
from harness.evidence import Evidence
from harness.exceptions import SettingsError
from harness.load import run as load_run
from harness.load.config import LoadSettings
from harness.outputs import Outputs
from harness.report import render
from harness.report.charts import COLOURS, Series, limit_line, line_chart
from harness.rules import Verdict
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings
from harness.topology.deploy import Deployer, ensure_reserved_concurrency, update_environment

DEFAULT_SEED = 20261124
VARIANT_VARIABLE = "HARNESS_VARIANT"
"""Set on the subscriber for each variant: a configuration change, so every variant starts on fresh
execution environments (no connection or warm state carried over from the variant before)."""


@dataclass(frozen=True)
class Variant:
    name: str
    reserved_concurrency: int | None
    maximum_concurrency: int | None

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


def parse_variants(spec: str, limit: int) -> list[Variant]:
    """``reserved=1,reserved=2,maximum=2,reserved=2+maximum=2,none``; empty: the default three."""
    if not spec.strip():
        return default_variants(limit)
    variants = []
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        reserved = maximum = None
        if item != "none":
            for term in item.split("+"):
                key, _, value = term.partition("=")
                if key not in ("reserved", "maximum") or not value.isdigit():
                    raise SettingsError(
                        f"variant {item!r}: expected reserved=N, maximum=N, reserved=N+maximum=M or none "
                        "(e.g. --variants reserved=1,reserved=2,reserved=4,none)"
                    )
                if key == "reserved":
                    reserved = int(value)
                else:
                    maximum = int(value)
        names = [f"reserved concurrency {reserved}" if reserved is not None else "",
                 f"MaximumConcurrency {maximum}" if maximum is not None else ""]  # fmt: skip
        variants.append(Variant(" + ".join(n for n in names if n) or "no throttle", reserved, maximum))
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


def run(
    stack: StackSettings,
    topology: TopologySettings,
    backend_settings: BackendSettings,
    load: LoadSettings,
    variants: Sequence[Variant],
    progress: Callable[[str], None] = lambda _: None,
    deployed: Outputs | None = None,
) -> tuple[list[VariantResult], Path]:
    """Each variant loaded and judged in turn: on a topology of its own, or, for ``deployed`` (a user's stack
    from a template), on that stack itself with its throttle changed per variant and restored afterwards."""
    load = load.replace(seed=load.seed or DEFAULT_SEED, drain_required=False)
    compare_id = time.strftime("%Y%m%d-%H%M%S") + "-compare"
    compare_dir = load.reports_dir / compare_id
    compare_dir.mkdir(parents=True, exist_ok=True)
    client = lambda service: aws.client(service, stack)  # noqa: E731
    bench: VariantBench
    if deployed is not None and not deployed.ours:
        bench = StackVariants(deployed, client, progress)
    else:
        bench = TopologyVariants(stack, topology, backend_settings, client, progress)
    results = []
    try:
        for index, variant in enumerate(variants, 1):
            progress(f"variant {index}/{len(variants)}: {variant.name}")
            outputs = bench.prepare(variant)
            try:
                verdict, run_dir = load_run.run(
                    stack, load, progress, outputs=outputs, run_dir=compare_dir / variant.slug
                )
            finally:
                bench.retire(outputs)
            evidence = Evidence.from_json((run_dir / "evidence.json").read_text())
            results.append(VariantResult(variant, verdict, evidence, run_dir))
            progress(f"  {results[-1].sentence()}")
    finally:
        bench.finish()
    (compare_dir / "compare.json").write_text(
        json.dumps({"seed": load.seed, "variants": [r.summary() for r in results]}, indent=2, default=str) + "\n"
    )
    (compare_dir / "report.html").write_text(render_comparison(results, compare_id, load))
    load_run.point_latest(load.reports_dir, compare_dir)
    return results, compare_dir


class VariantBench(Protocol):
    """Where the variants run: ``prepare`` before each load, ``retire`` after it, ``finish`` at the end."""

    def prepare(self, variant: Variant) -> Outputs: ...
    def retire(self, outputs: Outputs) -> None: ...
    def finish(self) -> None: ...


class TopologyVariants:
    """The harness's topology: each variant its own copy (its own queue, mapping, subscriber and table, by name
    prefix), so no poller of another variant ever touches its messages."""

    def __init__(
        self,
        stack: StackSettings,
        topology: TopologySettings,
        backend_settings: BackendSettings,
        client: Callable[[str], Any],
        progress: Callable[[str], None],
    ) -> None:
        self.stack, self.topology, self.backend_settings = stack, topology, backend_settings
        self.client, self.progress = client, progress

    def prepare(self, variant: Variant) -> Outputs:
        """The variant's own topology, emptied, on fresh execution environments."""
        settings = self.topology.replace(
            name_prefix=f"{self.topology.name_prefix}cmp-{variant.slug[:24]}-",
            reserved_concurrency=variant.reserved_concurrency,
            maximum_concurrency=variant.maximum_concurrency,
        )
        deployer = Deployer(self.stack, settings, backend=self.backend_settings)
        outputs = deployer.deploy(record=False)
        _set_variant(self.client("lambda"), outputs.subscriber_name, variant.slug)
        sqs = self.client("sqs")
        for url in (outputs.queue_url, outputs.dlq_url):
            sqs.purge_queue(QueueUrl=url)
        if outputs.backend == "dynamodb":
            # A new table: every variant starts with the same (empty) burst credit, not what a run before left.
            dynamodb = self.client("dynamodb")
            dynamodb.delete_table(TableName=outputs.table_name)
            dynamodb.get_waiter("table_not_exists").wait(TableName=outputs.table_name, WaiterConfig={"Delay": 0.5})
            deployer.ensure_table(outputs.table_name)
        else:
            backend.empty(outputs, self.client)
        self.progress(f"  deployed: {variant.name}; its own queue and table, empty; fresh environments")
        return outputs

    def retire(self, outputs: Outputs) -> None:
        """After its run: the variant's pollers stop and its environments let go of their backend connections."""
        lambda_client = self.client("lambda")
        lambda_client.update_event_source_mapping(UUID=outputs.event_source_mapping_uuid, Enabled=False)
        _set_variant(lambda_client, outputs.subscriber_name, "retired")

    def finish(self) -> None:
        """The topology deployed by `make up` was never touched."""


class StackVariants:
    """A user's own stack: one variant after another on its own queue, mapping, subscriber and table. Before
    each, the throttle is set, the queues and the table are emptied, the table's burst credit starts afresh and
    the subscriber gets fresh environments; afterwards the stack's own throttle and environment come back."""

    def __init__(self, outputs: Outputs, client: Callable[[str], Any], progress: Callable[[str], None]) -> None:
        self.outputs, self.client, self.progress = outputs, client, progress
        lambda_client = client("lambda")
        self.reserved = stack_reserved_concurrency(lambda_client, outputs)
        self.scaling = (
            lambda_client.get_event_source_mapping(UUID=outputs.event_source_mapping_uuid).get("ScalingConfig") or {}
        )
        self.variables = (
            lambda_client.get_function_configuration(FunctionName=outputs.subscriber_name)
            .get("Environment", {})
            .get("Variables", {})
        )

    def prepare(self, variant: Variant) -> Outputs:
        outputs, lambda_client = self.outputs, self.client("lambda")
        self._throttle(variant.reserved_concurrency, variant.maximum_concurrency)
        _set_variant(lambda_client, outputs.subscriber_name, variant.slug)
        sqs = self.client("sqs")
        for url in (outputs.queue_url, outputs.dlq_url if outputs.has_dlq else ""):
            if url:
                sqs.purge_queue(QueueUrl=url)
        backend.empty(outputs, self.client)
        backend.reset_capacity(outputs, self.client)
        self.progress(f"  {outputs.stack_name}: {variant.name}; queues and table emptied; fresh environments")
        return outputs

    def retire(self, outputs: Outputs) -> None:
        """Nothing: the next variant empties the queues before its load."""

    def finish(self) -> None:
        lambda_client = self.client("lambda")
        self._throttle(self.reserved, self.scaling.get("MaximumConcurrency"))
        update_environment(lambda_client, self.outputs.subscriber_name, lambda _: self.variables)
        self.progress(f"  {self.outputs.stack_name}: its own throttle and environment restored")

    def _throttle(self, reserved: int | None, maximum: int | None) -> None:
        lambda_client = self.client("lambda")
        ensure_reserved_concurrency(lambda_client, self.outputs.subscriber_name, reserved, label="the subscriber")
        lambda_client.update_event_source_mapping(
            UUID=self.outputs.event_source_mapping_uuid,
            ScalingConfig={"MaximumConcurrency": maximum} if maximum else {},
        )


def stack_reserved_concurrency(lambda_client: Any, outputs: Outputs) -> int | None:
    return lambda_client.get_function_concurrency(FunctionName=outputs.subscriber_name).get(
        "ReservedConcurrentExecutions"
    )


def stack_limit(lambda_client: Any, outputs: Outputs) -> int:
    """The throttle a user's stack has (reserved concurrency, else MaximumConcurrency), 2 when it has none."""
    scaling = lambda_client.get_event_source_mapping(UUID=outputs.event_source_mapping_uuid).get("ScalingConfig")
    return stack_reserved_concurrency(lambda_client, outputs) or (scaling or {}).get("MaximumConcurrency") or 2


def _set_variant(lambda_client: Any, function: str, value: str) -> None:
    """A configuration change: the function's execution environments (and their connections) start afresh."""
    update_environment(lambda_client, function, lambda variables: {**variables, VARIANT_VARIABLE: value})


def overlay(
    results: Sequence[VariantResult], pick: Callable[[VariantResult], list[tuple[float, float]]]
) -> list[Series]:
    return [Series(result.variant.name, pick(result)) for result in results]


def comparison_charts(results: Sequence[VariantResult]) -> list[Any]:
    charts = []
    views = [r.evidence.backend for r in results if r.evidence.backend]
    if views:
        capacity = views[0].capacity
        all_load = [point for view in views for point in view.load]
        charts.append(
            line_chart(
                f"Backend ({views[0].kind}) load against its capacity",
                [
                    *overlay(results, lambda r: r.evidence.backend.load if r.evidence.backend else []),
                    limit_line(
                        f"capacity ({'on demand' if capacity is None else f'{capacity:g}'})", capacity, all_load
                    ),
                ],
                views[0].capacity_unit,
            )
        )
        charts.append(
            line_chart(
                "Refused by the backend for capacity, per second",
                overlay(results, lambda r: r.evidence.backend.refused if r.evidence.backend else []),
                "refusals / s",
            )
        )
    charts.append(
        line_chart("Subscriber concurrency", overlay(results, lambda r: r.evidence.consumer.concurrency), "executions")
    )

    def backlog(result: VariantResult) -> list[tuple[float, float]]:
        origin = result.evidence.load_started
        return [(s["t"] - origin, s["visible"] + s["in_flight"]) for s in result.evidence.samples if "visible" in s]

    charts.append(line_chart("Queue: waiting + in flight", overlay(results, backlog), "messages"))
    return charts


def failed_throttled(results: Sequence[VariantResult]) -> list[VariantResult]:
    """Throttled variants that failed: the comparison fails (an unthrottled one is expected to)."""
    return [r for r in results if r.variant.throttled and not r.verdict.passed]


def render_comparison(results: Sequence[VariantResult], compare_id: str, load: LoadSettings) -> str:
    return render(
        "compare.html",
        compare_id=compare_id,
        results=results,
        colours=[COLOURS[i % len(COLOURS)] for i in range(len(results))],
        charts=comparison_charts(results),
        verdict="FAIL" if failed_throttled(results) else "PASS",
        load_rows=[(name, str(value)) for name, value, _, _ in load.describe()],
    )
