"""`harness` command line. Every flag has a HARNESS_* environment variable of the same name."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness.exceptions import AlreadyRunningError, HarnessError
from harness.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        port=getattr(args, "port", None),
        state_dir=getattr(args, "state_dir", None),
        publisher_dir=getattr(args, "publisher", None),
        subscriber_dir=getattr(args, "subscriber", None),
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    from harness.stack.embedded import EmbeddedStack

    settings = _settings(args)  # validated, topology included, before anything starts
    stack = EmbeddedStack(settings)
    _say(f"starting LocalStack 4.8.1 (embedded) on {settings.endpoint_url} ...")
    try:
        endpoint = stack.start(progress=_say)
        _say(f"LocalStack is healthy; log: {stack.log_file}")
    except AlreadyRunningError:
        status = stack.status()
        if not status.healthy:
            raise
        _say(f"LocalStack is already running (pid {status.pid}); no second copy started, deploying to it")
        endpoint = settings.endpoint_url
    if args.no_deploy:
        print(f"endpoint: {endpoint}")
        return 0
    return cmd_deploy(args)


def cmd_deploy(args: argparse.Namespace) -> int:
    from harness.deploy import Deployer

    settings = _settings(args)
    for warning in settings.warnings():
        _say(f"warning: {warning}")
    _say(f"deploying the webhook topology to {settings.endpoint_url} ...")
    deployer = Deployer(settings, say=_say)
    outputs = deployer.deploy()
    if not deployer.changes:
        _say("  everything was up to date")
    _print_outputs(outputs)
    return 0


def cmd_outputs(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from harness.deploy import Outputs, outputs_path

    outputs = Outputs.load(outputs_path(_settings(args)))
    if args.json:
        print(json.dumps(dataclasses.asdict(outputs), indent=2))
    else:
        _print_outputs(outputs)
    return 0


def cmd_rows(args: argparse.Namespace) -> int:
    from harness import aws, observe
    from harness.deploy import Outputs, outputs_path

    settings = _settings(args)
    outputs = Outputs.load(outputs_path(settings))
    found = observe.rows(aws.client("dynamodb", settings), outputs.table_name)
    if args.id:
        found = [row for row in found if row["id"] == args.id]
    found.sort(key=lambda row: row.get("written_at_ms") or 0)
    for row in found[-args.limit :]:
        print(f"{row['id']}  {row.get('message')}")
    _say(f"{len(found)} row(s) in {outputs.table_name}")
    return 0 if found or not args.id else 1


def cmd_dlq(args: argparse.Namespace) -> int:
    from harness import aws, observe
    from harness.deploy import Outputs, outputs_path

    settings = _settings(args)
    outputs = Outputs.load(outputs_path(settings))
    messages = observe.peek_messages(aws.client("sqs", settings), outputs.dlq_url)
    for message in messages:
        print(f"{message.item_id}  receives={message.receive_count}  {message.body[:120]}")
    _say(f"{len(messages)} message(s) in the DLQ {outputs.dlq_url}")
    return 0


def _print_outputs(outputs) -> None:
    print(f"webhook URL:  {outputs.webhook_url}")
    print(f"queue:        {outputs.queue_url}")
    print(f"DLQ:          {outputs.dlq_url}")
    print(f"table:        {outputs.table_name}")
    print(f"functions:    {outputs.publisher_name}, {outputs.subscriber_name}")
    print(f"try:          curl -X POST {outputs.webhook_url}/hello")


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
    functions = argparse.ArgumentParser(add_help=False)
    functions.add_argument(
        "--publisher", help="folder with your own publisher handler (HARNESS_PUBLISHER_DIR)"
    )
    functions.add_argument(
        "--subscriber", help="folder with your own subscriber handler (HARNESS_SUBSCRIBER_DIR)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, help_text, parents in (
        ("up", cmd_up, "start the embedded stack, then deploy the topology", [common, functions]),
        ("deploy", cmd_deploy, "create or update the topology (idempotent)", [common, functions]),
        ("outputs", cmd_outputs, "webhook URL, queue URLs, table and function names", [common]),
        ("rows", cmd_rows, "rows in the backend table (newest last)", [common]),
        ("dlq", cmd_dlq, "messages in the dead-letter queue (left in place)", [common]),
        ("down", cmd_down, "stop the stack and every function process it started", [common]),
        ("status", cmd_status, "is the stack running and healthy", [common]),
        ("config", cmd_config, "show the effective settings and their environment variables", [common]),
    ):
        sub = commands.add_parser(name, parents=parents, help=help_text)
        sub.set_defaults(handler=handler)
        if name == "up":
            sub.add_argument("--no-deploy", action="store_true", help="start the stack only")
        if name == "outputs":
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "rows":
            sub.add_argument("--id", help="only the row with this id (exit 1 when absent)")
            sub.add_argument("--limit", type=int, default=20, help="how many rows to print (default 20)")
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
