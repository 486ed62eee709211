"""One call per service the harness exposes, with whatever boto3 runs this script (the newest, not the pins).

Usage: python smoke.py ENDPOINT TOPOLOGY_JSON -> prints {service: what it answered} as JSON. Runs outside the
project's venv: standard library and boto3 only.
"""

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta

import boto3

endpoint, topology = sys.argv[1], json.loads(sys.argv[2])
session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")


def client(service):
    return session.client(service, endpoint_url=endpoint)


def lambda_metric(cloudwatch, name, statistic):
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=name,
        Dimensions=[{"Name": "FunctionName", "Value": topology["subscriber_name"]}],
        StartTime=now - timedelta(minutes=30),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=[statistic],
    )["Datapoints"]
    return points[0][statistic] if points else None


def cloudwatch_calls():
    cloudwatch = client("cloudwatch")
    now = datetime.now(UTC)
    subscriber = {"Name": "FunctionName", "Value": topology["subscriber_name"]}
    listed = cloudwatch.list_metrics(Namespace="AWS/Lambda")["Metrics"]
    throttles = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "throttles",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Throttles",
                        "Dimensions": [{"Name": "FunctionName", "Value": topology["subscriber_name"]}],
                    },
                    "Period": 3600,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=30),
        EndTime=now + timedelta(minutes=1),
    )["MetricDataResults"][0]["Values"]
    namespace = f"Compat/{uuid.uuid4().hex[:8]}"
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Orders", "Value": 7.0}])
    cloudwatch.put_metric_alarm(
        AlarmName=namespace,
        Namespace=namespace,
        MetricName="Orders",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=100,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarms = [alarm["AlarmName"] for alarm in cloudwatch.describe_alarms(AlarmNames=[namespace])["MetricAlarms"]]
    cloudwatch.delete_alarms(AlarmNames=[namespace])
    try:
        cloudwatch.get_dashboard(DashboardName=namespace)
        missing_dashboard = None
    except cloudwatch.exceptions.ClientError as error:
        missing_dashboard = error.response["Error"]["Code"]
    return {
        "protocol": cloudwatch.meta.service_model.protocol,
        "lambda_metric_names": sorted({m["MetricName"] for m in listed if subscriber in m["Dimensions"]}),
        "concurrent_executions_max": lambda_metric(cloudwatch, "ConcurrentExecutions", "Maximum"),
        "throttles_sum": sum(throttles),
        "own_metric": [m["MetricName"] for m in cloudwatch.list_metrics(Namespace=namespace)["Metrics"]],
        "alarms": alarms,
        "missing_dashboard_error": missing_dashboard,
    }


def sqs_calls():
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=f"compat-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    body = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"]
    sqs.delete_queue(QueueUrl=url)
    depth = sqs.get_queue_attributes(QueueUrl=topology["queue_url"], AttributeNames=["ApproximateNumberOfMessages"])
    return {"body": body, "topology_queue_depth": int(depth["Attributes"]["ApproximateNumberOfMessages"])}


def s3_calls():
    s3 = client("s3")
    bucket = f"compat-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"payload")
    body = s3.get_object(Bucket=bucket, Key="k")["Body"].read().decode()
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    return {"body": body}


def secretsmanager_calls():
    secrets = client("secretsmanager")
    name = f"compat-{uuid.uuid4().hex[:8]}"
    secrets.create_secret(Name=name, SecretString="s3cret")
    value = secrets.get_secret_value(SecretId=name)["SecretString"]
    secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    return {"value": value}


CALLS = {
    "cloudwatch": cloudwatch_calls,
    "sqs": sqs_calls,
    "dynamodb": lambda: {"rows": client("dynamodb").scan(TableName=topology["table_name"], Select="COUNT")["Count"]},
    "lambda": lambda: {
        "reserved": client("lambda").get_function(FunctionName=topology["subscriber_name"])["Concurrency"][
            "ReservedConcurrentExecutions"
        ]
    },
    "apigateway": lambda: {"name": client("apigateway").get_rest_api(restApiId=topology["api_id"])["name"]},
    "logs": lambda: {
        "events": len(
            client("logs").filter_log_events(logGroupName=f"/aws/lambda/{topology['subscriber_name']}", limit=5)[
                "events"
            ]
        )
    },
    "cloudformation": lambda: {"stacks": len(client("cloudformation").list_stacks()["StackSummaries"])},
    "s3": s3_calls,
    "secretsmanager": secretsmanager_calls,
    "sts": lambda: {"account": client("sts").get_caller_identity()["Account"]},
}

results = {"sdk": f"boto3 {boto3.__version__}"}
for service, call in CALLS.items():
    try:
        results[service] = call()
    except Exception as error:  # every failure is reported, the test says which
        results[service] = {"error": f"{type(error).__name__}: {error}"}
print(json.dumps(results))
