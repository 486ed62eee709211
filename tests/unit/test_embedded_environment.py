from harness.settings import Settings
from harness.stack.embedded import localstack_environment


def test_localstack_runs_offline_dockerless_and_loopback_only(tmp_path):
    env = localstack_environment(Settings.from_env({}, port=4570, state_dir=tmp_path), base={})
    assert env["GATEWAY_LISTEN"] == "127.0.0.1:4570"
    assert env["GATEWAY_SERVER"] == "twisted-loopback"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "local-process"
    assert env["PROVIDER_OVERRIDE_DYNAMODB"] == "moto"
    assert env["DISABLE_EVENTS"] == "1"
    assert env["DNS_ADDRESS"] == "0"
    assert env["OVERRIDE_IN_DOCKER"] == "0"
    assert env["TMPDIR"].startswith(str(tmp_path))


def test_ambient_aws_and_localstack_variables_do_not_leak_in():
    base = {"PATH": "/bin", "AWS_PROFILE": "prod", "AWS_SECRET_ACCESS_KEY": "x", "LAMBDA_DOCKER_FLAGS": "-x"}
    env = localstack_environment(Settings.from_env({}), base=base)
    assert env["PATH"] == "/bin"
    assert not {"AWS_PROFILE", "AWS_SECRET_ACCESS_KEY", "LAMBDA_DOCKER_FLAGS"} & env.keys()
