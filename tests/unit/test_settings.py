"""The settings machinery: sources and their order, parsing, durations, the config file, the tables."""

from pathlib import Path

import pytest

from harness.exceptions import SettingsError
from harness.load.config import LoadSettings
from harness.settings import all_groups, parse_duration
from harness.stack.config import StackSettings
from harness.topology.config import TopologySettings

README = Path(__file__).resolve().parents[2] / "README.md"


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
    config.write_text("reserved_concurency = 5\n")
    with pytest.raises(SettingsError, match="unknown setting 'reserved_concurency' in the config file"):
        StackSettings.from_env({"HARNESS_CONFIG": str(config)})
    with pytest.raises(SettingsError, match="no such file"):
        StackSettings.from_env({"HARNESS_CONFIG": str(tmp_path / "missing.toml")})


def test_the_readme_tables_are_the_declarations():
    """`harness config --markdown` and the README's settings section come from the same declarations."""
    readme = README.read_text()
    for group in all_groups():
        assert group.markdown_table() in readme, (
            f"README's {group.title} table is stale: run `harness config --markdown`"
        )


def test_a_group_validates_only_its_own_settings():
    """`harness status` must not trip over a broken load or topology setting."""
    broken = {"HARNESS_USERS": "0", "HARNESS_BATCH_SIZE": "0", "HARNESS_PUBLISHER_DIR": "/nonexistent"}
    assert StackSettings.from_env(broken).port == 4566
