"""Which runtimes the local-process executor runs, and AWS's rules for creating functions on them."""

from __future__ import annotations

import json
import subprocess

import pytest

from harness.localstack_extensions.lambda_executor import runtimes


@pytest.mark.parametrize(
    ("runtime", "language"),
    [("python3.11", "python"), ("nodejs22.x", "nodejs"), ("nodejs24.x", "nodejs"), ("ruby3.3", "ruby3.3"), (None, "")],
)
def test_the_language_of_a_runtime(runtime, language):
    assert runtimes.language(runtime) == language


def test_blocked_runtimes_get_awss_message_and_offered_ones_none():
    assert runtimes.blocked_message("nodejs20.x") == (
        "The runtime parameter of nodejs20.x is no longer supported for creating or updating AWS Lambda "
        "functions. We recommend you use a supported runtime while creating or updating functions."
    )
    assert all(runtimes.blocked_message(runtime) is None for runtime in runtimes.NODE_RUNTIMES)
    assert set(runtimes.NODE_RUNTIMES).isdisjoint(runtimes.BLOCKED_RUNTIMES)


def test_a_different_node_major_is_named_as_a_fidelity_limit(monkeypatch):
    monkeypatch.setattr(runtimes, "node_major", lambda: 20)
    assert runtimes.node_fidelity_note("nodejs22.x") == (
        "nodejs22.x runs on this machine's Node.js 20, not Node.js 22 as on AWS"
    )
    assert runtimes.node_fidelity_note("nodejs20.x") is None


def test_the_provided_sdk_is_locked_and_has_no_v2():
    folder = runtimes.PROVIDED_NODE_MODULES.parent
    manifest = json.loads((folder / "package.json").read_text())
    lock = json.loads((folder / "package-lock.json").read_text())
    assert all(name.startswith("@aws-sdk/") for name in manifest["dependencies"])
    assert all(version[0].isdigit() for version in manifest["dependencies"].values()), "exact versions"
    assert "node_modules/aws-sdk" not in lock["packages"]  # v2 left Lambda's runtimes with Node.js 18


@pytest.mark.skipif(runtimes.node_binary() is None, reason="no node on this machine")
def test_the_node_runtime_script_is_valid_javascript():
    for script in (runtimes.NODE_RUNTIME_SCRIPT, runtimes.NODE_PATH_HOOKS):
        result = subprocess.run([runtimes.node_binary(), "--check", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
