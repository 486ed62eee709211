"""The Lambda runtimes the local-process executor runs, and AWS's rules for creating functions on them.

Python runs on LocalStack's own interpreter (runtime.py); Node.js on this machine's ``node``
(runtime.js), with the AWS SDK for JavaScript v3 that Lambda provides (installed from the npm registry
by `make venv` into ``nodejs/node_modules`` beside this file).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_RUNTIME_SCRIPT = HERE / "runtime.js"
NODE_PATH_HOOKS = HERE / "node_path.mjs"
NODE_AWS_ENDPOINT = HERE / "aws_endpoint.cjs"
"""Sends a bundled SDK's requests for AWS's host names to the stack (the SDK v2 ignores AWS_ENDPOINT_URL)."""
PROVIDED_NODE_MODULES = HERE / "nodejs" / "node_modules"
"""The provided SDK (``@aws-sdk/*`` v3): on AWS part of every Node.js runtime, never ``aws-sdk`` v2."""

NODE_RUNTIMES = ("nodejs22.x", "nodejs24.x")
"""Node.js runtimes AWS lets you create functions on (AWS's runtime table, 2026-11)."""
BLOCKED_RUNTIMES = ("nodejs20.x", "nodejs18.x", "nodejs16.x", "nodejs14.x", "nodejs12.x", "nodejs10.x")
"""Deprecated Node.js runtimes whose function create and update AWS blocks (nodejs20.x since 2026-08-31)."""
EXTRA_RUNTIMES = ("nodejs24.x",)
"""Runtimes AWS offers that LocalStack 4.8.1's own list lacks."""


def language(runtime: str | None) -> str:
    """``python``, ``nodejs`` or the runtime itself (one the executor does not run)."""
    runtime = runtime or ""
    for name in ("python", "nodejs"):
        if runtime.startswith(name):
            return name
    return runtime


def blocked_message(runtime: str) -> str | None:
    """AWS's answer to creating or updating a function on a runtime it blocks; None when allowed."""
    if runtime not in BLOCKED_RUNTIMES:
        return None
    return (
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
        "functions. We recommend you use a supported runtime while creating or updating functions."
    )


@functools.cache
def node_binary() -> str | None:
    return shutil.which("node")


@functools.cache
def node_major() -> int | None:
    """The major version of this machine's ``node`` (None without one)."""
    binary = node_binary()
    if binary is None:
        return None
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        return int(version.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def runtime_major(runtime: str) -> int | None:
    try:
        return int(runtime.removeprefix("nodejs").split(".")[0])
    except ValueError:
        return None


def node_fidelity_note(runtime: str) -> str | None:
    """What differs from AWS when ``runtime`` runs on this machine's node (None when nothing does)."""
    major, wanted = node_major(), runtime_major(runtime)
    if major is None or wanted is None or major == wanted:
        return None
    return f"{runtime} runs on this machine's Node.js {major}, not Node.js {wanted} as on AWS"
