"""Your own stack under the harness: CDK, SAM and CloudFormation templates deployed, found, flooded, verified.

The stacks in tests/stacks/ know nothing of the harness: their publishers answer in their own words and
their rows keep their own fields, so verification finds requests by token, or counts them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness import compare
from harness.backend import deployed_backend
from harness.compare.benches import VARIANT_VARIABLE
from harness.evidence.tokens import new_token, tokens_in
from harness.exceptions import DeployError, SettingsError
from harness.load.config import LoadSettings
from harness.polling import poll
from harness.topology import template as own_stack
from harness.topology.config import TemplateSettings, TopologySettings

STACKS = Path(__file__).resolve().parents[1] / "stacks"
SHORT = {"shape": "steady", "users": 6, "spawn_rate": 6.0, "duration_s": 8, "user_rps": 4.0}
WITHIN_5_WCU = {"shape": "steady", "users": 2, "spawn_rate": 2.0, "duration_s": 8, "user_rps": 2.0}
"""The CDK stack's table is PROVISIONED 5/5 as in the reference: a load it can take (a flood makes it throttle,
the batch fail and wait out the 300 s visibility timeout, as on AWS)."""


@pytest.mark.slow
def test_a_cdk_app_written_like_the_reference_deploys_unchanged_and_is_verified_by_token(
    deploy_stack, run_load, aws_client
):
    topology = deploy_stack(STACKS / "cdk-webhook" / "cdk.out")
    outputs = topology.outputs
    assert outputs.stack_name == "TheScalableWebhookStack" and outputs.entry_kind == "REST API"
    assert outputs.webhook_url.endswith("/prod") and not outputs.has_dlq and not outputs.ours
    assert "SQSSubscribeLambdaHandle" in outputs.subscriber_name and "Messages" in outputs.table_name
    # The throttle as the template declares it (LocalStack's CloudFormation alone would drop it).
    lambda_client = aws_client("lambda")
    reserved = lambda_client.get_function_concurrency(FunctionName=outputs.subscriber_name)
    assert reserved["ReservedConcurrentExecutions"] == 2
    queue = aws_client("sqs").get_queue_attributes(QueueUrl=outputs.queue_url, AttributeNames=["VisibilityTimeout"])
    assert queue["Attributes"]["VisibilityTimeout"] == "300"
    table = aws_client("dynamodb").describe_table(TableName=outputs.table_name)["Table"]
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 5

    token = new_token()
    status, answer = topology.post(f"/hello/{token}", json.dumps({"token": token}))
    assert status == 200 and answer.startswith("You have added a message to the queue!")
    row = poll(lambda: [r for r in topology.rows() if token in tokens_in(r)], bool, timeout_s=30)
    assert row[0]["message"] == f"hello from /hello/{token}"

    verdict, run_dir = run_load(topology, idempotency_share=0.0, **WITHIN_5_WCU)
    assert verdict.correlation == "token", verdict
    assert verdict.verdict == "PASS", verdict.reasons
    assert verdict.rows == verdict.accepted > 10 and verdict.lost == 0 and verdict.enqueued_per_request == 1
    assert not verdict.has_dlq and verdict.consumer_concurrency_limit == 2
    page = (run_dir / "report.html").read_text()
    assert "TheScalableWebhookStack" in page and "no DLQ" in page and "token: each request" in page
    assert json.loads((run_dir / "evidence.json").read_text())["samples"]  # sampled each second, with no DLQ


@pytest.mark.slow
def test_a_publisher_that_does_not_collapse_sender_retries_is_caught(deploy_stack, run_load):
    topology = deploy_stack(STACKS / "cdk-webhook" / "cdk.out")
    verdict, _ = run_load(topology, idempotency_share=1.0, retry_share=1.0, **WITHIN_5_WCU)
    assert verdict.verdict == "FAIL" and verdict.duplicate_rows > 0
    assert any("sender retries" in reason for reason in verdict.reasons), verdict.reasons


@pytest.mark.slow
def test_a_sam_stack_with_a_dlq_deploys_updates_through_a_change_set_and_passes(deploy_stack, run_load, aws_client):
    topology = deploy_stack(STACKS / "sam-webhook" / "template.yaml")
    outputs = topology.outputs
    assert outputs.stack_name == "sam-webhook" and outputs.has_dlq and "DeadLetters" in outputs.dlq_url
    assert outputs.webhook_url.endswith("/Prod") and "Writer" in outputs.subscriber_name
    lambda_client = aws_client("lambda")
    assert lambda_client.get_function_concurrency(FunctionName=outputs.subscriber_name)[
        "ReservedConcurrentExecutions"
    ] == 2  # fmt: skip

    assert topology.redeploy() == []  # nothing changed: nothing done
    changes = topology.redeploy(parameter_overrides="SubscriberConcurrency=3")
    assert "set reserved concurrency of Writer to 3" in changes, changes
    assert lambda_client.get_function_concurrency(FunctionName=outputs.subscriber_name)[
        "ReservedConcurrentExecutions"
    ] == 3  # fmt: skip

    verdict, _ = run_load(topology, **SHORT)
    assert verdict.correlation == "token" and verdict.verdict == "PASS", verdict.reasons
    assert verdict.dlq == 0 and verdict.has_dlq and verdict.duplicate_rows == 0
    assert topology.dead_letters() == []


@pytest.mark.slow
def test_a_stack_that_keeps_no_token_is_verified_by_counting(deploy_stack, run_load):
    topology = deploy_stack(STACKS / "cfn-webhook" / "template.yaml")
    outputs = topology.outputs
    assert outputs.entry_kind == "function URL" and ".lambda-url." in outputs.webhook_host
    assert not outputs.has_dlq
    status, answer = topology.post("/hello", "{}")
    assert (status, answer) == (201, "queued")

    verdict, _ = run_load(topology, idempotency_share=0.0, **SHORT)
    assert verdict.correlation == "count", verdict
    assert verdict.verdict == "PASS", verdict.reasons
    assert verdict.rows == verdict.accepted and verdict.enqueued_per_request == 1
    assert any("verified by counting" in gap for gap in verdict.unproven)


@pytest.mark.slow
def test_compare_runs_the_variants_on_your_stack_and_gives_its_throttle_back(
    deploy_stack, localstack, aws_client, tmp_path
):
    topology = deploy_stack(STACKS / "sam-webhook" / "template.yaml")  # reserved 2, its table keyed by pk
    outputs, lambda_client = topology.outputs, aws_client("lambda")
    topology.post("/before", "{}")  # a row from before: each variant starts from an empty table
    poll(topology.rows, bool, timeout_s=30)
    assert compare.stack_limit(lambda_client, outputs) == 2
    load = LoadSettings.from_env().replace(idempotency_share=0.0, reports_dir=tmp_path / "reports", **SHORT)
    variants = compare.parse_variants("reserved=1+maximum=2,none", 2)
    backend = deployed_backend(outputs, localstack.hosting(), aws_client)
    results, compare_dir = compare.run(
        topology.stack, TopologySettings.from_env(), backend, load, variants, aws_client, deployed=outputs
    )
    summary = {v["name"]: v for v in json.loads((compare_dir / "compare.json").read_text())["variants"]}
    assert summary["reserved concurrency 1 + MaximumConcurrency 2"]["max_consumer_concurrency"] == 1
    assert summary["no throttle"]["max_consumer_concurrency"] > 1
    for variant in summary.values():
        assert variant["verdict"] == "PASS" and variant["lost"] == 0 and variant["rows"] == variant["accepted"]
    assert all(result.verdict.correlation == "token" for result in results)
    # The stack as it was: its own throttle and environment.
    assert lambda_client.get_function_concurrency(FunctionName=outputs.subscriber_name)[
        "ReservedConcurrentExecutions"
    ] == 2  # fmt: skip
    mapping = lambda_client.get_event_source_mapping(UUID=outputs.event_source_mapping_uuid)
    assert not mapping.get("ScalingConfig")
    variables = lambda_client.get_function_configuration(FunctionName=outputs.subscriber_name)["Environment"]
    assert VARIANT_VARIABLE not in variables["Variables"]
    assert "Design comparison" in (compare_dir / "report.html").read_text()


@pytest.mark.slow
def test_faults_on_your_stack_come_from_outside_its_code_and_lose_nothing(
    deploy_stack, run_load, aws_client, publisher_without_retries
):
    """A backend outage, transient errors, a crash mid-batch and SQS refusing the publisher, on a stack whose
    functions know nothing of them."""
    topology = deploy_stack(STACKS / "sam-webhook" / "template.yaml")
    with pytest.raises(SettingsError, match="poisoned requests need the harness's subscriber"):
        run_load(topology, poison_share=0.1, **SHORT)
    publisher_without_retries(topology.outputs.publisher_name)
    verdict, run_dir = run_load(
        topology,
        idempotency_share=0.0,
        fault_outage_after_s=2,
        fault_outage_duration_s=2,
        fault_error_rate=0.02,
        fault_crash_after_s=3,
        fault_queue_outage_after_s=4,
        fault_queue_outage_duration_s=5,
        **SHORT,
    )
    assert verdict.verdict == "PASS", verdict.reasons
    assert verdict.lost == 0 and verdict.duplicate_rows == 0 and verdict.rows == verdict.accepted
    assert "status 50" in (run_dir / "locust_failures.csv").read_text()  # their publisher failed: SQS was down
    outputs = topology.outputs
    crashed = aws_client("logs").filter_log_events(
        logGroupName=f"/aws/lambda/{outputs.subscriber_name}", filterPattern='"Runtime exited with error"'
    )["events"]
    assert any("signal: SIGKILL" in event["message"] for event in crashed), crashed
    variables = aws_client("lambda").get_function_configuration(FunctionName=outputs.subscriber_name)["Environment"]
    assert not [name for name in variables["Variables"] if name.startswith("HARNESS_FAULT_")]
    assert "harness:fault-send-outage-ms" not in aws_client("sqs").list_queue_tags(QueueUrl=outputs.queue_url).get(
        "Tags", {}
    )


def test_an_ambiguous_stack_names_the_candidates_and_the_flag(localstack, aws_client, tmp_path):
    folder = tmp_path / "two-subscribers"
    shutil.copytree(STACKS / "sam-webhook", folder)
    template = (folder / "template.yaml").read_text()
    second = template[template.index("  Writer:") : template.index("Outputs:")].replace("Writer", "Auditor")
    (folder / "template.yaml").write_text(template.replace("Outputs:", second + "Outputs:"))
    settings = TemplateSettings.from_env({}).replace(template=str(folder / "template.yaml"))
    client = aws_client
    with pytest.raises(
        DeployError, match=r"2 candidate subscriber functions: .*Auditor.*Writer.*--subscriber-function"
    ):
        own_stack.deploy(localstack.settings, settings, client, record=False)
    picked = settings.replace(subscriber_function=_physical(aws_client, "two-subscribers", "Auditor"))
    outputs = own_stack.deploy(localstack.settings, picked, client, record=False)
    assert "Auditor" in outputs.subscriber_name
    assert own_stack.destroy(localstack.settings, client, "two-subscribers")
    assert own_stack.stack_status(aws_client("cloudformation"), "two-subscribers") is None


def test_template_mistakes_are_reported_before_anything_is_created(localstack, aws_client, tmp_path):
    settings = TemplateSettings.from_env({})
    with pytest.raises(DeployError, match="no template at"):
        own_stack.deploy(localstack.settings, settings.replace(template=str(tmp_path / "nope.yaml")), aws_client)
    sam = settings.replace(template=str(STACKS / "sam-webhook" / "template.yaml"), stack_name="mistakes")
    with pytest.raises(DeployError, match=r"declares no such parameter.*SubscriberConcurrency"):
        own_stack.deploy(localstack.settings, sam.replace(parameter_overrides="Concurrency=3"), aws_client)
    broken = tmp_path / "broken.yaml"
    broken.write_text((STACKS / "cfn-webhook" / "template.yaml").read_text().replace("Code: publisher", "Code: gone"))
    with pytest.raises(DeployError, match=r"Publisher.Code points to .*gone, which does not exist"):
        own_stack.deploy(localstack.settings, settings.replace(template=str(broken)), aws_client)


def _physical(aws_client, stack_name: str, logical_id: str) -> str:
    resource = aws_client("cloudformation").describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    return resource["StackResourceDetail"]["PhysicalResourceId"]
