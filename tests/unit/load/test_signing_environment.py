"""What `harness load` hands the load generator to sign with, and the settings it refuses."""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness.evidence import Accepted
from harness.exceptions import SettingsError
from harness.load.config import LoadSettings
from harness.load.run import signing_environment
from tests.unit.builders import FOREIGN, OUTPUTS

SIGNED = dataclasses.replace(
    OUTPUTS, signature_scheme="stripe", signing_secret_arn="arn:secret", signature_tolerance_s=60
)


class FakeSecrets:
    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict:
        assert (SecretId, VersionStage) == ("arn:secret", "AWSCURRENT")
        return {"SecretString": "whsec_current"}


def load(**changes) -> LoadSettings:
    return LoadSettings.from_env({}).replace(**changes)


def test_our_publisher_is_signed_for_with_its_current_secret(monkeypatch):
    monkeypatch.delenv("HARNESS_SIGNING_SECRET", raising=False)
    env = signing_environment(load(forged_share=0.1), SIGNED, lambda service: FakeSecrets())
    assert env == {
        "HARNESS_SIGNATURE_SCHEME": "stripe",
        "HARNESS_SIGNING_SECRET": "whsec_current",
        "HARNESS_SIGNATURE_TOLERANCE_S": "60",
    }


def test_your_own_publisher_is_signed_for_with_the_scheme_and_secret_you_give(monkeypatch):
    monkeypatch.setenv("HARNESS_SIGNATURE_SCHEME", "github")
    monkeypatch.setenv("HARNESS_SIGNING_SECRET", "s3cret")
    env = signing_environment(load(), FOREIGN, lambda service: pytest.fail("no AWS read for your own secret"))
    assert env["HARNESS_SIGNATURE_SCHEME"] == "github" and env["HARNESS_SIGNING_SECRET"] == "s3cret"


def test_shares_of_signed_deliveries_without_signatures_are_refused_with_what_to_set(monkeypatch):
    monkeypatch.delenv("HARNESS_SIGNATURE_SCHEME", raising=False)
    with pytest.raises(SettingsError, match=r"replay_share=0\.2: .* HARNESS_SIGNATURE_SCHEME=standard"):
        signing_environment(load(replay_share=0.2), OUTPUTS, lambda service: None)


def test_a_stale_share_with_github_is_refused_github_signs_no_time(monkeypatch):
    github = dataclasses.replace(SIGNED, signature_scheme="github")
    with pytest.raises(SettingsError, match="github signatures carry no timestamp"):
        signing_environment(load(stale_share=0.1), github, lambda service: FakeSecrets())


def test_forged_and_stale_records_are_kept_apart_from_the_accepted(tmp_path):
    lines = [
        {"id": "a", "kind": "new"},
        {"id": "a", "kind": "replay"},
        {"id": "f", "kind": "forged", "status": 401},
        {"id": "s", "kind": "stale", "status": 202},
    ]
    (tmp_path / "accepted-1.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    accepted = Accepted.load(tmp_path)
    assert accepted.ids == {"a"} and accepted.duplicates_expected() == 1
    assert accepted.refused_as("forged") == (1, 0) and accepted.refused_as("stale") == (1, 1)
