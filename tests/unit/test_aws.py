import pytest

from harness import aws
from harness.exceptions import UnsafeEndpointError
from harness.stack.config import StackSettings


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:4566", "http://localhost:1", "http://[::1]:4566", "http://localstack:4566"]
)
def test_loopback_endpoints_are_accepted(url):
    assert aws.ensure_local_endpoint(url) == url


@pytest.mark.parametrize(
    "url",
    ["https://sqs.us-east-1.amazonaws.com", "http://10.0.0.5:4566", "http://0.0.0.0:4566", "http://evil.example", ""],
)
def test_anything_else_is_refused(url):
    with pytest.raises(UnsafeEndpointError, match="refusing AWS endpoint"):
        aws.ensure_local_endpoint(url)


def test_clients_ignore_ambient_profiles_keys_and_endpoints(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production-that-does-not-exist")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://example.invalid")
    client = aws.client("sqs", StackSettings.from_env({}, port=4999))
    credentials = client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == ("test", "test")
    assert client.meta.endpoint_url == "http://127.0.0.1:4999"
