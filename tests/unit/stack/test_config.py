from pathlib import Path

import pytest

from harness.exceptions import SettingsError
from harness.stack.config import StackSettings


def test_defaults_match_the_documented_stack():
    settings = StackSettings.from_env({})
    assert settings.port == 4566 and settings.stack == "embedded"
    assert settings.endpoint_url == "http://127.0.0.1:4566"
    assert settings.state_dir == Path(".harness")


def test_the_stack_kind_is_embedded_or_docker():
    with pytest.raises(SettingsError, match=r"stack='auto': expected one of embedded, docker.*HARNESS_STACK"):
        StackSettings.from_env({"HARNESS_STACK": "auto"})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "localstack"])
def test_the_endpoint_may_be_loopback_or_a_compose_service(host):
    assert StackSettings.from_env({"HARNESS_ENDPOINT_HOST": host}).endpoint_url == f"http://{host}:4566"


@pytest.mark.parametrize("host", ["sqs.us-east-1.amazonaws.com", "10.0.0.5", "0.0.0.0", "my.host"])
def test_a_remote_endpoint_is_refused_before_anything_starts(host):
    with pytest.raises(SettingsError, match="endpoint_host"):
        StackSettings.from_env({"HARNESS_ENDPOINT_HOST": host})


def test_a_person_always_gets_the_loopback_url():
    assert StackSettings.from_env({"HARNESS_ENDPOINT_HOST": "localstack"}).host_endpoint_url == "http://127.0.0.1:4566"


def test_durations_are_accepted_for_timeouts():
    assert StackSettings.from_env({"HARNESS_STARTUP_TIMEOUT_S": "2m"}).startup_timeout_s == 120
