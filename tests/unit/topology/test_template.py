"""Reading templates and cdk.out folders, and what `harness deploy --template` packages: no stack needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.evidence.tokens import new_token, tokens_in
from harness.exceptions import DeployError
from harness.topology import template

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def test_a_sam_template_with_short_forms_is_read_and_its_code_folders_found():
    read = template.read_template(STACKS / "sam-webhook" / "template.yaml", "us-east-1")
    assert (read.kind, read.stack_name) == ("sam", "sam-webhook")
    assert read.body["Resources"]["Inbox"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["DeadLetters", "Arn"]
    }
    found = {(logical_id, prop, path.name) for logical_id, prop, path in template.local_code(read)}
    assert found == {("Receiver", "CodeUri", "publisher"), ("Writer", "CodeUri", "subscriber")}
    assert template.reserved_concurrency(read.body, {"SubscriberConcurrency": "4"}) == {"Receiver": None, "Writer": 4}


def test_a_cloudformation_template_with_local_code_paths_is_packaged_into_s3_locations():
    read = template.read_template(STACKS / "cfn-webhook" / "template.yaml", "us-east-1")
    assert read.kind == "cloudformation"

    class FakeS3:
        def __init__(self) -> None:
            self.objects: dict[tuple[str, str], bytes] = {}

        def head_object(self, Bucket, Key):
            from botocore.exceptions import ClientError

            if (Bucket, Key) not in self.objects:
                raise ClientError({"Error": {"Code": "404"}}, "HeadObject")
            return {"ContentLength": len(self.objects[(Bucket, Key)])}

        def head_bucket(self, Bucket):
            return {}

        def put_object(self, Bucket, Key, Body):
            self.objects[(Bucket, Key)] = Body

    s3 = FakeS3()
    body = template.package(read, s3, "us-east-1", Path("/nonexistent"))
    code = body["Resources"]["Publisher"]["Properties"]["Code"]
    assert code["S3Bucket"] == "harness-artifacts-000000000000-us-east-1" and code["S3Key"].endswith(".zip")
    assert len(s3.objects) == 2 and read.body["Resources"]["Publisher"]["Properties"]["Code"] == "publisher"


def test_a_cdk_out_folder_gives_its_stack_assets_and_bootstrap_parameter():
    read = template.read_template(STACKS / "cdk-webhook" / "cdk.out", "eu-west-1")
    assert (read.kind, read.stack_name) == ("cdk", "TheScalableWebhookStack")
    assert read.bootstrap_parameter == "/cdk-bootstrap/hnb659fds/version"
    assert len(read.assets) == 2 and all(a.packaging == "zip" and a.source.is_dir() for a in read.assets)
    assert {a.bucket for a in read.assets} == {"cdk-hnb659fds-assets-000000000000-eu-west-1"}
    named = template.read_template(STACKS / "cdk-webhook" / "cdk.out", "eu-west-1", "TheScalableWebhookStack")
    assert named.stack_name == "TheScalableWebhookStack"
    with pytest.raises(DeployError, match="has no stack 'Other'; it holds TheScalableWebhookStack"):
        template.read_template(STACKS / "cdk-webhook" / "cdk.out", "eu-west-1", "Other")


def test_template_mistakes_say_what_to_do(tmp_path):
    with pytest.raises(DeployError, match="no template at"):
        template.read_template(tmp_path / "missing.yaml", "us-east-1")
    with pytest.raises(DeployError, match=r"without manifest\.json"):
        template.read_template(tmp_path, "us-east-1")
    (tmp_path / "x.yaml").write_text("just: text\n")
    with pytest.raises(DeployError, match="no Resources section"):
        template.read_template(tmp_path / "x.yaml", "us-east-1")
    with pytest.raises(DeployError, match="expected Key=Value"):
        template.parse_overrides(["Concurrency"])
    assert template.parse_overrides(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}


def test_the_stack_name_comes_from_the_file_or_its_folder():
    assert template.default_stack_name(Path("infra/template.yaml")) == "infra"
    assert template.default_stack_name(Path("my_webhook.yml")) == "my-webhook"


def test_tokens_are_found_anywhere_in_a_row():
    token = new_token()
    assert tokens_in({"a": {"b": [f"x/{token}/y"]}, "n": 3}) == {token}
    assert tokens_in("nothing here") == set()
