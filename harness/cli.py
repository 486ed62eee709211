"""`harness` command line: a subcommand per concern, each taking the settings it uses as flags."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError

from harness.backend import Backend
from harness.backend.config import BackendSettings
from harness.compare.config import CompareSettings
from harness.exceptions import AlreadyRunningError, HarnessError, SettingsError, Terminated
from harness.ingress import ingress_for
from harness.load.config import LoadSettings, WebUISettings
from harness.settings import SettingsGroup
from harness.settings.flags import add_flags, given
from harness.settings.registry import all_groups
from harness.stack.config import StackSettings
from harness.topology.config import TemplateSettings, TopologySettings

G = TypeVar("G", bound=SettingsGroup)

DESCRIPTION = """The Scalable Webhook harness: a local stack, the webhook topology on it, loads and their verdicts.

Every setting a command uses is a flag of that command, made from its declaration: --users is
HARNESS_USERS (the same name), with Locust's short forms where Locust has them (-u, -r, -t). A flag
wins over the variable, the variable over the config file (harness.toml). `harness COMMAND --help`
lists a command's settings with their variables and defaults."""

REACH = ("stack", "compose_project", "port", "endpoint_host", "region", "state_dir")
"""The stack settings every command needs to find and reach the stack that runs."""
SIGNING = ("signature_scheme", "signing_secret", "signature_tolerance_s")
"""Topology settings a load uses: a publisher of your own verifies these, so the load signs with them."""


class Options:
    """The parsed command line: each settings group with its flags applied."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def settings(self, group: type[G], validate: bool = True) -> G:
        return group.from_env(validate=validate, **given(self.args, group))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.args, name)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _preflight(stack: StackSettings, reports: Path | None = None) -> None:
    """This machine can take the command: the folders it writes, room on their disk (nothing started yet)."""
    from harness.preflight import check_environment

    check_environment(stack.state_path, stack.min_free_disk_mb, reports)


def _clients(stack: StackSettings) -> Callable[[str], Any]:
    from harness import aws

    return aws.clients(stack)


# --- the stack ------------------------------------------------------------------------------------------


def cmd_up(o: Options) -> int:
    from harness.backend import backend_for, deployed_settings
    from harness.deployment import target
    from harness.stack import stack_for, started_stack

    settings = o.settings(StackSettings)
    _preflight(settings)
    topology = o.settings(TopologySettings, validate=False)
    chosen = target(settings, o.settings(TemplateSettings), topology, o.settings(BackendSettings), restore=True)
    if not o.no_deploy and chosen.ours:
        topology.validate()  # before anything starts
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
    client, hosting = _clients(settings), stack.hosting()
    backend = backend_for(deployed_settings(chosen.backend, chosen.own_record, hosting, client), hosting, client)
    if chosen.ours and (started := backend.start(progress=_say)):
        _say(started)
    if o.no_deploy:
        print(f"endpoint: {endpoint}")
        return 0
    _say(chosen.describe(settings, backend))
    return _deploy(settings, chosen.template, topology, backend)


def cmd_down(o: Options) -> int:
    from harness.backend import stop_servers
    from harness.stack import started_stack

    stack = started_stack(o.settings(StackSettings))
    hosting = stack.hosting()  # its servers stop beside it, before it stops
    ended = stack.stop()
    _say(f"stopped the {stack.kind} stack: {ended} process(es) or container(s)" if ended else "nothing was running")
    for line in stop_servers(hosting):
        _say(line)
    return 0


def cmd_status(o: Options) -> int:
    from harness.backend import running_servers
    from harness.deployment import recorded
    from harness.outputs import outputs_path
    from harness.stack import is_healthy, started_stack

    settings = o.settings(StackSettings)
    stack = started_stack(settings)
    status = stack.status()
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
    for line in running_servers(stack.hosting()):
        print(f"  {line}")
    record = recorded(settings)
    if record is None:
        print("  deployed: nothing yet (`harness deploy`, or `make up`)")
    elif record.ours:
        proxy = " behind RDS Proxy" if record.backend_proxy != "none" else ""
        print(f"  deployed: the harness's topology, backend {record.backend}{proxy} ({outputs_path(settings)})")
    else:
        print(
            f"  deployed: your stack {record.stack_name} from {record.template} ({outputs_path(settings)}); "
            "`make up` restores it, `harness destroy` returns to the harness's topology"
        )
    if record is not None and status.healthy:
        _say_host_ceiling(settings, record.subscriber_name)
    return 0 if status.healthy else 1


def _say_host_ceiling(settings: StackSettings, subscriber: str) -> None:
    """When this machine, not AWS's scaling rule, bounded the subscriber lately: the figures depend on it."""
    from harness import aws, observe

    hits = observe.host_ceiling_hits(aws.client("cloudwatch", settings), subscriber, time.time() - 3600)
    if hits:
        print(
            f"  the host ceiling on function processes (HARNESS_MAX_CONCURRENT_ENVIRONMENTS), not AWS's scaling "
            f"rule, bounded {subscriber} in {hits:g} second(s) of the last hour: AWS would have run more at once"
        )


# --- deploying ---------------------------------------------------------------------------------------


def cmd_deploy(o: Options) -> int:
    from harness.deployment import resolved_backend
    from harness.stack import started_stack

    stack = o.settings(StackSettings)
    template = o.settings(TemplateSettings)
    topology = o.settings(TopologySettings, validate=False)
    backend = None
    if not template.template:
        topology.validate()
        backend = resolved_backend(stack, o.settings(BackendSettings), started_stack(stack).hosting(), _clients(stack))
    return _deploy(stack, template, topology, backend)


def _deploy(
    stack: StackSettings, template: TemplateSettings, topology: TopologySettings, backend: Backend | None
) -> int:
    """Your own stack from its template, else the harness's topology (validated already) onto ``backend``."""
    if template.template:
        from harness.topology import template as own_stack

        _print_outputs(own_stack.deploy(stack, template, _clients(stack), say=_say))
        return 0
    from harness.topology.deploy import Deployer

    for warning in topology.warnings():
        _say(f"warning: {warning}")
    _say(f"deploying the webhook topology to {stack.endpoint_url} ...")
    deployer = Deployer(stack, topology, client=_clients(stack), say=_say, backend=backend)
    outputs = deployer.deploy()
    if not deployer.changes:
        _say("  everything was up to date")
    _print_outputs(outputs)
    return 0


def cmd_destroy(o: Options) -> int:
    from harness.deployment import recorded
    from harness.topology import template as own_stack

    stack = o.settings(StackSettings)
    record = recorded(stack)
    name = o.settings(TemplateSettings).stack_name or (record.stack_name if record else "")
    if not name:
        raise HarnessError(
            "the recorded deployment is the harness's own topology, not a CloudFormation stack; `make down` stops "
            "it, or pass --stack-name NAME"
        )
    if own_stack.destroy(stack, _clients(stack), name):
        print(f"deleted stack {name}; `make up` deploys the harness's topology again")
    else:
        print(f"no stack {name} on {stack.endpoint_url}")
    return 0


def cmd_outputs(o: Options) -> int:
    import dataclasses
    import json

    from harness.outputs import load_outputs

    outputs = load_outputs(o.settings(StackSettings))
    if o.json:
        print(json.dumps(dataclasses.asdict(outputs), indent=2))
    else:
        _print_outputs(outputs)
    return 0


def cmd_rotate_secret(o: Options) -> int:
    from harness import signing
    from harness.outputs import load_outputs
    from harness.secrets import finish_rotation, rotate_signing_secret

    settings = o.settings(StackSettings)
    outputs = load_outputs(settings)
    if not outputs.signing_secret_arn:
        raise SettingsError(
            "the deployed publisher verifies no signatures; deploy with HARNESS_SIGNATURE_SCHEME=standard, github "
            "or stripe first"
        )
    client = _clients(settings)("secretsmanager")
    if o.finish:
        retired = finish_rotation(client, outputs.signing_secret_arn)
        print("the old secret is retired: only the current one verifies" if retired else "no rotation under way")
        return 0
    secret = o.secret or signing.new_secret()
    if problem := signing.secret_problem(outputs.signature_scheme, secret):
        raise SettingsError(f"--secret: {problem}")
    rotate_signing_secret(client, outputs.signing_secret_arn, secret)
    print(f"new signing secret: {secret}")
    print("the old one verifies too until `harness rotate-secret --finish`; give the new one to your senders")
    return 0


# --- load, compare, verify ---------------------------------------------------------------------------


def cmd_load(o: Options) -> int:
    from harness.load import run

    load = o.settings(LoadSettings)
    stack = o.settings(StackSettings)
    _preflight(stack, load.reports_dir)
    topology = o.settings(TopologySettings, validate=False)
    verdict, run_dir = run.run(stack, load, progress=_say, topology=topology)
    _print_verdict(verdict)
    _report_link(run_dir / "report.html", load.reports_dir)
    return exit_code(verdict)


EXIT_CODES = {"PASS": 0, "FAIL": 1, "VOID": 3}
"""A run's exit code by its verdict; INCOMPLETE: as an interrupted command exits (130 Ctrl-C, 143 SIGTERM)."""


def exit_code(verdict: Any) -> int:
    if verdict.verdict == "INCOMPLETE":
        return 143 if verdict.ended_by == "sigterm" else 130
    return EXIT_CODES[verdict.verdict]


def _report_link(page: Path, reports_dir: Path) -> None:
    """The last line of a run: the report as a link a terminal opens (also under reports/latest/)."""
    print(f"report: {page.resolve().as_uri()}  (also {reports_dir / 'latest' / 'report.html'})")


def cmd_compare(o: Options) -> int:
    """The same load against variants of the throttle; exit 1 when a throttled variant fails."""
    from harness import compare
    from harness.backend import deployed_backend
    from harness.deployment import acting_on_own_stack, recorded, resolved_backend
    from harness.stack import started_stack

    stack = o.settings(StackSettings)
    topology, load = o.settings(TopologySettings), o.settings(LoadSettings)
    _preflight(stack, load.reports_dir)
    backend_settings = o.settings(BackendSettings)
    client, hosting = _clients(stack), started_stack(stack).hosting()
    record = recorded(stack)
    if acting_on_own_stack(record, topology, backend_settings):
        assert record is not None
        limit = compare.stack_limit(client("lambda"), record)
        backend = deployed_backend(record, hosting, client)
        _say(f"your stack {record.stack_name}: its throttle is changed per variant and restored afterwards")
    else:
        record, limit = None, topology.reserved_concurrency or topology.maximum_concurrency or 2
        backend = resolved_backend(stack, backend_settings, hosting, client)
    throttle = None if record is not None else (topology.reserved_concurrency, topology.maximum_concurrency)
    variants = compare.parse_variants(o.settings(CompareSettings).variants, limit, throttle)
    _say(f"comparing {len(variants)} variant(s): {', '.join(v.name for v in variants)}")
    _say(f"backend: {backend.describe()}")
    results, compare_dir = compare.run(stack, topology, backend, load, variants, client, progress=_say, deployed=record)
    for result in results:
        print(result.sentence())
    advice = compare.recommendation(results)
    print(f"recommended: {advice['variant'] or 'none of these'} ({advice['why']})")
    if "highest_reserved_concurrency_that_held" in advice:
        print(f"highest reserved concurrency that held: {advice['highest_reserved_concurrency_that_held']}")
    if takeaway := compare.what_the_throttle_did(results):
        print(f"in short: {takeaway}")
    print(f"numbers: {compare_dir / 'compare.json'}")
    _report_link(compare_dir / "report.html", load.reports_dir)
    return 1 if compare.failed_throttled(results) else 0


def cmd_verify(o: Options) -> int:
    """Judge a finished run again (e.g. after `harness redrive` or a fix), from its records."""
    from harness.load.run import reverify

    load = o.settings(LoadSettings)
    run_dir = Path(o.run) if o.run else load.reports_dir / "latest"
    verdict = reverify(o.settings(StackSettings), load, run_dir, poison_fixed=o.poison_fixed, progress=_say)
    _print_verdict(verdict)
    _report_link(run_dir / "report.html", load.reports_dir)
    return exit_code(verdict)


def cmd_ui(o: Options) -> int:
    import os
    import subprocess

    from harness.load.run import LOCUSTFILE, signing_environment, stop_all
    from harness.outputs import load_outputs

    stack, load, ui = o.settings(StackSettings), o.settings(LoadSettings), o.settings(WebUISettings)
    _preflight(stack, load.reports_dir)
    outputs = load_outputs(stack)
    signing = signing_environment(load, outputs, _clients(stack), o.settings(TopologySettings, validate=False))
    url = f"http://127.0.0.1:{ui.ui_port}"
    _say(
        f"Locust web UI: {url}  (its Harness tab and {url}/harness show the topology live; a test you stop there "
        f"is verified and reported under {load.reports_dir}/); Ctrl-C stops it"
    )
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", outputs.webhook_url,
        "--web-host", "127.0.0.1", "--web-port", str(ui.ui_port),
        "--users", str(load.users), "--spawn-rate", f"{load.spawn_rate:g}",  # the start form, filled in
    ]  # fmt: skip
    env = {**os.environ, **stack.to_environment(), **load.to_environment(), **signing}
    locust = subprocess.Popen(command, env=env)
    try:
        return locust.wait()
    finally:
        stop_all([locust])  # Ctrl-C, SIGTERM (a closed terminal): the UI's Locust goes with it


# --- what the topology holds ---------------------------------------------------------------------


def cmd_rows(o: Options) -> int:
    import json

    from harness.deployment import recorded_backend
    from harness.outputs import load_outputs

    settings = o.settings(StackSettings)
    outputs = load_outputs(settings)
    backend = recorded_backend(settings, outputs, _clients(settings))
    found = backend.rows(outputs.table_name)
    if o.id:
        found = [row for row in found if row.get("id") == o.id]
    found.sort(key=lambda row: row.get("written_at_ms") or 0)
    for row in found[-o.limit :]:
        print(f"{row['id']}  {row.get('message')}" if "id" in row and outputs.ours else json.dumps(row, default=str))
    _say(f"{len(found)} row(s) in {outputs.table_name} ({backend.kind})")
    return 0 if found or not o.id else 1


def cmd_dlq(o: Options) -> int:
    from harness import observe
    from harness.outputs import load_outputs

    settings = o.settings(StackSettings)
    outputs = load_outputs(settings)
    messages = observe.peek_messages(_clients(settings)("sqs"), outputs.dlq_url)
    for message in messages:
        print(f"{message.item_id}  receives={message.receive_count}  {message.body[:120]}")
    _say(f"{len(messages)} message(s) in the DLQ {outputs.dlq_url}")
    return 0


def cmd_redrive(o: Options) -> int:
    from harness.outputs import load_outputs
    from harness.redrive import redrive

    settings = o.settings(StackSettings)
    outputs = load_outputs(settings)
    moved = redrive(_clients(settings)("sqs"), outputs, progress=_say)
    print(f"moved {moved} message(s) from {outputs.dlq_url} back to {outputs.queue_url}")
    return 0


def cmd_config(o: Options) -> int:
    """Every setting, by the component that owns it; problems are listed, not raised, so all of it shows."""
    from harness.settings.registry import configuration_page, markdown_tables

    if o.markdown:
        print(markdown_tables())
        return 0
    if o.docs:
        page = Path(o.docs)
        if not page.is_file():
            raise SettingsError(f"--docs {page}: no such page; give the documentation's configuration page")
        page.write_text(configuration_page(page.read_text()))
        _say(f"wrote the settings tables into {page}")
        return 0
    problems = []
    for group in all_groups():
        settings = o.settings(group, validate=False)
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


# --- printing ----------------------------------------------------------------------------------------


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
    if answer := verdict.answer_latency_ms:
        print(f"webhook answer (request -> queued) p50 {answer.get('p50')} ms p99 {answer.get('p99')} ms")
    if verdict.backend:
        print(f"backend {verdict.backend['kind']}: {verdict.backend['summary']}")
    per_request = verdict.enqueued_per_request
    print(
        f"verified by {verdict.correlation}; messages enqueued per accepted request "
        f"{'-' if per_request is None else per_request}" + ("" if verdict.has_dlq else "; the stack has no DLQ")
    )
    if verdict.throttled_at_gate:
        print(
            f"throttled at the gate: {verdict.throttled_at_gate} answer(s) 429; {verdict.never_accepted} request(s) "
            "never accepted after the senders' retries (not lost: counted apart)"
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
    if offered := verdict.offered:
        print(
            f"offered {offered['offered']} webhooks on the seeded schedule (open arrivals), sent {offered['sent']}, "
            f"{offered['late']} over a second late"
        )
    for gap in verdict.unproven:
        print(f"  not proven: {gap}")
    for note in verdict.notes:
        print(f"  note: {note}")


def _print_outputs(outputs) -> None:
    if outputs.stack_name:
        print(f"stack:        {outputs.stack_name} (from {outputs.template})")
    print(f"webhook URL:  {outputs.webhook_url} ({outputs.entry_kind})")
    print(f"way in:       {ingress_for(outputs.ingress).description}")
    print(f"queue:        {outputs.queue_url}")
    print(f"DLQ:          {outputs.dlq_url or '(none: failed messages are retried until they expire)'}")
    print(f"table:        {outputs.table_name}")
    publisher = f"publisher {outputs.publisher_name}, " if outputs.publisher_name else ""
    print(f"functions:    {publisher}subscriber {outputs.subscriber_name}")
    if outputs.signing_secret_arn:
        print(f"signatures:   {outputs.signature_scheme}, secret {outputs.signing_secret_arn}")
    host = f" -H 'Host: {outputs.webhook_host}'" if outputs.webhook_host else ""
    unsigned = " (answers 401: it is unsigned)" if outputs.signature_scheme != "none" else ""
    print(f"try:          curl -X POST{host} {outputs.webhook_url}/hello{unsigned}")


# --- the parser --------------------------------------------------------------------------------------

Settings = tuple[tuple[type[SettingsGroup], Sequence[str] | None], ...]
"""The settings a command uses: (group, names), None for every setting of the group."""


@dataclass(frozen=True)
class Command:
    name: str
    handler: Callable[[Options], int]
    help: str
    settings: Settings
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = field(default=())
    """Arguments that are no settings: (flags, argparse keywords)."""


_ALL_STACK: Settings = ((StackSettings, None),)
_REACH: Settings = ((StackSettings, REACH),)
_DEPLOYING: Settings = ((TopologySettings, None), (TemplateSettings, None), (BackendSettings, None))
_LOADING: Settings = ((LoadSettings, None), (TopologySettings, SIGNING))

COMMANDS = (
    Command("up", cmd_up, "start the stack (embedded; --stack docker: Compose), deploy the topology or restore the "
            "recorded stack", _ALL_STACK + _DEPLOYING,
            ((("--no-deploy",), {"action": "store_true", "help": "start the stack only"}),)),
    Command("deploy", cmd_deploy, "create or update the topology (idempotent), or your own stack with --template",
            _REACH + _DEPLOYING),
    Command("destroy", cmd_destroy, "delete your own stack (deployed with --template) from the stack",
            (*_REACH, (TemplateSettings, ("stack_name",)))),
    Command("outputs", cmd_outputs, "webhook URL, queue URLs, table and function names", _REACH,
            ((("--json",), {"action": "store_true", "help": "machine-readable output"}),)),
    Command("load", cmd_load, "flood the webhook (Locust, headless), verify, write a report", _REACH + _LOADING),
    Command("compare", cmd_compare, "the same load against throttle variants, one report side by side",
            (*_REACH, (TopologySettings, None), (BackendSettings, None), (LoadSettings, None),
             (CompareSettings, None))),
    Command("verify", cmd_verify, "judge a finished load run again (default: reports/latest)",
            (*_REACH, (LoadSettings, ("drain_timeout_s", "reports_dir"))),
            ((("--run",), {"help": "the run folder (default: reports/latest)"}),
             (("--poison-fixed",), {"action": "store_true",
                                    "help": "after a fix and `harness redrive`: poison must be rows"}))),
    Command("ui", cmd_ui, "the Locust web UI on 127.0.0.1 against the webhook, with a Harness tab",
            (*_REACH, *_LOADING, (WebUISettings, None))),
    Command("redrive", cmd_redrive, "move the DLQ's messages back to the queue (after a fix)", _REACH),
    Command("rotate-secret", cmd_rotate_secret,
            "a new signing secret for the publisher (the old one verifies until --finish)", _REACH,
            ((("--secret",), {"help": "the new secret (default: a new random whsec_ secret)"}),
             (("--finish",), {"action": "store_true", "help": "retire the old secret (AWSPREVIOUS)"}))),
    Command("rows", cmd_rows, "rows in the backend table (newest last)", _REACH,
            ((("--id",), {"help": "only the row with this id (exit 1 when absent)"}),
             (("--limit",), {"type": int, "default": 20, "help": "how many rows to print (default 20)"}))),
    Command("dlq", cmd_dlq, "messages in the dead-letter queue (left in place)", _REACH),
    Command("down", cmd_down, "stop the stack that was started (embedded or Compose) and all it started",
            (*_REACH, (StackSettings, ("stop_timeout_s",)))),
    Command("status", cmd_status, "which stack runs, is it healthy, what is deployed on it", _REACH),
    Command("config", cmd_config, "show the effective settings and their environment variables",
            tuple((group, None) for group in all_groups()),
            ((("--markdown",), {"action": "store_true", "help": "the settings tables, from the declarations"}),
             (("--docs",), {"metavar": "PAGE", "help": "rewrite the tables of the documentation's configuration "
                                                        "page (docs/configuration.md) from the declarations"}))),
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        sub.set_defaults(handler=command.handler)
        for flags, options in command.arguments:
            sub.add_argument(*flags, **options)
        for group, names in _merged(command.settings):
            add_flags(sub, group, names)
    return parser


def _merged(settings: Settings) -> list[tuple[type[SettingsGroup], list[str]]]:
    """One section per group, its settings in declaration order."""
    wanted: dict[type[SettingsGroup], set[str]] = {}
    for group, names in settings:
        wanted.setdefault(group, set()).update(group.names() if names is None else names)
    return [(group, [name for name in group.names() if name in names]) for group, names in wanted.items()]


def _terminated(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)  # a cancelled CI job, a closed terminal: as Ctrl-C
    try:
        from harness.settings.registry import check_config_file

        check_config_file()
        return args.handler(Options(args))
    except HarnessError as exc:
        _say(f"error: {exc}")
        return 2
    except BrokenPipeError:  # output piped into something that stopped reading (`| head`)
        return 0
    except (BotoCoreError, ConnectionError) as exc:  # the stack went away mid-command
        _say(f"error: LocalStack stopped answering ({exc}); `make status` tells whether it runs, `make up` restarts it")
        return 2
    except KeyboardInterrupt as interrupt:
        _say("interrupted")
        return 143 if isinstance(interrupt, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
