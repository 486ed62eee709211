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
    assert ("port", 4566, "HARNESS_PORT") in [row[:3] for row in rows]
    assert all(env.startswith("HARNESS_") and help_text for _, _, env, help_text in rows)


def test_overrides_are_converted_to_the_setting_type():
    settings = Settings.from_env({}, state_dir="/tmp/x", port="4600")
    assert settings.state_dir == Path("/tmp/x") and settings.port == 4600


def test_unknown_overrides_are_an_error():
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        Settings.from_env({}, prot=1)


def test_topology_defaults_are_the_reference_stack_plus_a_dlq():
    settings = Settings.from_env({})
    assert (settings.table_name, settings.reserved_concurrency, settings.batch_size) == ("Messages", 2, 10)
    assert (settings.visibility_timeout_s, settings.max_receive_count) == (300, 5)
    assert settings.maximum_concurrency is None
    assert settings.warnings() == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"HARNESS_SUBSCRIBER_TIMEOUT_S": "400"},
            r"subscriber_timeout_s=400: must not exceed visibility_timeout_s=300",
        ),
        ({"HARNESS_MAXIMUM_CONCURRENCY": "1"}, r"maximum_concurrency=1: expected 2-1000"),
        ({"HARNESS_MAXIMUM_CONCURRENCY": "1001"}, r"maximum_concurrency=1001: expected 2-1000"),
        ({"HARNESS_BATCH_SIZE": "0"}, r"batch_size=0: expected 1-10000"),
        ({"HARNESS_BATCH_SIZE": "11"}, r"batch_size=11: a batch size over 10 needs batching_window_s >= 1"),
        ({"HARNESS_RESERVED_CONCURRENCY": "-1"}, r"reserved_concurrency=-1: expected 0-900"),
        ({"HARNESS_MAX_RECEIVE_COUNT": "0"}, r"max_receive_count=0: expected 1-1000"),
        ({"HARNESS_QUEUE_NAME": "bad name!"}, r"queue_name='bad name!'.*not a valid SQS queue name"),
        ({"HARNESS_PUBLISHER_DIR": "/nonexistent"}, r"publisher_dir='/nonexistent': no /nonexistent/app.py"),
    ],
)
def test_aws_rules_are_checked_before_anything_is_created(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_the_error_names_the_variable_to_change():
    with pytest.raises(SettingsError, match=r"\(set HARNESS_BATCH_SIZE\)"):
        Settings.from_env({"HARNESS_BATCH_SIZE": "20000"})


def test_a_large_batch_with_a_window_is_fine():
    assert Settings.from_env({"HARNESS_BATCH_SIZE": "100", "HARNESS_BATCHING_WINDOW_S": "1"}).batch_size == 100


def test_optional_settings_accept_empty_as_unset():
    settings = Settings.from_env({"HARNESS_RESERVED_CONCURRENCY": "", "HARNESS_MAXIMUM_CONCURRENCY": "none"})
    assert settings.reserved_concurrency is None and settings.maximum_concurrency is None


def test_risky_but_legal_choices_are_warnings():
    settings = Settings.from_env(
        {
            "HARNESS_VISIBILITY_TIMEOUT_S": "30",
            "HARNESS_MAX_RECEIVE_COUNT": "2",
            "HARNESS_MAXIMUM_CONCURRENCY": "5",
        }
    )
    warnings = " | ".join(settings.warnings())
    assert "below 6 x subscriber_timeout_s" in warnings
    assert "max_receive_count=2 is below the 5 AWS advises" in warnings
    assert "maximum_concurrency=5 exceeds reserved_concurrency=2" in warnings


def test_a_config_file_sits_between_defaults_and_variables(tmp_path):
    config = tmp_path / "harness.toml"
    config.write_text('reserved_concurrency = 5\nbatch_size = 7\nqueue_name = "from-file"\n')
    env = {"HARNESS_CONFIG": str(config), "HARNESS_BATCH_SIZE": "3"}
    settings = Settings.from_env(env)
    assert (settings.reserved_concurrency, settings.batch_size, settings.queue_name) == (5, 3, "from-file")


def test_config_file_mistakes_are_clear(tmp_path):
    config = tmp_path / "harness.toml"
    config.write_text("reserved_concurency = 5\n")
    with pytest.raises(SettingsError, match="unknown setting 'reserved_concurency' in the config file"):
        Settings.from_env({"HARNESS_CONFIG": str(config)})
    with pytest.raises(SettingsError, match="no such file"):
        Settings.from_env({"HARNESS_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "localstack"])
def test_the_endpoint_may_be_loopback_or_a_compose_service(host):
    assert Settings.from_env({"HARNESS_ENDPOINT_HOST": host}).endpoint_url == f"http://{host}:4566"


@pytest.mark.parametrize("host", ["sqs.us-east-1.amazonaws.com", "10.0.0.5", "0.0.0.0", "my.host"])
def test_a_remote_endpoint_is_refused_before_anything_starts(host):
    with pytest.raises(SettingsError, match="endpoint_host"):
        Settings.from_env({"HARNESS_ENDPOINT_HOST": host})


def test_a_person_always_gets_the_loopback_url():
    assert Settings.from_env({"HARNESS_ENDPOINT_HOST": "localstack"}).host_endpoint_url == "http://127.0.0.1:4566"
