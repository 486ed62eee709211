"""The deployed Scalable Webhook topology, end to end against the real embedded stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from harness.observe import peek_messages, queue_depth, rows
from harness.polling import wait_until
from harness.redrive import redrive
from harness.topology.deploy import Deployer
from harness.webhook import post_webhook

REPO = Path(__file__).resolve().parents[2]


def row(aws_client, table: str, item_id: str) -> dict | None:
    return next((r for r in rows(aws_client("dynamodb"), table) if r["id"] == item_id), None)


def test_post_hello_becomes_a_row_within_seconds(webhook, webhook_topology, aws_client):
    table = webhook_topology.outputs.table_name
    status, body = webhook("/hello")
    assert status == 202 and body["status"] == "queued"
    wait_until(lambda: row(aws_client, table, body["id"]), 10, what="the row")
    assert row(aws_client, table, body["id"])["message"] == "hello from /hello"


def test_the_webhook_url_is_stable_and_printed(webhook_topology):
    assert webhook_topology.outputs.webhook_url.endswith("/_aws/execute-api/webhookapi/prod")


def test_deploying_twice_changes_nothing(localstack, webhook_topology):
    deployer = Deployer(localstack.settings, webhook_topology.settings)
    assert deployer.deploy() == webhook_topology.outputs
    assert deployer.changes == []


def test_a_message_delivered_twice_becomes_one_row(webhook_topology, aws_client):
    outputs = webhook_topology.outputs
    sqs = aws_client("sqs")
    item_id = f"dup-{uuid.uuid4()}"
    message = json.dumps({"id": item_id, "path": "/twice", "method": "POST", "received_at_ms": 1})
    for _ in range(2):  # at-least-once delivery, made visible
        sqs.send_message(QueueUrl=outputs.queue_url, MessageBody=message)
    wait_until(lambda: queue_depth(sqs, outputs.queue_url).total == 0, 15, what="the queue to drain")
    assert [r["id"] for r in rows(aws_client("dynamodb"), outputs.table_name)].count(item_id) == 1
    assert peek_messages(sqs, outputs.dlq_url) == []


def test_sender_retries_with_one_idempotency_key_become_one_row(webhook, webhook_topology, aws_client):
    outputs = webhook_topology.outputs
    key = f"delivery-{uuid.uuid4()}"
    answers = [webhook("/retried", headers={"X-GitHub-Delivery": key}) for _ in range(3)]
    assert {status for status, _ in answers} == {202} and {body["id"] for _, body in answers} == {key}
    wait_until(lambda: row(aws_client, outputs.table_name, key), 10, what="the row")
    sqs = aws_client("sqs")
    wait_until(lambda: queue_depth(sqs, outputs.queue_url).total == 0, 15, what="the queue to drain")
    assert [r["id"] for r in rows(aws_client("dynamodb"), outputs.table_name)].count(key) == 1


def test_a_poisoned_record_reaches_the_dlq_while_its_batch_mates_are_written(deploy_topology, aws_client):
    outputs = deploy_topology(
        fail_path_marker="poison",
        visibility_timeout_s=2,
        subscriber_timeout_s=2,
        max_receive_count=2,
        batching_window_s=1,  # lets the three messages share a batch
    ).outputs
    answers = [post_webhook(outputs.webhook_url, path)[1]["id"] for path in ("/ok/1", "/poison/2", "/ok/3")]
    good, poisoned = [answers[0], answers[2]], answers[1]
    sqs = aws_client("sqs")
    wait_until(lambda: len(peek_messages(sqs, outputs.dlq_url, hold_s=2)) == 1, 30, what="the DLQ message")
    (dead,) = peek_messages(sqs, outputs.dlq_url, hold_s=2)
    assert dead.item_id == poisoned
    table_ids = {r["id"] for r in rows(aws_client("dynamodb"), outputs.table_name)}
    assert set(good) <= table_ids and poisoned not in table_ids
    assert queue_depth(sqs, outputs.queue_url).total == 0


def test_an_invalid_setting_is_refused_before_anything_is_created(localstack, aws_client):
    prefix = f"bad{uuid.uuid4().hex[:6]}-"
    env = {
        **os.environ,
        "HARNESS_PORT": str(localstack.settings.port),
        "HARNESS_STATE_DIR": str(localstack.settings.state_dir),
        "HARNESS_NAME_PREFIX": prefix,
        "HARNESS_BATCH_SIZE": "50",
    }
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "deploy"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "batch_size=50" in result.stderr and "HARNESS_BATCH_SIZE" in result.stderr
    assert not aws_client("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls")
    assert not [t for t in aws_client("dynamodb").list_tables()["TableNames"] if t.startswith(prefix)]


def test_a_users_own_functions_deploy_run_and_update_in_place(deploy_topology, aws_client, tmp_path):
    subscriber = tmp_path / "my-subscriber"
    subscriber.mkdir()
    (subscriber / "consumer.py").write_text(
        "import boto3, json, os\n"
        "def main(event, context):\n"
        "    table = boto3.resource('dynamodb').Table(os.environ['TABLE_NAME'])\n"
        "    for record in event['Records']:\n"
        "        message = json.loads(record['body'])\n"
        "        table.put_item(Item={'id': message['id'], 'message': 'custom ' + message['path']})\n"
    )
    publisher = tmp_path / "my-publisher"
    shutil.copytree(REPO / "functions" / "publisher", publisher)
    topology = deploy_topology(subscriber_dir=subscriber, subscriber_handler="consumer.main", publisher_dir=publisher)
    outputs = topology.outputs
    status, body = post_webhook(outputs.webhook_url, "/mine")
    assert status == 202
    wait_until(lambda: row(aws_client, outputs.table_name, body["id"]), 10, what="the custom row")
    assert row(aws_client, outputs.table_name, body["id"])["message"] == "custom /mine"

    # Edit the publisher and deploy again: only its code changes, and the next request runs it.
    source = publisher / "app.py"
    source.write_text(source.read_text().replace('"status": "queued"', '"status": "queued-v2"'))
    assert topology.redeploy() == [f"updated code of {outputs.publisher_name} from {publisher}"]
    assert post_webhook(outputs.webhook_url, "/mine")[1]["status"] == "queued-v2"


def test_redrive_after_a_fix_turns_the_dlq_into_rows(deploy_topology, aws_client):
    topology = deploy_topology(
        fail_path_marker="poison", max_receive_count=2, visibility_timeout_s=2, subscriber_timeout_s=2
    )
    outputs, sqs = topology.outputs, aws_client("sqs")
    ids = {post_webhook(outputs.webhook_url, f"/poison/{n}")[1]["id"] for n in range(5)}
    wait_until(lambda: {m.item_id for m in peek_messages(sqs, outputs.dlq_url, hold_s=2)} == ids, 40, what="the DLQ")
    assert topology.redeploy(fail_path_marker="") == [
        f"updated configuration of {outputs.subscriber_name}: Environment"
    ]
    assert redrive(sqs, outputs) == 5
    table = outputs.table_name
    wait_until(lambda: ids <= {r["id"] for r in rows(aws_client("dynamodb"), table)}, 20, what="the redriven rows")
    assert peek_messages(sqs, outputs.dlq_url) == []


def test_the_tables_capacity_is_deployed_and_changed_in_place(deploy_topology, aws_client):
    topology = deploy_topology(table_billing_mode="PROVISIONED", table_write_capacity=5)
    table = aws_client("dynamodb").describe_table(TableName=topology.outputs.table_name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 5
    changes = topology.redeploy(table_write_capacity=50)
    assert changes == [f"updated capacity of table {topology.outputs.table_name} to PROVISIONED 5 RCU / 50 WCU"]
    subscriber = topology.outputs.subscriber_name

    def latency() -> str:
        configuration = aws_client("lambda").get_function_configuration(FunctionName=subscriber)
        return configuration["Environment"]["Variables"]["BACKEND_LATENCY_MS"]

    assert latency() == "0"  # a table with real capacity: no stand-in latency
    assert topology.redeploy(table_billing_mode="PAY_PER_REQUEST") == [
        f"updated capacity of table {topology.outputs.table_name} to on demand",
        f"updated configuration of {subscriber}: Environment",
    ]
    assert latency() == "100"  # on demand, nothing to exceed: the stand-in for a scale-limited backend
