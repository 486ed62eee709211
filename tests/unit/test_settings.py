from pathlib import Path

import pytest

from harness.exceptions import SettingsError
from harness.settings import Settings


def test_defaults_match_the_documented_stack():
    settings = Settings.from_env({})
    assert settings.port == 4566
    assert settings.endpoint_url == "http://127.0.0.1:4566"
    assert settings.state_dir == Path(".harness")


def test_environment_overrides_and_explicit_overrides_win():
    env = {"HARNESS_PORT": "4999", "HARNESS_STARTUP_TIMEOUT_S": "5.5"}
    assert Settings.from_env(env).port == 4999
    assert Settings.from_env(env).startup_timeout_s == 5.5
    assert Settings.from_env(env, port=5000).port == 5000


def test_a_value_of_the_wrong_type_names_the_variable():
    with pytest.raises(SettingsError, match="HARNESS_PORT='abc' is not a valid int"):
        Settings.from_env({"HARNESS_PORT": "abc"})


def test_out_of_range_values_are_rejected_with_the_variable_to_set():
    with pytest.raises(SettingsError, match=r"port=70000.*HARNESS_PORT"):
        Settings.from_env({"HARNESS_PORT": "70000"})


def test_every_setting_is_described_with_its_variable():
    rows = Settings.from_env({}).describe()
    assert rows[0][:3] == ("port", 4566, "HARNESS_PORT")
    assert all(env.startswith("HARNESS_") and help_text for _, _, env, help_text in rows)


def test_overrides_are_converted_to_the_setting_type():
    settings = Settings.from_env({}, state_dir="/tmp/x", port="4600")
    assert settings.state_dir == Path("/tmp/x") and settings.port == 4600


def test_unknown_overrides_are_an_error():
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        Settings.from_env({}, prot=1)
