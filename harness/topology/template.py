"""`harness deploy --template`: the user's own stack (CloudFormation, SAM or a `cdk.out` folder) onto the stack.

Local code is packaged as the real tools do it: SAM ``CodeUri`` / ``ContentUri`` folders and CloudFormation
``Code`` / ``Content`` given as a local path (what ``aws cloudformation package`` takes) are zipped and
uploaded to the stack's S3; a ``cdk.out`` folder's file assets go where its asset manifest says, and the
CDK bootstrap version parameter is put in SSM, so a template from ``cdk synth`` deploys unchanged. Every
deploy goes through a change set, whose changes are printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from harness.exceptions import DeployError
from harness.lambda_admin import ensure_reserved_concurrency
from harness.outputs import Outputs, outputs_path
from harness.stack.config import StackSettings
from harness.topology.config import TemplateSettings
from harness.topology.discover import Picks, discover
from harness.topology.packaging import function_package, zip_directory

ACCOUNT_ID = "000000000000"
ARTIFACT_BUCKET = "harness-artifacts-{account}-{region}"
"""Where packaged local code goes (``aws cloudformation package``'s ``--s3-bucket``)."""
CDK_BOOTSTRAP_VERSION = "30"
"""Any version a `cdk synth` template's CheckBootstrapVersion rule accepts (it refuses 1-5)."""
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
TEMPLATE_BODY_LIMIT = 51_200
"""CloudFormation's limit on an inline template; larger ones are uploaded and passed by URL."""
_SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
# (resource type, property, how the S3 location is written in its place)
_LOCAL_CODE = (
    ("AWS::Serverless::Function", "CodeUri", "uri"),
    ("AWS::Serverless::LayerVersion", "ContentUri", "uri"),
    ("AWS::Lambda::Function", "Code", "lambda"),
    ("AWS::Lambda::LayerVersion", "Content", "lambda"),
)


@dataclass
class FileAsset:
    """A CDK file asset: a folder (zipped) or a file, and where the template expects it in S3."""

    source: Path
    packaging: str
    bucket: str
    key: str


@dataclass
class Template:
    kind: str
    """cloudformation, sam or cdk."""
    path: Path
    body: dict[str, Any]
    stack_name: str
    assets: list[FileAsset] = field(default_factory=list)
    bootstrap_parameter: str | None = None
    """The SSM parameter a CDK template reads its bootstrap version from."""

    @property
    def base_dir(self) -> Path:
        return self.path if self.path.is_dir() else self.path.parent


def parse(text: str, source: Path) -> dict[str, Any]:
    """JSON or YAML with CloudFormation's short forms (!Ref, !GetAtt, !Sub ...), as CloudFormation reads it."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    from localstack.services.cloudformation.engine.yaml_parser import parse_yaml

    try:
        body = parse_yaml(text)
    except Exception as error:
        raise DeployError(f"{source} is neither JSON nor YAML CloudFormation can read: {error}") from None
    if not isinstance(body, dict) or "Resources" not in body:
        raise DeployError(f"{source} has no Resources section: is it a CloudFormation or SAM template?")
    return body


def read_template(path: Path, region: str, stack_name: str | None = None) -> Template:
    """A template file, or a `cdk.out` folder (its one stack, or ``stack_name`` among several)."""
    if not path.exists():
        raise DeployError(f"no template at {path}: give a CloudFormation/SAM file (YAML or JSON) or a cdk.out folder")
    if path.is_dir():
        return _read_cdk_out(path, region, stack_name)
    body = parse(path.read_text(), path)
    transforms = body.get("Transform") or []
    kind = (
        "sam" if _SAM_TRANSFORM in ([transforms] if isinstance(transforms, str) else transforms) else "cloudformation"
    )
    return Template(kind, path.resolve(), body, stack_name or default_stack_name(path))


def default_stack_name(path: Path) -> str:
    """``infra/template.yaml`` -> ``infra``; ``webhook.yaml`` -> ``webhook`` (letters, digits and hyphens)."""
    stem = path.parent.resolve().name if path.stem in ("template", "stack") else path.stem
    name = re.sub(r"[^A-Za-z0-9-]", "-", stem).strip("-") or "webhook"
    return name if name[0].isalpha() else f"stack-{name}"


def _read_cdk_out(folder: Path, region: str, stack_name: str | None) -> Template:
    manifest_file = folder / "manifest.json"
    if not manifest_file.is_file():
        raise DeployError(
            f"{folder} is a folder without manifest.json: give a cdk.out folder (run `cdk synth` first) or a "
            "template file"
        )
    artifacts = json.loads(manifest_file.read_text()).get("artifacts", {})
    stacks = {name: a for name, a in artifacts.items() if a.get("type") == "aws:cloudformation:stack"}
    if not stacks:
        raise DeployError(f"{manifest_file} names no CloudFormation stack: did `cdk synth` succeed?")
    if stack_name is None:
        if len(stacks) > 1:
            raise DeployError(
                f"{folder} holds {len(stacks)} stacks ({', '.join(sorted(stacks))}); pick one with --stack-name"
            )
        artifact_id = next(iter(stacks))
    else:  # the artifact's id or its display name
        by_name = {**{a.get("displayName", n): n for n, a in stacks.items()}, **{n: n for n in stacks}}
        if stack_name not in by_name:
            raise DeployError(f"{folder} has no stack {stack_name!r}; it holds {', '.join(sorted(stacks))}")
        artifact_id = by_name[stack_name]
    artifact = stacks[artifact_id]
    properties = artifact.get("properties", {})
    template_file = folder / properties.get("templateFile", f"{artifact_id}.template.json")
    body = json.loads(template_file.read_text())
    substitutions = {"${AWS::AccountId}": ACCOUNT_ID, "${AWS::Region}": region, "${AWS::Partition}": "aws"}
    assets = []
    for dependency in artifact.get("dependencies", []):
        asset_manifest = artifacts.get(dependency, {})
        if asset_manifest.get("type") != "cdk:asset-manifest":
            continue
        files = json.loads((folder / asset_manifest["properties"]["file"]).read_text()).get("files", {})
        for entry in files.values():
            source = folder / entry["source"]["path"]
            if source.resolve() == template_file.resolve():
                continue  # the template itself: passed to CloudFormation directly
            for destination in entry["destinations"].values():
                assets.append(
                    FileAsset(
                        source,
                        entry["source"].get("packaging", "file"),
                        _substitute(destination["bucketName"], substitutions),
                        _substitute(destination["objectKey"], substitutions),
                    )
                )
    bootstrap = (body.get("Parameters") or {}).get("BootstrapVersion", {}).get("Default")
    return Template(
        "cdk",
        folder.resolve(),
        body,
        properties.get("stackName") or artifact.get("displayName") or artifact_id,
        assets,
        bootstrap,
    )


def _substitute(text: str, substitutions: dict[str, str]) -> str:
    for placeholder, value in substitutions.items():
        text = text.replace(placeholder, value)
    return text


# --- packaging -------------------------------------------------------------------------------------


def local_code(template: Template) -> list[tuple[str, str, Path]]:
    """(logical id, property, local path) of every code location the template gives as a local path."""
    found = []
    resources = template.body.get("Resources", {})
    globals_uri = ((template.body.get("Globals") or {}).get("Function") or {}).get("CodeUri")
    for logical_id, resource in resources.items():
        for resource_type, prop, _ in _LOCAL_CODE:
            if resource.get("Type") != resource_type:
                continue
            properties = resource.get("Properties") or {}
            value = properties.get(prop)
            if value is None and resource_type == "AWS::Serverless::Function" and "InlineCode" not in properties:
                value = globals_uri if globals_uri is not None else "."  # SAM's default: the template's folder
            if isinstance(value, str) and not value.startswith("s3://"):
                found.append((logical_id, prop, (template.base_dir / value).resolve()))
    return found


def package(
    template: Template,
    s3: Any,
    region: str,
    build_dir: Path,
    zip_folder: Callable[[Path, Path], bytes] | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The template with local code replaced by S3 locations, everything uploaded (skipped when present)."""
    zip_folder = zip_folder or (lambda folder, _build: zip_directory(folder))
    for asset in template.assets:
        # CDK bundled the asset already: zipped as it is, as `cdk deploy` does.
        data = zip_directory(asset.source) if asset.packaging == "zip" else asset.source.read_bytes()
        _upload(s3, asset.bucket, asset.key, data, region)
    body = json.loads(json.dumps(template.body))
    locations = local_code(template)
    if not locations:
        return body
    bucket = ARTIFACT_BUCKET.format(account=ACCOUNT_ID, region=region)
    for logical_id, prop, path in locations:
        if not path.exists():
            raise DeployError(
                f"{template.path}: {logical_id}.{prop} points to {path}, which does not exist (paths are relative "
                "to the template's folder)"
            )
        data = zip_folder(path, build_dir) if path.is_dir() else path.read_bytes()
        key = f"{hashlib.sha256(data).hexdigest()}.zip" if path.is_dir() else f"{hashlib.sha256(data).hexdigest()}"
        if _upload(s3, bucket, key, data, region):
            say(f"  packaged {logical_id} from {path}")
        properties = body["Resources"][logical_id].setdefault("Properties", {})
        resource_type = body["Resources"][logical_id]["Type"]
        style = next(style for t, p, style in _LOCAL_CODE if t == resource_type and p == prop)
        properties[prop] = f"s3://{bucket}/{key}" if style == "uri" else {"S3Bucket": bucket, "S3Key": key}
    return body


def _upload(s3: Any, bucket: str, key: str, data: bytes, region: str) -> bool:
    """Put ``data`` at bucket/key unless an object of that size is there (keys are content hashes)."""
    try:
        if s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(data):
            return False
    except ClientError:
        pass
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **extra)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return True


def satisfy_bootstrap(template: Template, ssm: Any) -> None:
    """What `cdk bootstrap` would leave behind that a synthesized template reads: its version parameter."""
    if template.bootstrap_parameter:
        ssm.put_parameter(Name=template.bootstrap_parameter, Value=CDK_BOOTSTRAP_VERSION, Type="String", Overwrite=True)


# --- the stack ---------------------------------------------------------------------------------------


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["Key=Value", ...]`` as `aws cloudformation deploy --parameter-overrides` takes them."""
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise DeployError(f"--parameter-overrides {pair!r}: expected Key=Value")
        parameters[key] = value
    return parameters


def deploy_stack(
    cloudformation: Any,
    stack_name: str,
    body: dict[str, Any],
    parameters: dict[str, str],
    template_url: Callable[[str], str],
    say: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Create or update ``stack_name`` through a change set; the changes made (empty: nothing to do)."""
    existing = stack_status(cloudformation, stack_name)
    if existing in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"):
        say(f"  stack {stack_name} is {existing} from an earlier failed create: deleting it first")
        destroy_stack(cloudformation, stack_name)
        existing = None
    declared = body.get("Parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise DeployError(
            f"--parameter-overrides {', '.join(unknown)}: the template declares no such parameter "
            f"(it declares {', '.join(sorted(declared)) or 'none'})"
        )
    text = json.dumps(body)
    source = {"TemplateBody": text} if len(text) <= TEMPLATE_BODY_LIMIT else {"TemplateURL": template_url(text)}
    change_set = f"harness-{int(time.time() * 1000)}"
    kind = "UPDATE" if existing else "CREATE"
    try:
        cloudformation.create_change_set(
            StackName=stack_name,
            ChangeSetName=change_set,
            ChangeSetType=kind,
            Capabilities=CAPABILITIES,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            **source,
        )
    except ClientError as error:
        raise DeployError(f"CloudFormation refused the template of {stack_name}: {error}") from None
    described = _wait_change_set(cloudformation, stack_name, change_set)
    if described is None:
        cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=change_set)
        return []
    changes = [_describe_change(change["ResourceChange"]) for change in described.get("Changes", [])]
    for change in changes:
        say(f"  {change}")
    cloudformation.execute_change_set(StackName=stack_name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cloudformation.get_waiter(waiter).wait(StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 600})
    except WaiterError:
        raise DeployError(
            f"stack {stack_name} did not deploy: {stack_status(cloudformation, stack_name)}\n"
            + "\n".join(failure_events(cloudformation, stack_name))
            + "\nfix the template and run `harness deploy --template` again"
        ) from None
    return changes or [f"{kind.lower()}d stack {stack_name}"]


def _wait_change_set(cloudformation: Any, stack_name: str, change_set: str) -> dict[str, Any] | None:
    """The change set once computed; None when it holds no changes."""
    with contextlib.suppress(WaiterError):  # a change set without changes ends FAILED: read below
        cloudformation.get_waiter("change_set_create_complete").wait(
            StackName=stack_name, ChangeSetName=change_set, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )
    described = cloudformation.describe_change_set(StackName=stack_name, ChangeSetName=change_set)
    if described["Status"] == "CREATE_COMPLETE" and described.get("ExecutionStatus", "AVAILABLE") == "AVAILABLE":
        return described
    reason = described.get("StatusReason") or ""
    if described["Status"] == "FAILED" and "didn't contain changes" not in reason and "No updates" not in reason:
        raise DeployError(f"the change set of {stack_name} failed: {reason}")
    return None


def _describe_change(change: dict[str, Any]) -> str:
    action = {"Add": "add", "Modify": "modify", "Remove": "remove"}.get(change.get("Action"), change.get("Action"))
    detail = ""
    if change.get("Action") == "Modify":
        props = sorted({d["Target"].get("Name") for d in change.get("Details", []) if d.get("Target", {}).get("Name")})
        detail = f" ({', '.join(props)})" if props else ""
        if change.get("Replacement") == "True":
            detail += " replacing it"
    return f"{action} {change['LogicalResourceId']} ({change['ResourceType']}){detail}"


def stack_status(cloudformation: Any, stack_name: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError:
        return None
    status = stacks[0]["StackStatus"] if stacks else None
    return None if status == "DELETE_COMPLETE" else status


def failure_events(cloudformation: Any, stack_name: str, limit: int = 10) -> list[str]:
    """The stack's failed resources and why, oldest first."""
    try:
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    except ClientError:
        return []
    failed = [e for e in events if e.get("ResourceStatus", "").endswith("FAILED") and e.get("ResourceStatusReason")]
    return [
        f"  {e['LogicalResourceId']} ({e.get('ResourceType')}): {e['ResourceStatusReason'][:300]}"
        for e in reversed(failed[:limit])
    ]


def destroy_stack(cloudformation: Any, stack_name: str) -> bool:
    """Delete ``stack_name`` and wait; False when there was none."""
    if stack_status(cloudformation, stack_name) is None:
        return False
    cloudformation.delete_stack(StackName=stack_name)
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )
    except WaiterError:
        raise DeployError(
            f"stack {stack_name} was not deleted: {stack_status(cloudformation, stack_name)}\n"
            + "\n".join(failure_events(cloudformation, stack_name))
        ) from None
    return True


# --- the whole deploy ----------------------------------------------------------------------------------


def deploy(
    stack: StackSettings,
    settings: TemplateSettings,
    client: Callable[[str], Any],
    say: Callable[[str], None] = lambda _: None,
    record: bool = True,
) -> Outputs:
    """Package, deploy through a change set, find the topology in the stack and record it (outputs.json)."""
    path = settings.template_path()
    if path is None:
        raise DeployError("no template given: pass --template PATH (or set HARNESS_TEMPLATE)")
    template = read_template(path, stack.region, settings.stack_name or None)
    stack_name = settings.stack_name or template.stack_name
    say(f"deploying {template.kind} stack {stack_name} from {path} to {stack.endpoint_url} ...")
    satisfy_bootstrap(template, client("ssm"))
    build_dir = stack.state_path / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    s3 = client("s3")
    body = package(template, s3, stack.region, build_dir, zip_folder=function_package, say=say)
    bucket = ARTIFACT_BUCKET.format(account=ACCOUNT_ID, region=stack.region)

    def template_url(text: str) -> str:
        key = f"templates/{hashlib.sha256(text.encode()).hexdigest()}.json"
        _upload(s3, bucket, key, text.encode(), stack.region)
        return f"{stack.endpoint_url}/{bucket}/{key}"

    changes = deploy_stack(
        client("cloudformation"),
        stack_name,
        body,
        parse_overrides(settings.parameter_overrides.split()),
        template_url,
        say,
    )
    fixed = apply_reserved_concurrency(client("cloudformation"), client("lambda"), stack_name, body)
    for change in fixed:
        say(f"  {change}")
    if not changes and not fixed:
        say("  everything was up to date")
    picks = Picks(settings.subscriber_function, settings.publisher_function, settings.table, settings.stage)
    outputs = dataclasses.replace(discover(stack, client, stack_name, picks), template=str(path))
    if record:
        outputs.save(outputs_path(stack))
    return outputs


def reserved_concurrency(body: dict[str, Any], parameters: dict[str, str]) -> dict[str, int | None]:
    """Logical id -> the ReservedConcurrentExecutions the template gives each function (None: unreserved)."""
    resources = body.get("Resources", {})
    default = ((body.get("Globals") or {}).get("Function") or {}).get("ReservedConcurrentExecutions")
    wanted: dict[str, int | None] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") not in ("AWS::Lambda::Function", "AWS::Serverless::Function"):
            continue
        value = (resource.get("Properties") or {}).get("ReservedConcurrentExecutions")
        if value is None and resource["Type"] == "AWS::Serverless::Function":
            value = default
        if isinstance(value, dict) and set(value) == {"Ref"}:
            value = parameters.get(value["Ref"])
        try:
            wanted[logical_id] = None if value is None else int(value)
        except (TypeError, ValueError):
            continue  # an expression this reading does not resolve: left as CloudFormation made it
    return wanted


def apply_reserved_concurrency(cloudformation: Any, lambda_client: Any, stack_name: str, body: dict) -> list[str]:
    """LocalStack 4.8.1's CloudFormation drops a function's ReservedConcurrentExecutions: the throttle the
    pattern is about. It is set here, from the template, as CloudFormation sets it on AWS; the changes made."""
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    parameters = {
        p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue")) for p in stack.get("Parameters", [])
    }
    wanted = reserved_concurrency(body, parameters)
    functions = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        for r in page["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::Lambda::Function"
    }
    changes = [
        ensure_reserved_concurrency(lambda_client, functions[logical_id], reserved, label=logical_id)
        for logical_id, reserved in wanted.items()
        if logical_id in functions
    ]
    return [change for change in changes if change]


def destroy(stack: StackSettings, client: Callable[[str], Any], stack_name: str) -> bool:
    """Delete the stack; forget the recorded deployment when it was that stack's."""
    deleted = destroy_stack(client("cloudformation"), stack_name)
    recorded = outputs_path(stack)
    if recorded.is_file():
        with contextlib.suppress(DeployError):
            if Outputs.read(recorded).stack_name == stack_name:
                recorded.unlink()
    return deleted
