import pytest

from harness.lambda_admin import update_environment


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def publisher_without_retries(aws_client):
    """Turn off a publisher's SDK retries with the SDKs' own setting, so every request inside an SQS outage
    is refused: with boto3's default five attempts and up to 15 s of backoff, a 5 s outage can be ridden out
    entirely, and a test that expects refusals would pass or fail by chance."""

    def turn_off(name: str) -> None:
        update_environment(aws_client("lambda"), name, lambda variables: variables | {"AWS_MAX_ATTEMPTS": "1"})

    return turn_off
