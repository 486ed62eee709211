"""Where the variants run: a copy of the harness's topology per variant, or, on a user's own stack, that
stack itself with its throttle changed per variant and restored at the end."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Protocol

from harness.backend import Backend, backend_for
from harness.compare.variants import Variant
from harness.exceptions import SettingsError
from harness.lambda_admin import ensure_reserved_concurrency, reserved_concurrency, update_environment
from harness.outputs import Outputs
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings
from harness.topology.deploy import Deployer

VARIANT_VARIABLE = "HARNESS_VARIANT"
"""Set on the subscriber for each variant: a configuration change, so every variant starts on fresh
execution environments (no connection or warm state carried over from the variant before)."""


class VariantBench(Protocol):
    """Where the variants run: ``prepare`` before each load, ``retire`` after it, ``finish`` at the end."""

    def prepare(self, variant: Variant) -> tuple[Outputs, Backend]:
        """The variant's topology, and the backend it writes to (through RDS Proxy or not)."""
        ...

    def retire(self, outputs: Outputs) -> None: ...
    def finish(self) -> None: ...


class TopologyVariants:
    """The harness's topology: each variant its own copy (its own queue, mapping, subscriber and table, by name
    prefix, on the same backend), so no poller of another variant ever touches its messages."""

    def __init__(
        self,
        stack: StackSettings,
        topology: TopologySettings,
        backend: Backend,
        client: Callable[[str], Any],
        progress: Callable[[str], None],
    ) -> None:
        self.stack, self.topology, self.backend = stack, topology, backend
        self.client, self.progress = client, progress

    def prepare(self, variant: Variant) -> tuple[Outputs, Backend]:
        """The variant's own topology, emptied, on fresh execution environments."""
        digest = hashlib.sha1(variant.slug.encode()).hexdigest()[:6]  # long names that share a start stay apart
        minimum, maximum = variant.pollers or (None, None)
        settings = self.topology.replace(
            name_prefix=f"{self.topology.name_prefix}cmp-{variant.slug[:17]}-{digest}-",
            reserved_concurrency=variant.reserved_concurrency,
            maximum_concurrency=variant.maximum_concurrency,
            minimum_pollers=minimum,
            maximum_pollers=maximum,
            ingress=variant.ingress or self.topology.ingress,
        )
        backend = self._backend(variant)
        outputs = Deployer(self.stack, settings, client=self.client, backend=backend).deploy(record=False)
        set_variant(self.client("lambda"), outputs.subscriber_name, variant.slug)
        sqs = self.client("sqs")
        for url in (outputs.queue_url, outputs.dlq_url):
            sqs.purge_queue(QueueUrl=url)
        backend.recreate(outputs.table_name)
        self.progress(f"  deployed: {variant.name}; its own queue and table, empty; fresh environments")
        return outputs, backend

    def _backend(self, variant: Variant) -> Backend:
        """The deployed backend, or the same database with RDS Proxy in front of it or without."""
        if variant.proxy is None:
            return self.backend
        try:
            settings = self.backend.settings.replace(backend_proxy="rds-proxy" if variant.proxy else "none")
        except SettingsError as error:
            raise SettingsError(f"variant {variant.name!r}: {error}") from None
        return backend_for(settings, self.backend.hosting, self.backend.client)

    def retire(self, outputs: Outputs) -> None:
        """After its run: the variant's pollers stop and its environments let go of their backend connections."""
        lambda_client = self.client("lambda")
        lambda_client.update_event_source_mapping(UUID=outputs.event_source_mapping_uuid, Enabled=False)
        set_variant(lambda_client, outputs.subscriber_name, "retired")

    def finish(self) -> None:
        """The topology deployed by `make up` was never touched; its backend runs as deployed (a variant without
        RDS Proxy stopped the pooler a deployed proxy needs)."""
        self.backend.start(self.progress)


class StackVariants:
    """A user's own stack: one variant after another on its own queue, mapping, subscriber and table. Before
    each, the throttle is set, the queues and the table are emptied, the table starts its load with the
    comparison's burst credit, and the subscriber gets fresh environments; afterwards the stack's own throttle and
    environment come back."""

    def __init__(
        self, outputs: Outputs, backend: Backend, client: Callable[[str], Any], progress: Callable[[str], None]
    ) -> None:
        self.outputs, self.backend, self.client, self.progress = outputs, backend, client, progress
        lambda_client = client("lambda")
        self.reserved = reserved_concurrency(lambda_client, outputs.subscriber_name)
        self.scaling = (
            lambda_client.get_event_source_mapping(UUID=outputs.event_source_mapping_uuid).get("ScalingConfig") or {}
        )
        self.variables = (
            lambda_client.get_function_configuration(FunctionName=outputs.subscriber_name)
            .get("Environment", {})
            .get("Variables", {})
        )

    def prepare(self, variant: Variant) -> tuple[Outputs, Backend]:
        outputs, lambda_client = self.outputs, self.client("lambda")
        if variant.proxy or variant.pollers:
            raise SettingsError(
                f"variant {variant.name!r}: your stack {outputs.stack_name} keeps its own backend connection and "
                "scaling mode; compare RDS Proxy and provisioned pollers on the harness's topology (without "
                "--template), or deploy each design as a stack of its own"
            )
        if variant.ingress is not None and variant.ingress != outputs.ingress:
            raise SettingsError(
                f"variant {variant.name!r}: your stack {outputs.stack_name} keeps its own way in "
                f"({outputs.ingress}); compare ways in on the harness's topology (without --template), or deploy "
                "each design as a stack of its own"
            )
        self._throttle(variant.reserved_concurrency, variant.maximum_concurrency)
        set_variant(lambda_client, outputs.subscriber_name, variant.slug)
        sqs = self.client("sqs")
        for url in (outputs.queue_url, outputs.dlq_url if outputs.has_dlq else ""):
            if url:
                sqs.purge_queue(QueueUrl=url)
        self.backend.empty(outputs.table_name)  # its burst credit is set when the load starts
        self.progress(f"  {outputs.stack_name}: {variant.name}; queues and table emptied; fresh environments")
        return outputs, self.backend

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


def stack_limit(lambda_client: Any, outputs: Outputs) -> int:
    """The throttle a user's stack has (reserved concurrency, else MaximumConcurrency), 2 when it has none."""
    scaling = lambda_client.get_event_source_mapping(UUID=outputs.event_source_mapping_uuid).get("ScalingConfig")
    return (
        reserved_concurrency(lambda_client, outputs.subscriber_name) or (scaling or {}).get("MaximumConcurrency") or 2
    )


def set_variant(lambda_client: Any, function: str, value: str) -> None:
    """A configuration change: the function's execution environments (and their connections) start afresh."""
    update_environment(lambda_client, function, lambda variables: {**variables, VARIANT_VARIABLE: value})
