"""`harness` command line. Every flag has a HARNESS_* environment variable of the same name."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError

from harness.backend.config import POSTGRES_RESERVED_CONNECTIONS, BackendSettings
from harness.exceptions import AlreadyRunningError, HarnessError, SettingsError
from harness.load.config import LoadSettings
from harness.stack.config import StackSettings
from harness.topology.config import TemplateSettings, TopologySettings


def _stack(args: argparse.Namespace) -> StackSettings:
    return StackSettings.from_env(port=getattr(args, "port", None), state_dir=getattr(args, "state_dir", None))


def _topology(args: argparse.Namespace) -> TopologySettings:
    return TopologySettings.from_env(
        publisher_dir=getattr(args, "publisher", None), subscriber_dir=getattr(args, "subscriber", None)
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    from harness.backend import deployed_settings
    from harness.stack import stack_for, started_stack

    settings = _stack(args)
    backend = deployed_settings(settings)
    if not args.no_deploy and not _template(args).template:
        _topology(args)  # validated before anything starts
    running = started_stack(settings)
    if running.kind != settings.stack and running.status().running:
        raise HarnessError(
            f"a {running.kind} stack is running from {settings.state_dir}; stop it with `make down` before "
            f"starting a {settings.stack} one (HARNESS_STACK={settings.stack})"
        )
    stack = stack_for(settings)
    mode = "Docker Compose" if stack.kind == "docker" else "embedded"
    _say(f"starting LocalStack 4.8.1 ({mode}) on {settings.host_endpoint_url} ...")
    try:
        endpoint = stack.start(progress=_say)
        _say(f"LocalStack is healthy; log: {stack.log_location}")
    except AlreadyRunningError:
        status = stack.status()
        if not status.healthy:
            raise
        pid = f" (pid {status.pid})" if status.pid else ""
        _say(f"LocalStack is already running{pid}; no second copy started, deploying to it")
        endpoint = settings.endpoint_url
    if backend.backend == "postgres":
        from harness.backend.postgres import server_for

        connection = server_for(settings, backend).start(progress=_say)
        _say(f"PostgreSQL is ready: {connection.url} (capacity {backend.backend_max_connections} connections)")
    if args.no_deploy:
        print(f"endpoint: {endpoint}")
        return 0
    return cmd_deploy(args)


def _template(args: argparse.Namespace) -> TemplateSettings:
    picks = ("template", "stack_name", "publisher_function", "subscriber_function", "table", "stage")
    overrides = {name: getattr(args, name, None) for name in picks}
    pairs = getattr(args, "parameter_overrides", None)
    return TemplateSettings.from_env(**overrides, parameter_overrides=" ".join(pairs) if pairs else None)


def _recorded_template(stack: StackSettings, settings: TemplateSettings) -> TemplateSettings:
    """With no template given, the one the recorded deployment came from (`make down && make up` restores it)."""
    from harness.outputs import Outputs, outputs_path

    if settings.template or not outputs_path(stack).is_file():
        return settings
    recorded = Outputs.read(outputs_path(stack))
    if not recorded.template:
        return settings
    return settings.replace(template=recorded.template, stack_name=settings.stack_name or recorded.stack_name)


def cmd_deploy(args: argparse.Namespace) -> int:
    from harness.topology.deploy import Deployer

    stack = _stack(args)
    template = _template(args)
    if args.command == "up":
        template = _recorded_template(stack, template)
    if template.template:
        from harness import aws
        from harness.topology import template as own_stack

        outputs = own_stack.deploy(stack, template, lambda service: aws.client(service, stack), say=_say)
        _print_outputs(outputs)
        return 0
    topology = _topology(args)
    for warning in topology.warnings():
        _say(f"warning: {warning}")
    _say(f"deploying the webhook topology to {stack.endpoint_url} ...")
    from harness.backend import deployed_settings

    backend = deployed_settings(stack)
    deployer = Deployer(stack, topology, say=_say, backend=backend)
    outputs = deployer.deploy()
    if not deployer.changes:
        _say("  everything was up to date")
    _print_outputs(outputs)
    return 0


def cmd_outputs(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from harness.outputs import load_outputs

    outputs = load_outputs(_stack(args))
    if args.json:
        print(json.dumps(dataclasses.asdict(outputs), indent=2))
    else:
        _print_outputs(outputs)
    return 0


def cmd_rows(args: argparse.Namespace) -> int:
    import json

    from harness import aws, backend
    from harness.outputs import load_outputs

    settings = _stack(args)
    outputs = load_outputs(settings)
    found = backend.rows(outputs, lambda service: aws.client(service, settings))
    if args.id:
        found = [row for row in found if row.get("id") == args.id]
    found.sort(key=lambda row: row.get("written_at_ms") or 0)
    for row in found[-args.limit :]:
        print(f"{row['id']}  {row.get('message')}" if "id" in row and outputs.ours else json.dumps(row, default=str))
    _say(f"{len(found)} row(s) in {outputs.table_name} ({outputs.backend})")
    return 0 if found or not args.id else 1


def cmd_dlq(args: argparse.Namespace) -> int:
    from harness import aws, observe
    from harness.outputs import load_outputs

    settings = _stack(args)
    outputs = load_outputs(settings)
    messages = observe.peek_messages(aws.client("sqs", settings), outputs.dlq_url)
    for message in messages:
        print(f"{message.item_id}  receives={message.receive_count}  {message.body[:120]}")
    _say(f"{len(messages)} message(s) in the DLQ {outputs.dlq_url}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from harness.load import run

    load = LoadSettings.from_env()
    verdict, run_dir = run.run(_stack(args), load, progress=_say)
    _print_verdict(verdict)
    print(f"report: {run_dir / 'report.html'} (also {load.reports_dir / 'latest' / 'report.html'})")
    return 0 if verdict.passed else 1


def cmd_compare(args: argparse.Namespace) -> int:
    """The same load against variants of the throttle; exit 1 when a throttled variant fails."""
    from harness import aws
    from harness.backend import deployed_settings
    from harness.load import compare
    from harness.outputs import load_outputs, outputs_path

    stack = _stack(args)
    topology, load = _topology(args), LoadSettings.from_env(variants=args.variants)
    deployed = load_outputs(stack) if outputs_path(stack).is_file() else None
    if deployed is not None and not deployed.ours:
        limit = compare.stack_limit(aws.client("lambda", stack), deployed)
        _say(f"your stack {deployed.stack_name}: its throttle is changed per variant and restored afterwards")
    else:
        deployed, limit = None, topology.reserved_concurrency or topology.maximum_concurrency or 2
    variants = compare.parse_variants(load.variants, limit)
    _say(f"comparing {len(variants)} variant(s): {', '.join(v.name for v in variants)}")
    backend = deployed_settings(stack)
    _say(f"backend: {backend.backend}" + (f" on port {backend.postgres_port}" if backend.backend == "postgres" else ""))
    results, compare_dir = compare.run(stack, topology, backend, load, variants, progress=_say, deployed=deployed)
    for result in results:
        print(result.sentence())
    print(f"report: {compare_dir / 'report.html'} (also {load.reports_dir / 'latest' / 'report.html'})")
    print(f"numbers: {compare_dir / 'compare.json'}")
    return 1 if compare.failed_throttled(results) else 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Judge a finished run again (e.g. after `harness redrive` or a fix), from its records."""
    from pathlib import Path

    from harness.load.run import reverify

    load = LoadSettings.from_env()
    run_dir = Path(args.run) if args.run else load.reports_dir / "latest"
    verdict = reverify(_stack(args), load, run_dir, poison_fixed=args.poison_fixed, progress=_say)
    _print_verdict(verdict)
    return 0 if verdict.passed else 1


def cmd_ui(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from harness.load.run import LOCUSTFILE
    from harness.outputs import load_outputs

    stack, load = _stack(args), LoadSettings.from_env()
    outputs = load_outputs(stack)
    url = f"http://127.0.0.1:{load.ui_port}"
    _say(f"Locust web UI: {url}  (its Harness tab and {url}/harness show the topology live); Ctrl-C stops it")
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", outputs.webhook_url,
        "--web-host", "127.0.0.1", "--web-port", str(load.ui_port),
    ]  # fmt: skip
    return subprocess.call(command, env={**os.environ, **stack.to_environment(), **load.to_environment()})


def cmd_redrive(args: argparse.Namespace) -> int:
    from harness import aws
    from harness.outputs import load_outputs
    from harness.redrive import redrive

    settings = _stack(args)
    outputs = load_outputs(settings)
    moved = redrive(aws.client("sqs", settings), outputs, progress=_say)
    print(f"moved {moved} message(s) from {outputs.dlq_url} back to {outputs.queue_url}")
    return 0


def cmd_rotate_secret(args: argparse.Namespace) -> int:
    from harness import aws, signing
    from harness.outputs import load_outputs
    from harness.topology.deploy import finish_rotation, rotate_signing_secret

    settings = _stack(args)
    outputs = load_outputs(settings)
    if not outputs.signing_secret_arn:
        raise SettingsError(
            "the deployed publisher verifies no signatures; deploy with HARNESS_SIGNATURE_SCHEME=standard, github "
            "or stripe first"
        )
    client = aws.client("secretsmanager", settings)
    if args.finish:
        retired = finish_rotation(client, outputs.signing_secret_arn)
        print("the old secret is retired: only the current one verifies" if retired else "no rotation under way")
        return 0
    secret = args.secret or signing.new_secret()
    if problem := signing.secret_problem(outputs.signature_scheme, secret):
        raise SettingsError(f"--secret: {problem}")
    rotate_signing_secret(client, outputs.signing_secret_arn, secret)
    print(f"new signing secret: {secret}")
    print("the old one verifies too until `harness rotate-secret --finish`; give the new one to your senders")
    return 0


def _print_verdict(verdict) -> None:
    print(f"verdict: {verdict.verdict}")
    for reason in verdict.reasons:
        print(f"  - {reason}")
    latency = verdict.e2e_latency_ms
    print(
        f"accepted {verdict.accepted}, rows {verdict.rows}, lost {verdict.lost}, duplicate rows "
        f"{verdict.duplicate_rows}, duplicates suppressed "
        f"{verdict.duplicates_suppressed}/{verdict.duplicates_injected}, "
        f"DLQ {verdict.dlq}"
    )
    print(
        f"subscriber concurrency max {verdict.max_consumer_concurrency} (limit {verdict.consumer_concurrency_limit}), "
        f"throttles {verdict.throttles:.0f}, ingest {verdict.ingest_rps} req/s, drain {verdict.drain_seconds}s, "
        f"e2e latency p50 {latency.get('p50')} ms p99 {latency.get('p99')} ms"
    )
    if verdict.backend:
        print(f"backend {verdict.backend['kind']}: {verdict.backend['summary']}")
    per_request = verdict.enqueued_per_request
    print(
        f"verified by {verdict.correlation}; messages enqueued per accepted request "
        f"{'-' if per_request is None else per_request}" + ("" if verdict.has_dlq else "; the stack has no DLQ")
    )
    if verdict.unanswered:
        print(
            f"{verdict.unanswered} request(s) got a server error or no answer; "
            f"{verdict.queued_unanswered} of them were queued all the same"
        )
    if signed := verdict.signed:
        print(
            f"signed webhooks: forged {signed['forged']} (accepted {signed['forged_accepted']}), stale "
            f"{signed['stale']} (accepted {signed['stale_accepted']}), replays {signed['replays']} (one row each), "
            f"rows of refused deliveries {signed['refused_rows']}"
        )
    for gap in verdict.unproven:
        print(f"  not proven: {gap}")


def cmd_destroy(args: argparse.Namespace) -> int:
    from harness import aws
    from harness.outputs import load_outputs
    from harness.topology import template as own_stack

    stack = _stack(args)
    name = args.stack_name or TemplateSettings.from_env().stack_name or load_outputs(stack).stack_name
    if not name:
        raise HarnessError(
            "the recorded deployment is the harness's own topology, not a CloudFormation stack; `make down` stops "
            "it, or pass --stack-name NAME"
        )
    if own_stack.destroy(stack, lambda service: aws.client(service, stack), name):
        print(f"deleted stack {name}")
    else:
        print(f"no stack {name} on {stack.endpoint_url}")
    return 0


def _print_outputs(outputs) -> None:
    if outputs.stack_name:
        print(f"stack:        {outputs.stack_name} (from {outputs.template})")
    print(f"webhook URL:  {outputs.webhook_url} ({outputs.entry_kind})")
    print(f"queue:        {outputs.queue_url}")
    print(f"DLQ:          {outputs.dlq_url or '(none: failed messages are retried until they expire)'}")
    print(f"table:        {outputs.table_name}")
    print(f"functions:    {outputs.publisher_name}, {outputs.subscriber_name}")
    if outputs.signing_secret_arn:
        print(f"signatures:   {outputs.signature_scheme}, secret {outputs.signing_secret_arn}")
    host = f" -H 'Host: {outputs.webhook_host}'" if outputs.webhook_host else ""
    unsigned = " (answers 401: it is unsigned)" if outputs.signature_scheme != "none" else ""
    print(f"try:          curl -X POST{host} {outputs.webhook_url}/hello{unsigned}")


def cmd_down(args: argparse.Namespace) -> int:
    from harness.backend.postgres import server_for
    from harness.stack import started_stack

    settings = _stack(args)
    stack = started_stack(settings)
    postgres = server_for(settings, BackendSettings.from_env(validate=False))  # beside the stack, before it stops
    ended = stack.stop()
    _say(f"stopped the {stack.kind} stack: {ended} process(es) or container(s)" if ended else "nothing was running")
    if postgres.running_record():
        _say(f"stopped PostgreSQL: {postgres.stop()} process(es)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from harness.stack import is_healthy, started_stack

    settings = _stack(args)
    status = started_stack(settings).status()
    if not status.running:
        print(f"stopped ({status.kind})")
        if is_healthy(settings.host_endpoint_url):
            _say(
                f"but a LocalStack answers at {settings.host_endpoint_url}, started from another state folder than "
                f"{settings.state_path}: run `harness status` where you ran `make up`, or set HARNESS_STATE_DIR"
            )
        return 1
    health = "healthy" if status.healthy else "NOT healthy"
    pid = f" (pid {status.pid})" if status.pid else ""
    processes = "" if status.function_processes is None else f", {status.function_processes} function process(es)"
    print(f"{status.kind} stack running{pid} at {status.endpoint}, {health}{processes}")
    for note in status.notes:
        print(f"  {note}")
    from harness.backend.postgres import server_for

    postgres = server_for(settings, BackendSettings.from_env(validate=False)).running_record()
    if postgres:
        where = f"pid {postgres['pid']}" if postgres.get("pid") else "Compose service postgres"
        print(
            f"  PostgreSQL running ({where}) on 127.0.0.1:{postgres['port']}, capacity "
            f"{postgres['max_connections'] - POSTGRES_RESERVED_CONNECTIONS} connections"
        )
    return 0 if status.healthy else 1


def cmd_config(args: argparse.Namespace) -> int:
    """Every setting, by the component that owns it; problems are listed, not raised, so all of it shows."""
    from harness.settings import all_groups

    if args.markdown:
        print("\n\n".join(group.markdown_table() for group in all_groups()))
        return 0
    overrides = {"port": args.port, "state_dir": args.state_dir}  # the flags every command takes
    problems = []
    for group in all_groups():
        settings = group.from_env(validate=False, **{k: v for k, v in overrides.items() if k in group.names()})
        rows = settings.describe()
        width = max(len(env) for _, _, env, _ in rows)
        print(f"# {group.title}")
        for _name, value, env, help_text in rows:
            print(f"{env:<{width}}  {value!s:<12}  {help_text}")
        print()
        try:
            settings.validate()
        except HarnessError as error:
            problems.append(str(error))
    for problem in problems:
        _say(f"error: {problem}")
    return 2 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--port", type=int, help="LocalStack port on 127.0.0.1 (HARNESS_PORT, default 4566)")
    common.add_argument("--state-dir", help="state folder (HARNESS_STATE_DIR, default .harness)")
    functions = argparse.ArgumentParser(add_help=False)
    functions.add_argument("--publisher", help="folder with your own publisher handler (HARNESS_PUBLISHER_DIR)")
    functions.add_argument("--subscriber", help="folder with your own subscriber handler (HARNESS_SUBSCRIBER_DIR)")
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument(
        "--template", help="your own stack: CloudFormation/SAM template or cdk.out folder (HARNESS_TEMPLATE)"
    )
    own.add_argument("--stack-name", help="CloudFormation stack name (HARNESS_STACK_NAME)")
    own.add_argument(
        "--parameter-overrides",
        nargs="+",
        metavar="KEY=VALUE",
        help="template parameters (HARNESS_PARAMETER_OVERRIDES)",
    )
    own.add_argument("--publisher-function", help="picks the publisher among several (HARNESS_PUBLISHER_FUNCTION)")
    own.add_argument("--subscriber-function", help="picks the subscriber among several (HARNESS_SUBSCRIBER_FUNCTION)")
    own.add_argument("--table", help="picks the backend table among several (HARNESS_TABLE)")
    own.add_argument("--stage", help="the REST API stage to send to (HARNESS_STAGE)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, help_text, parents in (
        (
            "up",
            cmd_up,
            "start the stack (embedded; HARNESS_STACK=docker: Compose), deploy the topology",
            [common, functions, own],
        ),
        (
            "deploy",
            cmd_deploy,
            "create or update the topology (idempotent), or your own stack with --template",
            [common, functions, own],
        ),
        ("destroy", cmd_destroy, "delete your own stack (deployed with --template) from the stack", [common]),
        ("outputs", cmd_outputs, "webhook URL, queue URLs, table and function names", [common]),
        ("load", cmd_load, "flood the webhook (Locust, headless), verify, write a report", [common]),
        (
            "compare",
            cmd_compare,
            "the same load against throttle variants, one report side by side",
            [common, functions],
        ),
        ("verify", cmd_verify, "judge a finished load run again (default: reports/latest)", [common]),
        ("ui", cmd_ui, "the Locust web UI on 127.0.0.1 against the webhook, with a Harness tab", [common]),
        ("redrive", cmd_redrive, "move the DLQ's messages back to the queue (after a fix)", [common]),
        (
            "rotate-secret",
            cmd_rotate_secret,
            "a new signing secret for the publisher (the old one verifies until --finish)",
            [common],
        ),
        ("rows", cmd_rows, "rows in the backend table (newest last)", [common]),
        ("dlq", cmd_dlq, "messages in the dead-letter queue (left in place)", [common]),
        ("down", cmd_down, "stop the stack that was started (embedded or Compose) and all it started", [common]),
        ("status", cmd_status, "which stack runs, is it healthy, what are its limits", [common]),
        ("config", cmd_config, "show the effective settings and their environment variables", [common]),
    ):
        sub = commands.add_parser(name, parents=parents, help=help_text)
        sub.set_defaults(handler=handler)
        if name == "up":
            sub.add_argument("--no-deploy", action="store_true", help="start the stack only")
        if name == "destroy":
            sub.add_argument("--stack-name", help="the stack to delete (default: the recorded deployment's)")
        if name == "outputs":
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "compare":
            sub.add_argument(
                "--variants", help="e.g. reserved=1,reserved=2,maximum=2,none (HARNESS_VARIANTS; default: the three)"
            )
        if name == "config":
            sub.add_argument("--markdown", action="store_true", help="the tables of the README, from the declarations")
        if name == "verify":
            sub.add_argument("--run", help="the run folder (default: reports/latest)")
            sub.add_argument(
                "--poison-fixed", action="store_true", help="after a fix and `harness redrive`: poison must be rows"
            )
        if name == "rotate-secret":
            sub.add_argument("--secret", help="the new secret (default: a new random whsec_ secret)")
            sub.add_argument("--finish", action="store_true", help="retire the old secret (AWSPREVIOUS)")
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
    except BrokenPipeError:  # output piped into something that stopped reading (`| head`)
        return 0
    except (BotoCoreError, ConnectionError) as exc:  # the stack went away mid-command
        _say(f"error: LocalStack stopped answering ({exc}); `make status` tells whether it runs, `make up` restarts it")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
