"""`make bench`: measures the embedded stack and writes ``reports/bench.json``.

Runs a stack of its own (free port, state in ``.harness/bench``, so LocalStack's caches survive between
runs) and leaves nothing running. Keys already in bench.json from other benchmarks are kept.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness import aws
from harness.bench.config import BenchSettings
from harness.evidence.held_state import stored_log_bytes
from harness.lambda_admin import create_function
from harness.network import LOOPBACK_HOST, free_port
from harness.observe import invocation_log_lines, queue_depth
from harness.polling import poll
from harness.settings.flags import add_flags, given
from harness.settings.registry import check_config_file
from harness.stack import HEALTH_PATH
from harness.stack.config import StackSettings
from harness.stack.embedded import EmbeddedStack
from harness.stats import percentile
from harness.topology.config import TopologySettings
from harness.topology.deploy import Deployer
from harness.webhook import post_webhook

TRIVIAL = {"app.py": "def handler(event, context):\n    return event\n"}
WITH_BOTO3 = {"app.py": "import boto3\nsqs = boto3.client('sqs')\ndef handler(event, context):\n    return event\n"}
NODE = {"handler": "index.handler", "runtime": "nodejs22.x"}
NODE_TRIVIAL = {"index.js": "exports.handler = async (event) => event;\n"}
NODE_WITH_SDK = {
    "index.js": "const { SQSClient } = require('@aws-sdk/client-sqs');\nconst sqs = new SQSClient({});\n"
    "exports.handler = async (event) => event;\n"
}
TARGETS = {
    "cold_start_ms": ("<=", 150.0),
    "warm_invoke_p50_minus_gateway_rtt_ms": ("<=", 5.0),
    "drain_efficiency": (">=", 0.9),
    "ingest_ratio": (">=", 0.5),
    "webhook_ingest_10_senders_rps": (">=", 151.0),
    "direct_over_function_ingest": (">=", 2.0),
    "start_to_healthy_s": ("<=", 0.5),
    "node_over_python_warm_p50": ("<=", 1.2),
}


def timed_ms(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def cold_start_ms(lambda_client: Any, files: dict[str, str], runs: int, **function: str) -> float:
    """Median wall time of the first invoke of a fresh function (process start + init + invoke)."""
    samples = []
    for _ in range(runs):
        name = create_function(lambda_client, f"cold-{uuid.uuid4().hex[:8]}", files, **function)
        samples.append(timed_ms(lambda name=name: lambda_client.invoke(FunctionName=name, Payload=b"{}")))
        lambda_client.delete_function(FunctionName=name)
    return statistics.median(samples)


def gateway_rtt_ms(port: int, rounds: int) -> list[float]:
    connection = http.client.HTTPConnection(LOOPBACK_HOST, port, timeout=10)

    def request() -> None:
        connection.request("GET", HEALTH_PATH)
        connection.getresponse().read()

    request()
    samples = [timed_ms(request) for _ in range(rounds)]
    connection.close()
    return samples


def sqs_send_rps(settings: StackSettings, messages: int, threads: int = 10) -> float:
    sqs = aws.client("sqs", settings, max_pool_connections=threads)
    queue_url = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="warm")
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: sqs.send_message(QueueUrl=queue_url, MessageBody=f"m{i}"), range(messages)))
    rate = messages / (time.perf_counter() - started)
    sqs.delete_queue(QueueUrl=queue_url)
    return rate


DRAIN_HANDLER = (
    "import os, time\n"
    "def handler(event, context):\n"
    "    started = time.time()\n"
    "    time.sleep(float(event['Records'][0]['body']))\n"
    "    with open(os.environ['DRAIN_LOG'], 'a') as log:\n"
    "        log.write(f'{started} {time.time()} {len(event[\"Records\"])}\\n')\n"
    "    return {'batchItemFailures': []}\n"
)


def drain(
    settings: StackSettings, concurrency: int = 2, messages: int = 400, batch: int = 10, hold_s: float = 0.2
) -> tuple[float, float]:
    """(efficiency, messages/s) of draining a backlog at ``concurrency``, batch 10, ``hold_s`` per batch (a
    fixed backend latency): efficiency is the ideal drain time over the measured one.

    Measured from the first batch's start to the last batch's end, by the function's own clock (the
    embedded stack's functions run on this machine, so they can log to a local file).
    """
    tag = f"drain{concurrency}-{uuid.uuid4().hex[:6]}"
    drain_log = settings.state_path / f"{tag}.log"
    lambda_client, sqs = aws.client("lambda", settings), aws.client("sqs", settings)
    name = create_function(
        lambda_client,
        tag,
        {"app.py": DRAIN_HANDLER},
        Timeout=30,
        Environment={"Variables": {"DRAIN_LOG": str(drain_log)}},
    )
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=concurrency)
    queue_url = sqs.create_queue(QueueName=tag, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for _ in range(0, messages, 10):
        entries = [{"Id": str(n), "MessageBody": str(hold_s)} for n in range(10)]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    scaling = {"ScalingConfig": {"MaximumConcurrency": concurrency}} if concurrency >= 2 else {}
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=name, BatchSize=batch, **scaling
    )["UUID"]
    poll(
        lambda: queue_depth(sqs, queue_url).total,
        lambda total: total == 0,
        timeout_s=120,
        interval_s=0.25,
        failure=lambda total: f"drain benchmark: {total} message(s) still queued after 120 s",
    )
    batches = [line.split() for line in drain_log.read_text().splitlines()]
    assert sum(int(count) for _, _, count in batches) == messages, "the drain lost messages"
    measured = max(float(end) for _, end, _ in batches) - min(float(start) for start, _, _ in batches)
    lambda_client.delete_event_source_mapping(UUID=mapping)
    lambda_client.delete_function(FunctionName=name)
    sqs.delete_queue(QueueUrl=queue_url)
    return (messages * hold_s / (batch * concurrency)) / measured, messages / measured


def ingest_topology(settings: StackSettings, ingress: str = "function") -> str:
    """The harness's topology (through ``ingress``) with its consumer paused, so ingest is measured alone;
    its webhook URL."""
    topology = TopologySettings.from_env().replace(ingress=ingress, name_prefix=f"bench-{ingress}-")
    outputs = Deployer(settings, topology).deploy(record=False)
    aws.client("lambda", settings).update_event_source_mapping(UUID=outputs.event_source_mapping_uuid, Enabled=False)
    for _ in range(3):
        post_webhook(outputs.webhook_url, "/warm")
    return outputs.webhook_url


class KeptAliveSender:
    """One sender's connection to the webhook, kept alive between requests as Locust's users (and the
    raw SQS figure's boto3 pool) keep theirs: the ratio compares like with like."""

    def __init__(self, webhook_url: str) -> None:
        url = urllib.parse.urlsplit(webhook_url)
        self.path = url.path.rstrip("/")
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def post(self, path: str) -> int:
        self.connection.request("POST", self.path + path, body=b"{}", headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        response.read()
        return response.status


def send_on_new_connection(webhook_url: str, path: str) -> int:
    """One webhook on a connection of its own, as a plain ``urllib`` sender (most webhook senders) does."""
    request = urllib.request.Request(
        webhook_url.rstrip("/") + path, data=b"{}", headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, http.client.HTTPException):
        return 0


@dataclass(frozen=True)
class Ingest:
    accepted_per_s: float
    accepted: int
    load_generator_cpu_percent: float
    """This process's CPU meanwhile: whether it, not the stack, was the limit."""
    gateway_cpu_ms_per_webhook: float | None = None
    """The stack's gateway process's CPU per accepted webhook (with ``pid``)."""
    stack_cpu_ms_per_webhook: float | None = None
    """The same with its descendants: the function processes of either emulator."""
    answers: dict[int, int] = field(default_factory=dict)
    """HTTP status -> how many got it (0: no answer)."""


def webhook_ingest(
    webhook_url: str,
    senders: int,
    requests: int,
    warmup_per_sender: int = 0,
    kept_alive: bool = True,
    pid: int | None = None,
) -> Ingest:
    """Webhooks through the way in from ``senders`` threads, each on a kept-alive connection (as Locust's users)
    or on a new connection per webhook. The warm-up, on the same senders, is not timed: a new level of
    concurrency first cold-starts publisher environments, and counting those would measure cold starts
    (figures of their own), not ingest."""
    local = threading.local()

    def send(index: int) -> int:
        if not kept_alive:
            return send_on_new_connection(webhook_url, f"/bench/{index}")
        if not hasattr(local, "sender"):
            local.sender = KeptAliveSender(webhook_url)
        return local.sender.post(f"/bench/{index}")

    me = psutil.Process()
    stack = psutil.Process(pid) if pid else None
    with ThreadPoolExecutor(senders) as pool:
        warmup = senders * warmup_per_sender
        list(pool.map(send, range(warmup)))
        me.cpu_percent(None)
        before = cpu_seconds(stack) if stack else (0.0, 0.0)
        started = time.perf_counter()
        statuses = list(pool.map(send, range(warmup, warmup + requests)))
        elapsed = time.perf_counter() - started
        after = cpu_seconds(stack) if stack else (0.0, 0.0)
    accepted = sum(1 for status in statuses if 200 <= status < 300)
    per_webhook = [(later - earlier) * 1000 / max(accepted, 1) for earlier, later in zip(before, after, strict=True)]
    return Ingest(
        accepted / elapsed,
        accepted,
        me.cpu_percent(None),
        round(per_webhook[0], 3) if stack else None,
        round(per_webhook[1], 3) if stack else None,
        dict(Counter(statuses)),
    )


def combined(turns: list[Ingest]) -> Ingest:
    """Turns of one measurement as one: all accepted over all the time taken, CPU weighted by webhooks."""
    accepted = sum(turn.accepted for turn in turns)
    elapsed = sum(turn.accepted / turn.accepted_per_s for turn in turns if turn.accepted)

    def per_webhook(figure: str) -> float | None:
        values = [getattr(turn, figure) for turn in turns]
        if None in values or not accepted:
            return None
        return round(sum(value * turn.accepted for value, turn in zip(values, turns, strict=True)) / accepted, 3)

    return Ingest(
        accepted / elapsed if elapsed else 0.0,
        accepted,
        max(turn.load_generator_cpu_percent for turn in turns),
        per_webhook("gateway_cpu_ms_per_webhook"),
        per_webhook("stack_cpu_ms_per_webhook"),
        dict(sum((Counter(turn.answers) for turn in turns), Counter())),
    )


def cpu_seconds(process: psutil.Process) -> tuple[float, float]:
    """(the process's CPU seconds, with its descendants')."""
    own = process.cpu_times()
    total = own.user + own.system
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system
    return own.user + own.system, total


def memory_over_invocations(settings: StackSettings, pid: int, invocations: int) -> dict[str, float]:
    """LocalStack's resident memory after 1,000 and after ``invocations`` invocations of a trivial function (10
    threads), beside what the log lines those invocations stored take in CloudWatch Logs' state (measured by
    storing as many alike in the same moto backend here, with tracemalloc). Metrics are not in the
    process's memory: LocalStack keeps them in SQLite on disk."""
    lambda_client = aws.client("lambda", settings, max_pool_connections=10)
    name = create_function(lambda_client, f"leak-{uuid.uuid4().hex[:6]}", TRIVIAL)
    gateway = psutil.Process(pid)
    figures: dict[str, float] = {}
    done = 0
    with ThreadPoolExecutor(10) as pool:
        for checkpoint in (1000, invocations):
            list(pool.map(lambda _: invoked(lambda_client, name), range(checkpoint - done)))
            done = checkpoint
            time.sleep(1.5)  # the log shipper's batch window and the metrics' second, flushed into the state
            figures[f"localstack_rss_mb_after_{checkpoint}_invocations"] = gateway.memory_info().rss / 2**20
    grown = (
        figures[f"localstack_rss_mb_after_{invocations}_invocations"]
        - figures["localstack_rss_mb_after_1000_invocations"]
    )
    figures["localstack_rss_mb_per_1000_invocations"] = grown * 1000 / (invocations - 1000)
    lines = invocation_log_lines(aws.client("logs", settings), name)
    figures["log_lines_per_invocation"] = len(lines)
    figures["stored_logs_mb_per_1000_invocations"] = stored_log_bytes(lines, 1000) / 2**20
    lambda_client.delete_function(FunctionName=name)
    return figures


def invoked(lambda_client: Any, name: str) -> bytes:
    """One invocation, its answer read (an unread answer keeps its connection from the pool: a new one each time)."""
    return lambda_client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()


def one_round(settings: StackSettings, bench: BenchSettings) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """One round on a stack of its own: (figures, curves). Ratios are taken within the round."""
    stack = EmbeddedStack(settings)
    started = time.perf_counter()
    stack.start(progress=lambda message: print(f"  {message}", file=sys.stderr))
    results: dict[str, float] = {
        "start_to_healthy_s": stack.healthy_after_s,  # process start to the health endpoint answering
        "start_to_ready_s": time.perf_counter() - started,  # and Lambda, SQS, DynamoDB loaded
    }
    curves: dict[str, dict[str, float]] = {}
    try:
        lambda_client = aws.client("lambda", settings)
        runs = bench.cold_runs
        results["cold_start_ms"] = cold_start_ms(lambda_client, TRIVIAL, runs)
        results["cold_start_boto3_ms"] = cold_start_ms(lambda_client, WITH_BOTO3, runs)
        results["cold_start_node_ms"] = cold_start_ms(lambda_client, NODE_TRIVIAL, runs, **NODE)
        results["cold_start_node_sdk_ms"] = cold_start_ms(lambda_client, NODE_WITH_SDK, runs, **NODE)
        for suffix, files, function in (("", TRIVIAL, {}), ("_node", NODE_TRIVIAL, NODE)):
            name = create_function(lambda_client, f"warm{suffix}", files, **function)
            lambda_client.invoke(FunctionName=name, Payload=b"{}")
            script = "runtime.js" if function else "runtime.py"
            (environment,) = [
                process
                for process in EmbeddedStack.function_processes(stack.status().pid)
                if any(part.endswith(script) for part in process.cmdline())
            ]
            results[f"env_rss{suffix}_mb"] = environment.memory_info().rss / 2**20
            warm = [
                timed_ms(lambda name=name: lambda_client.invoke(FunctionName=name, Payload=b"{}"))
                for _ in range(bench.invokes)
            ]
            results[f"warm_invoke{suffix}_p50_ms"] = percentile(warm, 0.5)
            results[f"warm_invoke{suffix}_p99_ms"] = percentile(warm, 0.99)
            results[f"invokes{suffix}_per_s"] = 1000 * len(warm) / sum(warm)
        results["raw_gateway_rtt_ms"] = percentile(gateway_rtt_ms(settings.port, bench.invokes), 0.5)
        results["warm_invoke_p50_minus_gateway_rtt_ms"] = results["warm_invoke_p50_ms"] - results["raw_gateway_rtt_ms"]
        results["node_over_python_warm_p50"] = results["warm_invoke_node_p50_ms"] / results["warm_invoke_p50_ms"]
        results["raw_sqs_send_rps"] = sqs_send_rps(settings, bench.sqs_messages)
        webhook_url, direct_url = ingest_topology(settings), ingest_topology(settings, "direct")
        pid = stack.status().pid
        results["localstack_rss_mb"] = psutil.Process(pid).memory_info().rss / 2**20
        generator_cpu = []
        ways = (("", webhook_url), ("_direct", direct_url))
        for way, url in ways:
            ingest = {}
            for senders in bench.sender_counts():
                measured = webhook_ingest(url, senders, bench.ingest_requests, bench.ingest_warmup)
                ingest[str(senders)] = measured.accepted_per_s
                generator_cpu.append(measured.load_generator_cpu_percent)
            curves[f"webhook_ingest{way}_rps_by_senders"] = ingest
        turns: dict[str, list[Ingest]] = {way: [] for way, _ in ways}
        for _ in range(bench.ten_sender_turns):
            for way, url in ways:
                turns[way].append(webhook_ingest(url, 10, bench.ingest_requests, bench.ingest_warmup, pid=pid))
        for way, measured in turns.items():
            ten = combined(measured)
            results[f"webhook_ingest{way}_10_senders_rps"] = ten.accepted_per_s
            results[f"gateway_cpu_ms_per_webhook{way}"] = ten.gateway_cpu_ms_per_webhook
        results["webhook_ingest_rps"] = max(curves["webhook_ingest_rps_by_senders"].values())
        results["ingest_ratio"] = results["webhook_ingest_rps"] / results["raw_sqs_send_rps"]
        results["direct_over_function_ingest"] = (
            results["webhook_ingest_direct_10_senders_rps"] / results["webhook_ingest_10_senders_rps"]
        )
        results["load_generator_cpu_percent"] = max(generator_cpu)
        results.update(memory_over_invocations(settings, pid, bench.leak_invocations))
        efficiency, throughput = {}, {}
        for concurrency in bench.consumer_counts():
            efficiency[str(concurrency)], throughput[str(concurrency)] = drain(
                settings, concurrency, hold_s=bench.drain_hold_s
            )
        curves["drain_efficiency_by_concurrency"] = efficiency
        curves["drain_messages_per_s_by_concurrency"] = throughput
        results["drain_efficiency"] = efficiency.get("2", min(efficiency.values()))
        return results, curves
    finally:
        stack.stop()


def run(settings: StackSettings, bench: BenchSettings) -> dict[str, Any]:
    """``bench.rounds`` rounds, each on a fresh stack; every figure the median of the rounds with its range."""
    rounds, curve_rounds = [], []
    for number in range(1, bench.rounds + 1):
        print(f"round {number} of {bench.rounds}", file=sys.stderr)
        figures, curves = one_round(settings, bench)
        rounds.append(figures)
        curve_rounds.append(curves)
    summary: dict[str, Any] = {"rounds": bench.rounds}
    for key in rounds[0]:
        values = [figures[key] for figures in rounds]
        summary[key] = round(statistics.median(values), 2)
        summary[f"{key}_range"] = [round(min(values), 2), round(max(values), 2)]
    summary["curves"] = {
        name: {
            x: round(statistics.median(curves[name][x] for curves in curve_rounds), 2) for x in curve_rounds[0][name]
        }
        for name in curve_rounds[0]
    }
    return summary


def write(results: dict, path: Path) -> None:
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


def table(summary: dict[str, Any]) -> str:
    """The figures (median and range of the rounds, with their targets) and the curves, as printed."""
    lines = [f"{'key':<40} {'median':>10}  {'range (min-max)':<20} target"]
    for key, value in summary.items():
        if key in {"rounds", "curves"} or key.endswith("_range"):
            continue
        low, high = summary[f"{key}_range"]
        target, verdict = TARGETS.get(key), ""
        if target:
            met = value <= target[1] if target[0] == "<=" else value >= target[1]
            verdict = f"{target[0]} {target[1]:g}: {'met' if met else 'MISSED'}"
        lines.append(f"{key:<40} {value:>10.2f}  {f'{low:g}-{high:g}':<20} {verdict}")
    for name, curve in summary["curves"].items():
        lines.append(f"{name}: " + ", ".join(f"{x}: {y:g}" for x, y in curve.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__)
    add_flags(parser, BenchSettings)
    add_flags(parser, StackSettings, ["state_dir"])
    args = parser.parse_args(argv)
    check_config_file()
    base = StackSettings.from_env(**given(args, StackSettings))
    settings = StackSettings.from_env(port=free_port(), state_dir=base.state_dir / "bench")
    summary = run(settings, BenchSettings.from_env(**given(args, BenchSettings)))
    output = Path("reports/bench.json")
    write(summary, output)
    print(table(summary))
    print(f"({summary['rounds']} rounds, each on a fresh stack; written to {output})")
    return 0
