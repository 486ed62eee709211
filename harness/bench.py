"""`make bench`: measures the embedded stack and writes ``reports/bench.json``.

Runs a stack of its own (free port, state in ``.harness/bench``, so LocalStack's caches survive between
runs) and leaves nothing running. Keys already in bench.json from other benchmarks are kept.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from harness import aws
from harness.observe import queue_depth
from harness.polling import poll
from harness.settings import LOOPBACK_HOST
from harness.stack import HEALTH_PATH
from harness.stack.config import StackSettings
from harness.stack.embedded import EmbeddedStack, free_port
from harness.stats import percentile
from harness.testing.pytest_plugin import create_function, post_webhook
from harness.topology.config import TopologySettings
from harness.topology.deploy import Deployer

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


def drain_efficiency(settings: StackSettings, messages: int = 400, batch: int = 10, hold_s: float = 0.2) -> float:
    """Ideal / measured drain time of a backlog at concurrency 2, batch 10, 0.2 s per batch.

    Measured from the first batch's start to the last batch's end, by the function's own clock (the
    embedded stack's functions run on this machine, so they can log to a local file).
    """
    concurrency = 2
    drain_log = settings.state_path / "drain.log"
    drain_log.unlink(missing_ok=True)
    lambda_client, sqs = aws.client("lambda", settings), aws.client("sqs", settings)
    name = create_function(
        lambda_client,
        "drain",
        {"app.py": DRAIN_HANDLER},
        Timeout=30,
        Environment={"Variables": {"DRAIN_LOG": str(drain_log)}},
    )
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=concurrency)
    queue_url = sqs.create_queue(QueueName="drain", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for _ in range(0, messages, 10):
        entries = [{"Id": str(n), "MessageBody": str(hold_s)} for n in range(10)]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    lambda_client.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=name,
        BatchSize=batch,
        ScalingConfig={"MaximumConcurrency": concurrency},
    )
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
    return (messages * hold_s / (batch * concurrency)) / measured


def webhook_ingest(settings: StackSettings, requests: int = 400) -> tuple[float, float]:
    """Accepted webhooks per second through API Gateway -> publisher -> SQS, the best of 2 and 10 senders.

    The consumer's mapping is paused meanwhile, so this is the ingest path alone. Also the load
    generator's own CPU (this process), to show it is not the bottleneck.
    """
    outputs = Deployer(settings, TopologySettings.from_env()).deploy()
    lambda_client = aws.client("lambda", settings)
    lambda_client.update_event_source_mapping(UUID=outputs.event_source_mapping_uuid, Enabled=False)
    for _ in range(3):
        post_webhook(outputs.webhook_url, "/warm")
    me = psutil.Process()
    best, cpu = 0.0, 0.0
    for threads in (2, 10):
        me.cpu_percent(None)
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            statuses = list(pool.map(lambda i: post_webhook(outputs.webhook_url, f"/bench/{i}")[0], range(requests)))
        rate = statuses.count(202) / (time.perf_counter() - started)
        if rate > best:
            best, cpu = rate, me.cpu_percent(None)
    return best, cpu


def run(settings: StackSettings, invokes: int = 300, cold_runs: int = 5, sqs_messages: int = 2000) -> dict:
    stack = EmbeddedStack(settings)
    stack.start(progress=lambda message: print(message, file=sys.stderr))
    try:
        lambda_client = aws.client("lambda", settings)
        results: dict[str, float] = {
            "cold_start_ms": cold_start_ms(lambda_client, TRIVIAL, cold_runs),
            "cold_start_boto3_ms": cold_start_ms(lambda_client, WITH_BOTO3, cold_runs),
            "cold_start_node_ms": cold_start_ms(lambda_client, NODE_TRIVIAL, cold_runs, **NODE),
            "cold_start_node_sdk_ms": cold_start_ms(lambda_client, NODE_WITH_SDK, cold_runs, **NODE),
        }
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
                for _ in range(invokes)
            ]
            results[f"warm_invoke{suffix}_p50_ms"] = percentile(warm, 0.5)
            results[f"warm_invoke{suffix}_p99_ms"] = percentile(warm, 0.99)
            if not suffix:
                results["invokes_per_s"] = 1000 * len(warm) / sum(warm)
        results["raw_gateway_rtt_ms"] = percentile(gateway_rtt_ms(settings.port, invokes), 0.5)
        results["warm_invoke_p50_minus_gateway_rtt_ms"] = results["warm_invoke_p50_ms"] - results["raw_gateway_rtt_ms"]
        results["raw_sqs_send_rps"] = sqs_send_rps(settings, sqs_messages)
        results["drain_efficiency"] = drain_efficiency(settings)
        ingest_rps, generator_cpu = webhook_ingest(settings)
        results["webhook_ingest_rps"] = ingest_rps
        results["ingest_ratio"] = ingest_rps / results["raw_sqs_send_rps"]
        results["load_generator_cpu_percent"] = generator_cpu
        results["localstack_rss_mb"] = psutil.Process(stack.status().pid).memory_info().rss / 2**20
        return {key: round(value, 2) for key, value in results.items()}
    finally:
        stack.stop()


def write(results: dict, path: Path) -> None:
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


def main() -> int:
    base = StackSettings.from_env()
    settings = StackSettings.from_env(port=free_port(), state_dir=base.state_dir / "bench")
    results = run(settings)
    output = Path("reports/bench.json")
    write(results, output)
    width = max(map(len, results))
    for key, value in results.items():
        target = TARGETS.get(key)
        verdict = ""
        if target:
            met = value <= target[1] if target[0] == "<=" else value >= target[1]
            verdict = f"  target {target[0]} {target[1]:g}: {'met' if met else 'MISSED'}"
        print(f"{key:<{width}}  {value:>10.2f}{verdict}")
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
