"""Settings of `make bench`: how many rounds, and the points of its curves."""

from __future__ import annotations

from dataclasses import dataclass

from harness.settings import SettingsGroup, option


@dataclass(frozen=True)
class BenchSettings(SettingsGroup):
    title = "bench"

    rounds: int = option(
        3,
        "benchmark rounds, each on a fresh stack: every figure is their median",
        low=1,
        high=20,
        env="HARNESS_BENCH_ROUNDS",
    )
    invokes: int = option(300, "sequential warm invokes per runtime and round", low=10, env="HARNESS_BENCH_INVOKES")
    cold_runs: int = option(
        5, "cold starts per function kind and round (their median)", low=1, env="HARNESS_BENCH_COLD_RUNS"
    )
    sqs_messages: int = option(
        2000, "SendMessage calls of the raw SQS figure", low=100, env="HARNESS_BENCH_SQS_MESSAGES"
    )
    ingest_requests: int = option(
        500, "webhooks per point of the ingest curve", low=20, env="HARNESS_BENCH_INGEST_REQUESTS"
    )
    ingest_warmup: int = option(
        10,
        "webhooks per sender sent before each ingest point is timed, not counted: the publisher environments "
        "that many senders keep busy are started first (cold starts are figures of their own)",
        low=0,
        high=1000,
        env="HARNESS_BENCH_INGEST_WARMUP",
    )
    senders: str = option(
        "1,2,4,8,16", "the ingest curve: concurrent senders at each point", env="HARNESS_BENCH_SENDERS"
    )
    consumers: str = option(
        "1,2,4,8", "the drain curve: consumer concurrency at each point", env="HARNESS_BENCH_CONSUMERS"
    )
    drain_hold_s: float = option(
        0.2, "the drain's fixed backend latency per batch (seconds)", low=0.01, high=5, env="HARNESS_BENCH_DRAIN_HOLD_S"
    )

    def sender_counts(self) -> list[int]:
        return _counts(self.senders)

    def consumer_counts(self) -> list[int]:
        return _counts(self.consumers)

    def problems(self) -> list[str]:
        problems = []
        for name in ("senders", "consumers"):
            try:
                _counts(getattr(self, name))
            except ValueError:
                problems.append(f"{name}={getattr(self, name)!r}: expected positive whole numbers, e.g. 1,2,4,8")
        return problems


def _counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise ValueError(text)
    return counts
