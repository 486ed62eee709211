"""`make profile`: where the LocalStack process spends its time under a webhook ingest load and under
sequential warm invokes, sampled with py-spy (PyPI; installed by `make profile` into the venv).

Prints, per phase, the share of the gateway's busy samples by concern (the frames' module paths) and
the top frames by own time (only samples of the thread holding the GIL: the process's busy time, which
one core bounds), and writes the raw samples to ``reports/profile-<phase>.txt`` (py-spy's
collapsed stacks: ``flamegraph.pl`` or speedscope draw them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from harness import aws
from harness.bench.benchmark import TRIVIAL, ingest_topology, webhook_ingest
from harness.lambda_admin import create_function
from harness.network import free_port
from harness.stack.config import StackSettings
from harness.stack.embedded import EmbeddedStack

CONCERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HTTP server: requests in and out (twisted, or the harness's threaded server)", ("twisted/", "http_server.py")),
    (
        "  its own frames: parsing, writing, hand-offs between threads",
        ("leaf:twisted/", "leaf:http_server.py", "leaf:socketserver.py", "leaf:socket.py", "leaf:threading.py"),
    ),
    ("  of it, twisted's form parsing of POST bodies", ("_parseContentType",)),
    ("botocore: LocalStack's internal clients", ("botocore/",)),
    ("LocalStack's handler chain", ("aws/handlers/",)),
    ("protocol parse/serialize", ("aws/protocol/", "localstack_extensions/xml_as_json.py")),
    ("API Gateway (execute-api)", ("services/apigateway/",)),
    (
        "  of it, mapping templates (VTL)",
        ("template_mapping.py", "airspeed/", "localstack_extensions/templates.py", "localstack_extensions/vtl.py"),
    ),
    ("Lambda service", ("services/lambda_/",)),
    ("  of it, log shipping per invocation", ("lambda_/invocation/logs.py", "localstack_extensions/lambda_logs.py")),
    ("  of it, the Invocations metric per invocation", ("lambda_/invocation/metrics.py",)),
    ("SQS", ("services/sqs/",)),
    ("SQS per-message metrics (a PutMetricData each, stock)", ("publish_sqs_metric",)),
    ("CloudWatch (metric writes)", ("services/cloudwatch/",)),
    ("CloudWatch Logs (its provider)", ("services/logs/",)),
    (
        "the harness's extensions (their own work, not the thin overrides every request passes through)",
        (
            "localstack_extensions/lambda_executor/",
            "localstack_extensions/sqs_scaling/poller",
            "localstack_extensions/sqs_scaling/scaler",
            "localstack_extensions/lambda_logs.py",
            "localstack_extensions/metrics.py",
            "localstack_extensions/dynamodb_capacity.py",
            "InProcessSqsMetrics",
        ),
    ),
)
"""Markers in the frames as py-spy shortens them (module paths relative to site-packages, function names); a
``leaf:`` marker counts a sample only when its innermost frame matches (own time, not time spent below)."""
SAMPLE_RATE = 200


def read_samples(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) output: one ``frame;frame;... count`` line per distinct stack."""
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples.append((stack.split(";"), int(count)))
    return samples


def summarise(samples: Iterable[tuple[list[str], int]], top: int = 12) -> str:
    samples = list(samples)
    total = sum(count for _, count in samples) or 1
    by_concern: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in samples:
        joined = ";".join(frames)
        for concern, markers in CONCERNS:
            if any(marker[5:] in frames[-1] if marker.startswith("leaf:") else marker in joined for marker in markers):
                by_concern[concern] += count
        own[_short(frames[-1])] += count
    lines = [f"{total} busy samples; share of them by concern (a sample can count for several):"]
    lines += [f"  {by_concern[concern] / total:6.1%}  {concern}" for concern, _ in CONCERNS]
    lines.append("top frames by own time:")
    lines += [f"  {count / total:6.1%}  {frame}" for frame, count in own.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``function (path/to/module.py:line)`` -> ``function (module.py)``: lines apart, one function."""
    function, _, where = frame.partition(" (")
    return f"{function} ({where.rsplit('/', 1)[-1].split(':')[0]})" if where else function


def profiled(pid: int, output: Path, work: Callable[[], None]) -> list[tuple[list[str], int]]:
    """Sample ``pid`` (and its threads) with py-spy while ``work`` runs."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    recorder = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(SAMPLE_RATE),
            "--gil",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        work()
    finally:
        recorder.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        _, error = recorder.communicate(timeout=60)
    if not output.exists():
        raise RuntimeError(f"py-spy wrote nothing: {error.decode(errors='replace')[-500:]}")
    return read_samples(output)


def main() -> int:
    base = StackSettings.from_env()
    settings = StackSettings.from_env(port=free_port(), state_dir=base.state_dir / "profile")
    stack = EmbeddedStack(settings)
    stack.start(progress=lambda message: print(f"  {message}", file=sys.stderr))
    reports = Path("reports")
    reports.mkdir(exist_ok=True)
    try:
        pid = stack.status().pid
        urls = {way: ingest_topology(settings, way) for way in ("function", "direct")}
        for url in urls.values():
            webhook_ingest(url, senders=10, requests=200)  # not sampled: the publisher environments start

        lambda_client = aws.client("lambda", settings)
        name = create_function(lambda_client, f"profile-{uuid.uuid4().hex[:6]}", TRIVIAL)
        lambda_client.invoke(FunctionName=name, Payload=b"{}")

        def invokes() -> None:
            for _ in range(1500):
                lambda_client.invoke(FunctionName=name, Payload=b"{}")

        phases = (
            ("ingest", "ingest through the publisher function (10 senders, 1,500 webhooks)", urls["function"]),
            (
                "ingest-direct",
                "ingest through API Gateway straight to SQS (10 senders, 1,500 webhooks)",
                urls["direct"],
            ),
            ("invoke", "invoke (1,500 sequential)", None),
        )
        for phase, title, url in phases:
            work = invokes if url is None else lambda url=url: webhook_ingest(url, senders=10, requests=1500)
            samples = profiled(pid, reports / f"profile-{phase}.txt", work)
            print(f"## {title}")
            print(summarise(samples))
            print(f"(raw samples: reports/profile-{phase}.txt)\n")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
