"""CloudWatch requests in the protocols current SDKs send reach LocalStack's own parser and serializer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import cbor2
from localstack.aws.api import RequestContext
from localstack.aws.api.cloudwatch import InvalidParameterValueException
from localstack.aws.protocol.parser import create_parser
from localstack.aws.protocol.serializer import create_serializer
from localstack.http import Request, Response

from harness.localstack_extensions.cloudwatch_protocols import (
    answer_in_the_request_protocol,
    json_model,
    route_current_protocols,
)

WHEN = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _routed(path: str, headers: dict[str, str], body: bytes) -> RequestContext:
    context = RequestContext(Request("POST", path, headers=headers, body=body))
    route_current_protocols(None, context, Response())
    return context


def test_rpc_v2_cbor_is_parsed_as_the_operation_its_path_names():
    body = cbor2.dumps(
        {"Namespace": "AWS/Lambda", "MetricName": "Throttles", "StartTime": WHEN, "EndTime": WHEN, "Period": 60},
        datetime_as_timestamp=True,
    )
    context = _routed(
        "/service/GraniteServiceVersion20100801/operation/GetMetricStatistics",
        {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"},
        body,
    )
    assert context.service is json_model() and context.service.protocol == "json"
    operation, request = create_parser(context.service).parse(context.request)
    assert operation.name == "GetMetricStatistics"
    assert request["MetricName"] == "Throttles" and request["Period"] == 60
    assert request["StartTime"].timestamp() == WHEN.timestamp()


def test_json_1_0_is_parsed_by_its_target():
    context = _routed(
        "/",
        {"X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics", "Content-Type": "application/x-amz-json-1.0"},
        json.dumps({"Namespace": "AWS/Lambda"}).encode(),
    )
    operation, request = create_parser(context.service).parse(context.request)
    assert (operation.name, request) == ("ListMetrics", {"Namespace": "AWS/Lambda"})


def test_other_requests_are_left_to_localstack():
    for path, headers in [
        ("/", {"Content-Type": "application/x-www-form-urlencoded"}),  # CloudWatch's query protocol
        ("/", {"X-Amz-Target": "DynamoDB_20120810.Scan"}),
        ("/service/SomethingElse/operation/Get", {"smithy-protocol": "rpc-v2-cbor"}),
    ]:
        assert _routed(path, headers, b"").service is None


def test_an_rpc_v2_answer_is_cbor_with_the_protocol_header_and_the_query_error_code():
    context = _routed(
        "/service/GraniteServiceVersion20100801/operation/GetDashboard",
        {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"},
        cbor2.dumps({"DashboardName": "nope"}),
    )
    context.operation, _ = create_parser(context.service).parse(context.request)
    error = InvalidParameterValueException("Dashboard nope does not exist.")
    context.service_exception = error
    response = create_serializer(context.service).serialize_error_to_response(
        error, context.operation, context.request.headers, "request-id"
    )
    answer_in_the_request_protocol(None, context, response)
    assert response.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert response.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    assert response.mimetype == "application/cbor"
    assert cbor2.loads(response.data)["__type"] == "InvalidParameterValue"


def test_a_json_success_gets_no_rpc_header_and_no_error_code():
    context = _routed(
        "/",
        {"X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics", "Content-Type": "application/x-amz-json-1.0"},
        b"{}",
    )
    response = Response()
    answer_in_the_request_protocol(None, context, response)
    assert "smithy-protocol" not in response.headers and "x-amzn-query-error" not in response.headers
