"""Settings of `make bench`: how many rounds, and the points of its curves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    ten_sender_turns: int = option(
        3,
        "turns of the 10-sender figures, the two ways in alternating, so both see the same minutes of this "
        "machine (their ratio is one of the targets)",
        low=1,
        high=10,
        env="HARNESS_BENCH_TEN_SENDER_TURNS",
    )
    senders: str = option(
        "1,2,4,8,16", "the ingest curve: concurrent senders at each point", env="HARNESS_BENCH_SENDERS"
    )
    consumers: str = option(
        "1,2,4,8", "the drain curve: consumer concurrency at each point", env="HARNESS_BENCH_CONSUMERS"
    )
    leak_invocations: int = option(
        10_000,
        "invocations of a trivial function after which LocalStack's resident memory is read again (first after "
        "1,000): what it keeps per invocation",
        low=2000,
        env="HARNESS_BENCH_LEAK_INVOCATIONS",
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


PEERS = ("ministack", "none")
CLIENTS = ("new-connection", "kept-alive")
WAYS_IN = ("function", "direct")


@dataclass(frozen=True)
class SideBySideSettings(SettingsGroup):
    title = "side-by-side"

    side_peer: str = option(
        "ministack",
        "the other emulator measured in turns with this code: MiniStack (installed from PyPI at side_peer_version into "
        "the state folder), or none",
        choices=PEERS,
    )
    side_peer_version: str = option("1.5.33", "the MiniStack release compared against")
    side_trees: str = option(
        "",
        "other checkouts of this harness measured in turns too, comma-separated folders (e.g. a "
        "`git worktree add ../base HEAD~1`)",
    )
    side_rounds: int = option(2, "turns per stack: the stacks alternate", low=1, high=10)
    side_senders: int = option(10, "concurrent senders", low=1, high=100)
    side_requests: int = option(1500, "webhooks per turn, timed", low=50)
    side_clients: str = option(
        "new-connection,kept-alive",
        "how senders connect: new-connection (plain urllib, a connection per webhook) and/or kept-alive",
    )
    side_ways_in: str = option("function", "function and/or direct (API Gateway straight to SQS)")

    def tree_paths(self) -> list[str]:
        return [part.strip() for part in self.side_trees.split(",") if part.strip()]

    def client_kinds(self) -> list[str]:
        return _names(self.side_clients)

    def ingress_ways(self) -> list[str]:
        return _names(self.side_ways_in)

    def problems(self) -> list[str]:
        problems = []
        for name, allowed in (("side_clients", CLIENTS), ("side_ways_in", WAYS_IN)):
            chosen = _names(getattr(self, name))
            if not chosen or set(chosen) - set(allowed):
                problems.append(f"{name}={getattr(self, name)!r}: expected one or more of {', '.join(allowed)}")
        problems += [
            f"trees: {tree} is not a folder with a harness/ package"
            for tree in self.tree_paths()
            if not (Path(tree) / "harness" / "__init__.py").exists()
        ]
        return problems


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
