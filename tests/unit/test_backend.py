"""Which backend a command acts on: what you set, else what was deployed."""

import dataclasses

from harness.backend import deployed_settings
from harness.outputs import outputs_path
from harness.stack.config import StackSettings
from tests.unit.test_rules import OUTPUTS


def test_without_a_deployment_the_settings_are_as_set(tmp_path):
    stack = StackSettings.from_env({}, state_dir=tmp_path)
    assert deployed_settings(stack, {}).backend == "dynamodb"


def test_a_postgres_deployment_is_followed_unless_told_otherwise(tmp_path):
    stack = StackSettings.from_env({}, state_dir=tmp_path, port=1)  # no stack answers there
    dataclasses.replace(OUTPUTS, backend="postgres", backend_port=5999).save(outputs_path(stack))
    followed = deployed_settings(stack, {})
    assert (followed.backend, followed.postgres_port) == ("postgres", 5999)
    assert deployed_settings(stack, {"HARNESS_BACKEND": "dynamodb"}).backend == "dynamodb"
    assert deployed_settings(stack, {"HARNESS_POSTGRES_PORT": "6000"}).postgres_port == 6000
