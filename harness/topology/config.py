"""Settings of the deployed topology (defaults: the reference CDK stack, plus a DLQ), with AWS's rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.ingress import INGRESSES, ingress_for
from harness.resources import bundled
from harness.settings import SettingsGroup, option
from harness.signing import SCHEMES, secret_problem

FUNCTIONS_DIR = bundled("functions")
"""The reference functions (the checkout's, or the wheel's copy), so defaults hold from any working folder."""

_NAME_RULES = {
    "table_name": (re.compile(r"^[A-Za-z0-9_.-]{3,255}$"), "DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)"),
    "queue_name": (re.compile(r"^[A-Za-z0-9_-]{1,80}$"), "SQS queue name (1-80 of A-Z a-z 0-9 _ -)"),
    "dlq_name": (re.compile(r"^[A-Za-z0-9_-]{1,80}$"), "SQS queue name (1-80 of A-Z a-z 0-9 _ -)"),
    "publisher_name": (re.compile(r"^[A-Za-z0-9_-]{1,64}$"), "Lambda function name (1-64 of A-Z a-z 0-9 _ -)"),
    "subscriber_name": (re.compile(r"^[A-Za-z0-9_-]{1,64}$"), "Lambda function name (1-64 of A-Z a-z 0-9 _ -)"),
    "api_name": (re.compile(r"^.{1,1024}$"), "REST API name"),
    "signing_secret_name": (re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$"), "secret name (1-512 of A-Z a-z 0-9 /_+=.@-)"),
}


PYTHON_RUNTIME, NODE_RUNTIME = "python3.11", "nodejs22.x"
"""The default runtimes: the embedded mode's Python, and the newest Node.js that AWS's table and LocalStack share."""
NODE_SUFFIXES = (".js", ".mjs", ".cjs")


def handler_module(folder: Path, handler: str, runtime: str = "") -> Path | None:
    """The file of ``handler``'s module in ``folder`` (Python's or Node's, as ``runtime`` says), if any."""
    module = handler.rpartition(".")[0]
    python = folder / (module.replace(".", "/") + ".py")
    node = [folder / (module + suffix) for suffix in NODE_SUFFIXES]
    if runtime.startswith("python"):
        candidates = [python]
    elif runtime.startswith("nodejs"):
        candidates = node
    else:
        candidates = [python, *node]
    return next((candidate for candidate in candidates if candidate.is_file()), None)


@dataclass(frozen=True)
class TopologySettings(SettingsGroup):
    title = "topology"

    name_prefix: str = option("", "prefix for every resource name (lets several topologies coexist)")
    table_name: str = option("Messages", "DynamoDB table of the backend (partition key `id`)")
    queue_name: str = option("webhook-queue", "SQS queue between publisher and subscriber")
    dlq_name: str = option("webhook-dlq", "dead-letter queue of the SQS queue")
    visibility_timeout_s: int = option(
        300, "queue visibility timeout (reference stack: 300 s)", low=0, high=43_200, duration=True
    )
    max_receive_count: int = option(
        5, "receives before a message moves to the DLQ (AWS: >= 5 advised)", low=1, high=1000
    )
    batch_size: int = option(10, "event-source mapping batch size (> 10 needs a batching window)", low=1, high=10_000)
    batching_window_s: int = option(
        0, "MaximumBatchingWindowInSeconds of the event-source mapping", low=0, high=300, duration=True
    )
    maximum_concurrency: int | None = option(
        None, "ScalingConfig.MaximumConcurrency of the mapping (empty = not set)", low=2, high=1000
    )
    minimum_pollers: int | None = option(
        None,
        "ProvisionedPollerConfig.MinimumPollers: provisioned mode, pollers kept ready (AWS default 2; empty with "
        "maximum_pollers empty = standard mode)",
        low=2,
        high=200,
    )
    maximum_pollers: int | None = option(
        None, "ProvisionedPollerConfig.MaximumPollers: provisioned mode's upper bound (AWS default 200; 10 "
        "concurrent invocations each)", low=2, high=10_000,
    )  # fmt: skip
    reserved_concurrency: int | None = option(
        2,
        "subscriber reserved concurrency, the throttle (reference: 2; empty = unreserved; the account keeps 100)",
        low=0,
        high=900,
    )
    ingress: str = option(
        INGRESSES[0],
        "the way in: function (API Gateway -> publisher function -> SQS, the reference stack) or direct (API "
        "Gateway's own SQS integration, no function)",
        choices=INGRESSES,
    )
    publisher_name: str = option("webhook-publisher", "publisher function name (ingress=function)")
    subscriber_name: str = option("webhook-subscriber", "subscriber function name")
    publisher_dir: Path = option(
        FUNCTIONS_DIR / "publisher",
        "folder with the publisher's code",
        shown_default="functions/publisher",
        flags=("--publisher",),
    )
    subscriber_dir: Path = option(
        FUNCTIONS_DIR / "subscriber",
        "folder with the subscriber's code",
        shown_default="functions/subscriber",
        flags=("--subscriber",),
    )
    publisher_handler: str = option("app.handler", "publisher handler (module.function)")
    subscriber_handler: str = option("app.handler", "subscriber handler (module.function)")
    publisher_runtime: str = option(
        "", "publisher runtime (python3.11, nodejs22.x, ...); empty: picked from the folder's handler module"
    )
    subscriber_runtime: str = option(
        "", "subscriber runtime; empty: picked from the folder (a .js/.mjs/.cjs module: nodejs22.x, else python3.11)"
    )
    publisher_timeout_s: int = option(10, "publisher function timeout", low=1, high=900, duration=True)
    subscriber_timeout_s: int = option(
        30, "subscriber function timeout (<= visibility timeout)", low=1, high=900, duration=True
    )
    memory_mb: int = option(128, "memory size of both functions (MB)", low=128, high=10_240)
    api_name: str = option("webhook-api", "REST API name")
    signing_secret_name: str = option(
        "webhook-signing-secret", "Secrets Manager secret with the publisher's signing secret (when a scheme is set)"
    )
    stage_name: str = option("prod", "REST API stage")
    api_rate_limit: float | None = option(
        None,
        "API Gateway's stage throttle, requests per second (throttlingRateLimit of */*); beyond it 429 (empty: the "
        "account's 10,000)",
        low=0,
        high=10_000,
    )
    api_burst_limit: int | None = option(
        None, "the stage throttle's burst (throttlingBurstLimit; empty: the account's 5,000)", low=0, high=5_000
    )
    idempotency_headers: str = option(
        "Idempotency-Key,X-GitHub-Delivery,X-Webhook-Id",
        "headers whose value becomes the message id, so sender retries collapse into one row",
    )
    backend_latency_ms: int | None = option(
        None,
        "simulated latency per write in our subscriber (ms), explicit only: empty means 100 with an on-demand "
        "table (a stand-in for a scale-limited backend) and 0 when the backend has real capacity (PROVISIONED "
        "table, postgres)",
        low=0,
        shown_default="(100 on demand, else 0)",
    )
    fail_path_marker: str = option(
        "", "fault injection, off when empty: records whose path contains it always fail (-> DLQ)"
    )
    signature_scheme: str = option(
        "none",
        "webhook signatures our publisher verifies (401 and nothing queued otherwise): none, standard (Standard "
        "Webhooks), github or stripe; the load generator signs with the same scheme",
        choices=SCHEMES,
    )
    signing_secret: str = option(
        "",
        "the signing secret (Standard Webhooks: whsec_ + base64); empty: the stack's secret, generated at the "
        "first deploy. Kept in Secrets Manager, never in a function's environment",
    )
    signature_tolerance_s: int = option(
        300, "how far a signed timestamp may be from now before the publisher refuses it", low=1, high=86_400
    )

    @property
    def provisioned_pollers(self) -> dict[str, int]:
        """The mapping's ProvisionedPollerConfig (empty: standard mode)."""
        config = {"MinimumPollers": self.minimum_pollers, "MaximumPollers": self.maximum_pollers}
        return {key: value for key, value in config.items() if value is not None}

    def problems(self) -> list[str]:
        """AWS's own rules across options, checked before anything is created."""
        problems = []
        if self.batch_size > 10 and self.batching_window_s < 1:
            problems.append(
                f"batch_size={self.batch_size}: a batch size over 10 needs batching_window_s >= 1 (AWS rule)"
            )
        if self.subscriber_timeout_s > self.visibility_timeout_s:
            problems.append(
                f"subscriber_timeout_s={self.subscriber_timeout_s}: must not exceed visibility_timeout_s="
                f"{self.visibility_timeout_s} (AWS rejects the event-source mapping)"
            )
        if self.provisioned_pollers and self.maximum_concurrency:
            problems.append(
                f"maximum_concurrency={self.maximum_concurrency}: provisioned pollers (minimum_pollers, "
                "maximum_pollers) and MaximumConcurrency are mutually exclusive scaling modes (AWS rule); set one"
            )
        pollers = self.provisioned_pollers
        if pollers and pollers.get("MinimumPollers", 2) > pollers.get("MaximumPollers", 200):
            problems.append(f"minimum_pollers={self.minimum_pollers}: must not exceed maximum_pollers (AWS rule)")
        problems += ingress_for(self.ingress).problems(self)
        secret = self.signing_secret
        if self.signature_scheme != "none" and secret and (problem := secret_problem(self.signature_scheme, secret)):
            problems.append(f"signing_secret: {problem}")
        for name, (rule, hint) in _NAME_RULES.items():
            resource = self.resource_name(name)
            if not rule.match(resource):
                problems.append(f"{name}={getattr(self, name)!r}: {resource!r} is not a valid {hint}")
        for function in ("publisher", "subscriber"):
            folder, handler = getattr(self, f"{function}_dir"), getattr(self, f"{function}_handler")
            if handler_module(folder, handler, getattr(self, f"{function}_runtime")) is None:
                module = folder / handler.rpartition(".")[0]
                problems.append(
                    f"{function}_dir={str(folder)!r}: no {module}.py, .js, .mjs or .cjs for handler {handler!r}"
                )
        return problems

    def runtime(self, function: str) -> str:
        """The Lambda runtime of ``function`` (publisher or subscriber): as set, else from its folder."""
        folder, handler = getattr(self, f"{function}_dir"), getattr(self, f"{function}_handler")
        explicit = getattr(self, f"{function}_runtime")
        module = handler_module(folder, handler, explicit)
        if explicit:
            return explicit
        return NODE_RUNTIME if module is not None and module.suffix in NODE_SUFFIXES else PYTHON_RUNTIME

    def warnings(self) -> list[str]:
        """Legal but risky choices, printed by `harness deploy`."""
        notes = []
        if self.visibility_timeout_s < 6 * self.subscriber_timeout_s + self.batching_window_s:
            notes.append(
                f"visibility_timeout_s={self.visibility_timeout_s} is below 6 x subscriber_timeout_s "
                f"+ batching_window_s ({6 * self.subscriber_timeout_s + self.batching_window_s}), as AWS "
                "advises: throttled or retried batches may be received again while still in flight"
            )
        if self.max_receive_count < 5:
            notes.append(f"max_receive_count={self.max_receive_count} is below the 5 AWS advises")
        if (
            self.maximum_concurrency is not None
            and self.reserved_concurrency is not None
            and self.maximum_concurrency > self.reserved_concurrency
        ):
            notes.append(
                f"maximum_concurrency={self.maximum_concurrency} exceeds reserved_concurrency="
                f"{self.reserved_concurrency}: Lambda may throttle messages (AWS advice)"
            )
        return notes

    def resource_name(self, setting: str) -> str:
        return f"{self.name_prefix}{getattr(self, setting)}"


@dataclass(frozen=True)
class TemplateSettings(SettingsGroup):
    """Your own stack (`harness deploy --template`): where it is, and picks where it holds several candidates."""

    title = "template"

    template: str = option(
        "",
        "your own stack instead of the harness's topology: a CloudFormation or SAM template (YAML, JSON) or a "
        "cdk.out folder, relative to the working folder",
    )
    stack_name: str = option("", "CloudFormation stack name (empty: the cdk.out stack's, or the template file's name)")
    parameter_overrides: str = option("", "template parameters, space-separated Key=Value pairs", separator=" ")
    publisher_function: str = option("", "the publisher, where the stack's webhook entries invoke several functions")
    subscriber_function: str = option("", "the subscriber, where several functions have SQS event-source mappings")
    table: str = option("", "the backend table, where the stack holds several DynamoDB tables")
    stage: str = option("", "the REST API stage to send to (empty: prod if it exists, else the first)")

    def template_path(self) -> Path | None:
        return Path(self.template).expanduser().resolve() if self.template else None
