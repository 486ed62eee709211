"""The publisher's signing secret in Secrets Manager: read, rotated, its rotation finished.

During a rotation the secret has two versions, AWSCURRENT and AWSPREVIOUS, and the publisher accepts
both, so senders can move to the new secret without a delivery refused.
"""

from __future__ import annotations

from typing import Any


def current_signing_secret(secretsmanager: Any, arn: str) -> str:
    return secretsmanager.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]


def rotate_signing_secret(secretsmanager: Any, arn: str, secret: str) -> None:
    """A new AWSCURRENT; the old secret becomes AWSPREVIOUS, which the publisher still accepts."""
    secretsmanager.put_secret_value(SecretId=arn, SecretString=secret)


def finish_rotation(secretsmanager: Any, arn: str) -> bool:
    """Retire AWSPREVIOUS (the old secret stops verifying); whether there was one."""
    versions = secretsmanager.list_secret_version_ids(SecretId=arn)["Versions"]
    previous = next((v["VersionId"] for v in versions if "AWSPREVIOUS" in v.get("VersionStages", [])), None)
    if previous is None:
        return False
    secretsmanager.update_secret_version_stage(SecretId=arn, VersionStage="AWSPREVIOUS", RemoveFromVersionId=previous)
    return True
