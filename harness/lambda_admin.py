"""Changes to deployed functions that several commands make: their environment, their reserved concurrency,
and a function from inline sources (tests and the benchmark)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.topology.packaging import zip_sources

LAMBDA_ROLE = "arn:aws:iam::000000000000:role/lambda-role"
"""A role ARN for functions made outside a topology (LocalStack does not check that it exists)."""
_UPDATED = {"Delay": 0.2, "MaxAttempts": 300}


def update_environment(lambda_client: Any, name: str, change: Callable[[dict[str, str]], dict[str, str]]) -> None:
    """Set ``name``'s environment variables to ``change(current)`` and wait until the update is done (a
    configuration change: the function's execution environments start afresh)."""
    current = lambda_client.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
    lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": change(current)})
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=_UPDATED)


def reserved_concurrency(lambda_client: Any, name: str) -> int | None:
    """``name``'s reserved concurrency; None when it is unreserved."""
    return lambda_client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")


def ensure_reserved_concurrency(lambda_client: Any, name: str, reserved: int | None, label: str = "") -> str | None:
    """Set (or remove, for None) ``name``'s reserved concurrency where it differs; the change made, if any,
    described with ``label`` (default: the function's name)."""
    if reserved_concurrency(lambda_client, name) == reserved:
        return None
    if reserved is None:
        lambda_client.delete_function_concurrency(FunctionName=name)
        return f"removed reserved concurrency of {label or name}"
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    return f"set reserved concurrency of {label or name} to {reserved}"


def create_function(
    lambda_client: Any,
    name: str,
    files: Mapping[str, str],
    handler: str = "app.handler",
    runtime: str = "python3.11",
    **kwargs: Any,
) -> str:
    """Create a function from inline sources (``{"app.py": source}``) and wait until it is active."""
    lambda_client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=LAMBDA_ROLE,
        Handler=handler,
        Code={"ZipFile": zip_sources(files)},
        **kwargs,
    )
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name
