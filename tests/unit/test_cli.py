"""The command line as built from the settings' declarations, and what `make up` does with a recorded stack;
nothing here starts a stack (what needs one is in tests/integration/test_cli.py)."""

from __future__ import annotations

import dataclasses

import pytest

from harness import cli
from harness.load.config import LoadSettings
from harness.network import free_port
from harness.outputs import outputs_path
from harness.settings.registry import all_groups
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings
from tests.unit.builders import FOREIGN, OUTPUTS


def options(*argv: str) -> cli.Options:
    return cli.Options(cli.build_parser().parse_args(list(argv)))


def test_a_locust_users_command_line_reads_as_the_load_settings():
    load = options("load", "-u", "30", "-r", "10", "-t", "20s", "--shape", "steady").settings(LoadSettings)
    assert (load.users, load.spawn_rate, load.duration_s, load.shape) == (30, 10.0, 20, "steady")
    assert options("load", "--duration", "2m").settings(LoadSettings).duration_s == 120


def test_a_flag_wins_over_its_variable(monkeypatch):
    monkeypatch.setenv("HARNESS_USERS", "7")
    assert options("load").settings(LoadSettings).users == 7
    assert options("load", "--users", "9").settings(LoadSettings).users == 9


def test_load_help_shows_every_load_setting_with_its_variable_and_default(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["load", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for name in LoadSettings.names():
        assert LoadSettings.flag_name(name) in text and LoadSettings.env_name(name) in text, name
    assert "-u USERS, --users USERS" in text and "[HARNESS_USERS; default 20]" in text


def test_every_setting_is_a_flag_of_harness_config():
    parser = cli.build_parser()
    for group in all_groups():
        for name in group.names():
            flag = group.flag_name(name)
            boolean = group.shown_default(name) in ("True", "False")
            args = parser.parse_args(["config", flag] if boolean else ["config", flag, "1"])
            assert vars(args)[name] == (True if boolean else "1"), flag


def test_the_settings_of_a_command_are_its_flags_and_nothing_else():
    parser = cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["status", "--users", "3"])  # status uses no load setting
    assert parser.parse_args(["deploy", "--backend", "postgres", "--reserved-concurrency", "4"]).backend == "postgres"
    assert parser.parse_args(["compare", "--variants", "reserved=1,none"]).variants == "reserved=1,none"
    assert parser.parse_args(["deploy", "--publisher", "src/p"]).publisher_dir == "src/p"  # the short spelling


@pytest.fixture
def state(tmp_path, monkeypatch):
    """A state folder of the test's own, with no stack answering on its port."""
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HARNESS_PORT", str(free_port()))
    return StackSettings.from_env()


def test_up_refuses_a_backend_your_recorded_stack_cannot_have_before_starting_anything(state, monkeypatch, capsys):
    recorded = dataclasses.replace(FOREIGN, stack_name="mine", template="infra/template.yaml")
    recorded.save(outputs_path(state))
    monkeypatch.setenv("HARNESS_BACKEND", "postgres")
    assert cli.main(["up"]) == 2
    error = capsys.readouterr().err
    assert "HARNESS_BACKEND=postgres set the harness's own topology" in error
    assert "your stack mine (from infra/template.yaml)" in error and "`harness destroy`" in error
    assert not (state.state_path / "stack.json").exists()  # nothing was started


def test_up_refuses_handler_folders_for_a_recorded_stack_of_your_own(state, capsys, tmp_path):
    dataclasses.replace(FOREIGN, stack_name="mine").save(outputs_path(state))
    assert cli.main(["up", "--subscriber-dir", str(tmp_path)]) == 2
    assert "HARNESS_SUBSCRIBER_DIR=" in capsys.readouterr().err


def test_the_recorded_template_is_what_up_deploys_again(state):
    from harness.backend.config import BackendSettings
    from harness.deployment import target
    from harness.topology.config import TemplateSettings

    dataclasses.replace(FOREIGN, stack_name="mine", template="infra/template.yaml").save(outputs_path(state))
    empty = TemplateSettings.from_env({})
    chosen = target(state, empty, TopologySettings.from_env({}, validate=False), BackendSettings.from_env({}), True)
    assert (chosen.template.template, chosen.template.stack_name, chosen.ours) == ("infra/template.yaml", "mine", False)
    deployed = target(state, empty, TopologySettings.from_env({}, validate=False), BackendSettings.from_env({}), False)
    assert deployed.ours  # `harness deploy` without --template: the harness's own topology


def test_destroy_says_the_harness_topology_is_no_stack_to_delete(state, capsys):
    OUTPUTS.save(outputs_path(state))
    assert cli.main(["destroy"]) == 2
    assert "the recorded deployment is the harness's own topology" in capsys.readouterr().err


def test_status_with_nothing_running_says_so(state, capsys):
    assert cli.main(["status"]) == 1
    assert capsys.readouterr().out.startswith("stopped (embedded)")


def test_a_bad_flag_value_is_an_error_a_user_can_act_on(state, capsys):
    assert cli.main(["config", "--users", "0"]) == 2
    assert "users=0: expected >= 1 (set --users or HARNESS_USERS)" in capsys.readouterr().err


def test_config_docs_rewrites_the_tables_of_a_configuration_page_and_keeps_its_text(tmp_path, capsys):
    from harness.settings.registry import GENERATED_MARKER

    page = tmp_path / "configuration.md"
    page.write_text(f"# Configuration\n\nHow settings work.\n\n{GENERATED_MARKER}\n\n| stale | table |\n")
    assert cli.main(["config", "--docs", str(page)]) == 0
    written = page.read_text()
    assert written.startswith("# Configuration\n\nHow settings work.\n\n" + GENERATED_MARKER)
    assert "| stale |" not in written and StackSettings.markdown_table() in written and "## Stack" in written
    assert cli.main(["config", "--docs", str(tmp_path / "missing.md")]) == 2
    assert "no such page" in capsys.readouterr().err
