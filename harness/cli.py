"""`harness` command line. Every flag has a HARNESS_* environment variable of the same name."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness.exceptions import HarnessError
from harness.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(port=getattr(args, "port", None), state_dir=getattr(args, "state_dir", None))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    from harness.stack.embedded import EmbeddedStack

    settings = _settings(args)
    stack = EmbeddedStack(settings)
    _say(f"starting LocalStack 4.8.1 (embedded) on {settings.endpoint_url} ...")
    endpoint = stack.start(progress=_say)
    _say(f"LocalStack is healthy; log: {stack.log_file}")
    print(f"endpoint: {endpoint}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from harness.stack.embedded import EmbeddedStack

    ended = EmbeddedStack(_settings(args)).stop()
    _say(f"stopped {ended} process(es)" if ended else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from harness.stack.embedded import EmbeddedStack

    status = EmbeddedStack(_settings(args)).status()
    if not status.running:
        print("stopped")
        return 1
    health = "healthy" if status.healthy else "NOT healthy"
    print(
        f"running (pid {status.pid}) at {status.endpoint}, {health}, "
        f"{status.function_processes} function process(es)"
    )
    return 0 if status.healthy else 1


def cmd_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rows = settings.describe()
    width = max(len(env) for _, _, env, _ in rows)
    for _name, value, env, help_text in rows:
        print(f"{env:<{width}}  {value!s:<12}  {help_text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--port", type=int, help="LocalStack port on 127.0.0.1 (HARNESS_PORT, default 4566)")
    common.add_argument("--state-dir", help="state folder (HARNESS_STATE_DIR, default .harness)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, help_text in (
        ("up", cmd_up, "start the embedded stack and wait until it is healthy"),
        ("down", cmd_down, "stop the stack and every function process it started"),
        ("status", cmd_status, "is the stack running and healthy"),
        ("config", cmd_config, "show the effective settings and their environment variables"),
    ):
        commands.add_parser(name, parents=[common], help=help_text).set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except HarnessError as exc:
        _say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
