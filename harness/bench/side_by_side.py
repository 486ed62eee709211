"""`make side-by-side`: webhook ingest of this code against another emulator, or another checkout of this
harness, on the same machine in the same hour, the stacks taking turns.

This VM's speed drifts by more than half within an hour, so figures taken on different days cannot be
compared; stacks measured in turns, by the same client, against the same topology can. Each turn starts
one stack alone on a free port of 127.0.0.1, deploys the harness's topology on it (consumer paused, so
ingest is measured alone), sends ``requests`` webhooks from ``senders`` threads, counts the accepted
ones and the stack's CPU, and stops it. The peer, MiniStack (PyPI), is installed at its pinned version
into a virtual environment of its own under the state folder; another checkout runs from its own
folder (``git worktree add ../base HEAD~1``). Writes ``reports/side-by-side.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.bench.benchmark import ingest_topology, webhook_ingest
from harness.bench.config import SideBySideSettings
from harness.exceptions import HarnessError
from harness.network import LOOPBACK_HOST, free_port
from harness.polling import poll
from harness.settings.flags import add_flags, given
from harness.settings.registry import check_config_file
from harness.stack import HEALTH_PATH
from harness.stack.base import read_record
from harness.stack.config import StackSettings

REPORT = Path("reports/side-by-side.json")


def pip_install(python: Path) -> list[str]:
    return [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


class Target:
    """One emulator the kit can start, measure and stop."""

    label: str

    def start(self, settings: StackSettings) -> int:
        """Start on ``settings.port``, wait until it answers; the pid of its gateway process."""
        raise NotImplementedError

    def stop(self, settings: StackSettings) -> None:
        raise NotImplementedError


@dataclass
class HarnessTree(Target):
    """A checkout of this harness (this one: ``path`` None), its embedded stack started by its own CLI."""

    path: Path | None = None
    label: str = "this code"

    def _run(self, *arguments: str, settings: StackSettings) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        if self.path is not None:
            env["PYTHONPATH"] = str(self.path.resolve())
        command = [sys.executable, "-m", "harness.cli", *arguments, "--port", str(settings.port)]
        command += ["--state-dir", str(settings.state_dir.resolve())]
        return subprocess.run(command, env=env, cwd=self.path or Path.cwd(), capture_output=True, text=True)

    def start(self, settings: StackSettings) -> int:
        done = self._run("up", "--no-deploy", settings=settings)
        if done.returncode:
            raise HarnessError(f"{self.label} did not start: {done.stderr.strip()[-800:]}")
        record = read_record(settings)
        if not record or not record.get("pid"):
            raise HarnessError(f"{self.label} started but left no record in {settings.state_dir}")
        return int(record["pid"])

    def stop(self, settings: StackSettings) -> None:
        self._run("down", settings=settings)


@dataclass
class MiniStack(Target):
    """MiniStack from PyPI at a pinned version, in a virtual environment of its own (with boto3, which
    its Python functions import as Lambda's runtime provides it), bound to 127.0.0.1."""

    version: str
    home: Path
    label: str = "MiniStack"

    def __post_init__(self) -> None:
        self.label = f"MiniStack {self.version}"
        self.process: subprocess.Popen | None = None

    @property
    def python(self) -> Path:
        return self.home / "bin" / "python"

    def install(self, progress: Callable[[str], None]) -> None:
        marker = self.home / f".ministack-{self.version}"
        if marker.exists():
            return
        progress(f"installing ministack=={self.version} and boto3 into {self.home} (PyPI) ...")
        shutil.rmtree(self.home, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(self.home)], check=True)
        installed = subprocess.run(
            [*pip_install(self.python), f"ministack=={self.version}", "boto3"],
            capture_output=True,
            text=True,
        )
        if installed.returncode:
            raise HarnessError(
                f"could not install ministack=={self.version} from PyPI: {installed.stderr.strip()[-800:]}; "
                "check the registry, or compare against another checkout only (--peer none)"
            )
        marker.touch()

    def start(self, settings: StackSettings) -> int:
        state = settings.state_dir.resolve()
        state.mkdir(parents=True, exist_ok=True)
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "LOCALSTACK_"))},
            "GATEWAY_PORT": str(settings.port),
            "BIND_HOST": LOOPBACK_HOST,  # its default is every interface
            "TMPDIR": str(state),
            "LOG_LEVEL": "WARNING",
        }
        with open(state / "ministack.log", "ab") as log:
            self.process = subprocess.Popen(
                [str(self.python), "-m", "ministack"],
                env=env,
                cwd=state,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        poll(
            lambda: _answers(settings.port) or self.process.poll() is not None,
            lambda ready: ready,
            timeout_s=60,
            interval_s=0.2,
            failure=lambda _: f"{self.label} did not answer within 60 s; see {state / 'ministack.log'}",
        )
        if self.process.poll() is not None:
            raise HarnessError(
                f"{self.label} exited with code {self.process.returncode}; see {state / 'ministack.log'}"
            )
        return self.process.pid

    def stop(self, settings: StackSettings) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK_HOST}:{port}{HEALTH_PATH}", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def turn(target: Target, settings: StackSettings, options: SideBySideSettings) -> dict[str, dict[str, float]]:
    pid = target.start(settings)
    try:
        figures = {}
        for ingress in options.ingress_ways():
            webhook_url = ingest_topology(settings, ingress)
            for client in options.client_kinds():
                key = f"{ingress}/{client}"
                measured = webhook_ingest(
                    webhook_url, options.side_senders, options.side_requests, 10, client == "kept-alive", pid
                )
                figures[key] = {
                    "accepted_per_s": measured.accepted_per_s,
                    "accepted": measured.accepted,
                    "gateway_cpu_ms_per_webhook": measured.gateway_cpu_ms_per_webhook or 0.0,
                    "stack_cpu_ms_per_webhook": measured.stack_cpu_ms_per_webhook or 0.0,
                    "answers": measured.answers,
                }
        return figures
    finally:
        target.stop(settings)


def run(options: SideBySideSettings, base: StackSettings, progress: Callable[[str], None]) -> dict[str, Any]:
    targets: list[Target] = [HarnessTree()]
    targets += [HarnessTree(Path(tree), f"checkout {tree}") for tree in options.tree_paths()]
    if options.side_peer == "ministack":
        home = (base.state_dir / "peers" / f"ministack-{options.side_peer_version}").resolve()
        peer = MiniStack(options.side_peer_version, home)
        peer.install(progress)
        targets.append(peer)
    turns: dict[str, list[dict[str, dict[str, float]]]] = {target.label: [] for target in targets}
    for number in range(1, options.side_rounds + 1):
        for target in targets:
            progress(f"round {number} of {options.side_rounds}: {target.label}")
            settings = StackSettings.from_env(port=free_port(), state_dir=base.state_dir / "side-by-side")
            figures = turn(target, settings, options)
            turns[target.label].append(figures)
            for key, measured in figures.items():
                progress(
                    f"  {key}: {measured['accepted_per_s']:.1f} accepted/s, "
                    f"{measured['gateway_cpu_ms_per_webhook']:.2f} ms of its gateway's CPU per webhook"
                )
    return summarise(turns, options)


def summarise(turns: dict[str, list[dict[str, dict[str, float]]]], options: SideBySideSettings) -> dict[str, Any]:
    """Per stack and measurement: the median of the turns, each turn's value, and ratios to this code."""
    summary: dict[str, Any] = {
        "senders": options.side_senders,
        "requests": options.side_requests,
        "rounds": options.side_rounds,
        "stacks": {},
    }
    for label, rounds in turns.items():
        stack: dict[str, Any] = {}
        for key in rounds[0]:
            stack[key] = {
                figure: {
                    "median": round(statistics.median(turn[key][figure] for turn in rounds), 2),
                    "turns": [round(turn[key][figure], 2) for turn in rounds],
                }
                for figure in rounds[0][key]
                if figure != "answers"
            }
            stack[key]["answers"] = [turn[key]["answers"] for turn in rounds]
        summary["stacks"][label] = stack
    ours = summary["stacks"][HarnessTree.label]
    for stack in summary["stacks"].values():
        for key, figures in stack.items():
            theirs = figures["accepted_per_s"]["median"]
            figures["this_code_over_it"] = round(ours[key]["accepted_per_s"]["median"] / theirs, 2) if theirs else None
    return summary


def table(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['senders']} senders, {summary['requests']} webhooks per turn, {summary['rounds']} turns per stack "
        "(stacks alternating)",
        f"{'stack':<28} {'way in / client':<24} {'accepted/s (turns)':<28} {'gateway ms/webhook':>18} "
        f"{'with functions':>15} {'this code / it':>15}",
    ]
    for label, stack in summary["stacks"].items():
        for key, figures in stack.items():
            rate = figures["accepted_per_s"]
            if not rate["median"]:
                answers = ", ".join(f"{status or 'none'} x{count}" for status, count in figures["answers"][0].items())
                lines.append(f"{label:<28} {key:<24} none accepted (answers: {answers})")
                continue
            rates = f"{rate['median']:g} (" + ", ".join(f"{value:g}" for value in rate["turns"]) + ")"
            lines.append(
                f"{label:<28} {key:<24} {rates:<28} "
                f"{figures['gateway_cpu_ms_per_webhook']['median']:>18.2f} "
                f"{figures['stack_cpu_ms_per_webhook']['median']:>15.2f} {figures['this_code_over_it']:>15.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.bench.side_by_side", description=__doc__)
    add_flags(parser, SideBySideSettings)
    add_flags(parser, StackSettings, ["state_dir"])
    args = parser.parse_args(argv)
    check_config_file()
    options = SideBySideSettings.from_env(**given(args, SideBySideSettings))
    base = StackSettings.from_env(**given(args, StackSettings))
    try:
        summary = run(options, base, lambda message: print(message, file=sys.stderr))
    except HarnessError as error:
        print(f"side-by-side: {error}", file=sys.stderr)
        return 2
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(summary, indent=2) + "\n")
    print(table(summary))
    print(f"(written to {REPORT})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
