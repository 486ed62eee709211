"""The settings machinery: sources and their order, parsing, durations, the config file, the tables, the flags."""

import argparse
from pathlib import Path

import pytest

from harness.exceptions import SettingsError
from harness.load.config import LoadSettings
from harness.settings import parse_duration
from harness.settings.flags import add_flags, given
from harness.settings.registry import all_groups, check_config_file, configuration_page
from harness.stack.config import StackSettings
from harness.topology.config import TemplateSettings, TopologySettings

CONFIGURATION_PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_environment_overrides_and_explicit_overrides_win():
    env = {"HARNESS_PORT": "4999", "HARNESS_STARTUP_TIMEOUT_S": "5.5"}
    assert StackSettings.from_env(env).port == 4999
    assert StackSettings.from_env(env).startup_timeout_s == 5.5
    assert StackSettings.from_env(env, port=5000).port == 5000


def test_a_value_of_the_wrong_type_names_the_variable():
    with pytest.raises(SettingsError, match="HARNESS_PORT='abc' is not a valid int"):
        StackSettings.from_env({"HARNESS_PORT": "abc"})


def test_out_of_range_values_are_rejected_with_the_variable_to_set():
    with pytest.raises(SettingsError, match=r"port=70000: expected 1-65535.*HARNESS_PORT"):
        StackSettings.from_env({"HARNESS_PORT": "70000"})


def test_every_setting_of_every_group_is_described_with_its_variable():
    names = [name for group in all_groups() for name in group.names()]
    assert len(names) == len(set(names)), "a setting is declared in two groups"
    for group in all_groups():
        rows = group.from_env({}, validate=False).describe()
        assert all(env.startswith("HARNESS_") and help_text for _, _, env, help_text in rows)
    assert ("port", 4566, "HARNESS_PORT") in [row[:3] for row in StackSettings.from_env({}).describe()]


def test_overrides_are_converted_to_the_setting_type():
    settings = StackSettings.from_env({}, state_dir="/tmp/x", port="4600")
    assert settings.state_dir == Path("/tmp/x") and settings.port == 4600


def test_unknown_overrides_are_an_error():
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        StackSettings.from_env({}, prot=1)
    with pytest.raises(SettingsError, match=r"unknown topology setting\(s\) \['users'\]"):
        TopologySettings.from_env({}).replace(users=3)


def test_replace_converts_and_validates():
    settings = LoadSettings.from_env({}).replace(duration_s="2m", users="3")
    assert (settings.duration_s, settings.users) == (120, 3)
    with pytest.raises(SettingsError, match="users=0: expected >= 1"):
        settings.replace(users=0)


@pytest.mark.parametrize(
    ("raw", "seconds"), [("90", 90), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("1h", 3600), ("1.5", 1.5)]
)
def test_durations_read_as_locust_reads_them(raw, seconds):
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "abc", "5x", "m5", "-3s"])
def test_a_malformed_duration_is_refused(raw):
    with pytest.raises(ValueError):
        parse_duration(raw)


def test_duration_settings_accept_durations_and_say_so_when_they_cannot():
    assert LoadSettings.from_env({"HARNESS_DURATION_S": "30s"}).duration_s == 30
    assert LoadSettings.from_env({"HARNESS_DRAIN_TIMEOUT_S": "5m"}).drain_timeout_s == 300
    assert TopologySettings.from_env({"HARNESS_VISIBILITY_TIMEOUT_S": "5m"}).visibility_timeout_s == 300
    with pytest.raises(SettingsError, match=r"HARNESS_DURATION_S='1.5s' is not a valid duration .*whole seconds"):
        LoadSettings.from_env({"HARNESS_DURATION_S": "1.5s"})
    with pytest.raises(SettingsError, match="HARNESS_PORT='30s' is not a valid int"):
        StackSettings.from_env({"HARNESS_PORT": "30s"})  # only durations take units


def test_optional_settings_accept_empty_as_unset():
    settings = TopologySettings.from_env({"HARNESS_RESERVED_CONCURRENCY": "", "HARNESS_MAXIMUM_CONCURRENCY": "none"})
    assert settings.reserved_concurrency is None and settings.maximum_concurrency is None


def test_a_config_file_sits_between_defaults_and_variables(tmp_path):
    config = tmp_path / "harness.toml"
    config.write_text('reserved_concurrency = 5\nbatch_size = 7\nqueue_name = "from-file"\nusers = 4\nport = 4600\n')
    env = {"HARNESS_CONFIG": str(config), "HARNESS_BATCH_SIZE": "3"}
    settings = TopologySettings.from_env(env)
    assert (settings.reserved_concurrency, settings.batch_size, settings.queue_name) == (5, 3, "from-file")
    assert LoadSettings.from_env(env).users == 4 and StackSettings.from_env(env).port == 4600  # one file, each owner


def test_config_file_mistakes_are_clear(tmp_path):
    config = tmp_path / "harness.toml"
    config.write_text("reserved_concurency = 5\nusers = 3\n")
    with pytest.raises(SettingsError, match=r"unknown setting.*'reserved_concurency' in the config file"):
        check_config_file({"HARNESS_CONFIG": str(config)})
    config.write_text("users = 3\n")
    check_config_file({"HARNESS_CONFIG": str(config)})  # a key some group declares
    with pytest.raises(SettingsError, match="no such file"):
        StackSettings.from_env({"HARNESS_CONFIG": str(tmp_path / "missing.toml")})


def test_the_configuration_page_is_the_declarations():
    """The documentation's configuration page is generated from the declarations: a stale page fails here."""
    page = CONFIGURATION_PAGE.read_text()
    assert configuration_page(page) == page, (
        "docs/configuration.md is stale: run `harness config --docs docs/configuration.md` (make docs does)"
    )
    for group in all_groups():
        assert group.markdown_table() in page


def test_a_group_validates_only_its_own_settings():
    """`harness status` must not trip over a broken load or topology setting."""
    broken = {"HARNESS_USERS": "0", "HARNESS_BATCH_SIZE": "0", "HARNESS_PUBLISHER_DIR": "/nonexistent"}
    assert StackSettings.from_env(broken).port == 4566


def test_what_was_given_explicitly_is_known_whatever_its_source(tmp_path):
    config = tmp_path / "harness.toml"
    config.write_text("batch_size = 7\n")
    settings = TopologySettings.from_env(
        {"HARNESS_CONFIG": str(config), "HARNESS_QUEUE_NAME": "q"}, reserved_concurrency=3, memory_mb=None
    )
    assert settings.given == {"batch_size", "queue_name", "reserved_concurrency"}
    assert settings.replace(dlq_name="d").given == settings.given | {"dlq_name"}
    assert TopologySettings.from_env({}).given == frozenset()


def test_a_flag_and_its_variable_share_their_name():
    for group in all_groups():
        for name in group.names():
            flag, env = group.flag_name(name), group.env_name(name)
            assert flag == "--" + env.removeprefix("HARNESS_").lower().replace("_", "-"), (group, name)
    assert LoadSettings.flag_names("users") == ["-u", "--users"]
    assert LoadSettings.flag_names("duration_s") == ["-t", "--duration-s", "--run-time", "--duration"]


def parsed(group, *argv: str) -> dict:
    parser = argparse.ArgumentParser()
    add_flags(parser, group)
    return given(parser.parse_args(list(argv)), group)


def test_flags_win_over_variables_which_win_over_the_config_file(tmp_path):
    config = tmp_path / "harness.toml"
    config.write_text("users = 4\nspawn_rate = 2.0\nshape = 'soak'\n")
    env = {"HARNESS_CONFIG": str(config), "HARNESS_USERS": "7", "HARNESS_SPAWN_RATE": "3"}
    flags = parsed(LoadSettings, "-u", "30", "--run-time", "20s", "--shape", "steady")
    assert flags == {"users": "30", "duration_s": "20s", "shape": "steady"}  # only what was typed
    settings = LoadSettings.from_env(env, **flags)
    assert (settings.users, settings.spawn_rate, settings.duration_s, settings.shape) == (30, 3.0, 20, "steady")
    assert LoadSettings.from_env(env, **parsed(LoadSettings)).users == 7


def test_a_bad_flag_value_names_the_flag_and_what_was_expected():
    with pytest.raises(SettingsError, match=r"--users='many' is not a valid int"):
        LoadSettings.from_env({}, **parsed(LoadSettings, "--users", "many"))
    with pytest.raises(SettingsError, match=r"users=0: expected >= 1 \(set --users or HARNESS_USERS\)"):
        LoadSettings.from_env({}, **parsed(LoadSettings, "-u", "0"))


def test_boolean_and_list_settings_have_flags_of_their_kind():
    assert LoadSettings.from_env({}, **parsed(LoadSettings, "--no-drain-required")).drain_required is False
    joined = parsed(TemplateSettings, "--parameter-overrides", "A=1", "B=2")
    assert TemplateSettings.from_env({}, **joined).parameter_overrides == "A=1 B=2"


def test_every_setting_is_a_flag_with_its_variable_and_default_in_the_help():
    for group in all_groups():
        parser = argparse.ArgumentParser()
        add_flags(parser, group)
        text = parser.format_help()
        for name in group.names():
            assert group.flag_name(name) in text and group.env_name(name) in text, (group, name)
