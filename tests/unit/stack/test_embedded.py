from harness.stack.config import StackSettings
from harness.stack.embedded import localstack_environment


def test_localstack_runs_offline_dockerless_and_loopback_only(tmp_path):
    env = localstack_environment(StackSettings.from_env({}, port=4570, state_dir=tmp_path), base={})
    assert env["GATEWAY_LISTEN"] == "127.0.0.1:4570"
    assert env["GATEWAY_SERVER"] == "threaded-loopback"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "local-process"
    assert env["PROVIDER_OVERRIDE_DYNAMODB"] == "moto"
    assert env["DISABLE_EVENTS"] == "1"
    assert env["DNS_ADDRESS"] == "0"
    assert env["OVERRIDE_IN_DOCKER"] == "0"
    assert env["TMPDIR"].startswith(str(tmp_path))


def test_twisted_stays_available_as_the_gateway_server(tmp_path):
    settings = StackSettings.from_env({"HARNESS_GATEWAY_SERVER": "twisted"}, state_dir=tmp_path)
    assert localstack_environment(settings, base={})["GATEWAY_SERVER"] == "twisted-loopback"


def test_ambient_aws_and_localstack_variables_do_not_leak_in():
    base = {"PATH": "/bin", "AWS_PROFILE": "prod", "AWS_SECRET_ACCESS_KEY": "x", "LAMBDA_DOCKER_FLAGS": "-x"}
    env = localstack_environment(StackSettings.from_env({}), base=base)
    assert env["PATH"] == "/bin"
    assert not {"AWS_PROFILE", "AWS_SECRET_ACCESS_KEY", "LAMBDA_DOCKER_FLAGS"} & env.keys()


def test_the_scaling_settings_reach_the_extension_under_its_own_variables(tmp_path):
    settings = StackSettings.from_env({"HARNESS_ESM_SCALE_UP_PER_MINUTE": "6000"}, state_dir=tmp_path)
    env = localstack_environment(settings, base={})
    assert env["HARNESS_ESM_SCALE_UP_PER_MINUTE"] == "6000.0"
    assert env["HARNESS_ESM_INITIAL_CONCURRENCY"] == "5"
    assert "HARNESS_MAX_CONCURRENT_ENVIRONMENTS" not in env  # unset: the extension's own default


def test_localstack_runs_with_two_malloc_arenas_unless_the_user_chose(tmp_path):
    settings = StackSettings.from_env({}, state_dir=tmp_path)
    assert localstack_environment(settings, base={})["MALLOC_ARENA_MAX"] == "2"
    assert localstack_environment(settings, base={"MALLOC_ARENA_MAX": "8"})["MALLOC_ARENA_MAX"] == "8"
