"""CloudWatch in the protocols current SDKs speak, not only the query protocol LocalStack 4.8.1 parses.

Current botocore (and so boto3 and the AWS CLI v2) sends CloudWatch requests as Smithy RPC v2 CBOR; the AWS
SDK for JavaScript v3 sends them as JSON 1.0 with the query-compatible trait. LocalStack 4.8.1 knows only the
query protocol for CloudWatch and answers both with "Missing Action". The operations and shapes are the same
in every protocol, so a request in a newer one is given a JSON variant of LocalStack's own CloudWatch model
before LocalStack picks the service (``preprocess_request`` runs before it): LocalStack's JSON parser and
serializer, which also read and write CBOR, then do the rest, and the same provider answers. RPC v2 requests
are addressed by path (``/service/<target prefix>/operation/<name>``) and typed ``application/cbor``; they
are given the ``X-Amz-Target`` and CBOR content type the JSON parser reads. Answers carry what each
protocol's clients read: ``smithy-protocol`` for RPC v2, and ``x-amzn-query-error`` (the query error code
and fault) for both, as AWS sends it for query-compatible services.

Loaded at start by a ``localstack.hooks.on_infra_start`` hook.
"""

from __future__ import annotations

import copy
import functools
import re

from botocore.model import ServiceModel
from localstack.aws import handlers
from localstack.aws.api import RequestContext
from localstack.aws.chain import HandlerChain
from localstack.aws.spec import loader
from localstack.http import Response
from localstack.runtime import hooks

TARGET_PREFIX = "GraniteServiceVersion20100801"
RPC_V2_HEADER = "smithy-protocol"
RPC_V2_CBOR = "rpc-v2-cbor"
RPC_V2_PATH = re.compile(rf"^/service/{TARGET_PREFIX}/operation/([A-Za-z0-9]+)$")
AMZ_CBOR = "application/x-amz-cbor-1.1"
"""The CBOR content type LocalStack's JSON parser decodes (RPC v2 sends ``application/cbor``)."""
JSON_METADATA = {
    "protocol": "json",
    "protocols": ["json"],
    "jsonVersion": "1.0",
    "targetPrefix": TARGET_PREFIX,
    "awsQueryCompatible": {},
}


@functools.cache
def json_model() -> ServiceModel:
    """LocalStack's CloudWatch model with the JSON 1.0 metadata AWS publishes for it (same shapes)."""
    description = copy.deepcopy(loader.load_service_model("cloudwatch", "service-2"))
    description["metadata"].update(JSON_METADATA)
    return ServiceModel(description, "cloudwatch")


def route_current_protocols(_chain: HandlerChain, context: RequestContext, _response: Response) -> None:
    """Before LocalStack picks the service: a JSON 1.0 or RPC v2 CBOR CloudWatch request gets the JSON model."""
    if context.service is not None:
        return
    headers = context.request.headers
    if headers.get(RPC_V2_HEADER) == RPC_V2_CBOR:
        operation = RPC_V2_PATH.match(context.request.path)
        if operation is None:
            return
        headers["X-Amz-Target"] = f"{TARGET_PREFIX}.{operation[1]}"
        headers["Content-Type"] = AMZ_CBOR
        headers["Accept"] = "application/cbor"
        context.service = json_model()
    elif headers.get("X-Amz-Target", "").startswith(f"{TARGET_PREFIX}."):
        context.service = json_model()


def answer_in_the_request_protocol(_chain: HandlerChain, context: RequestContext, response: Response) -> None:
    if context.service is None or context.service is not json_model():
        return
    if context.request.headers.get(RPC_V2_HEADER) == RPC_V2_CBOR:
        response.headers[RPC_V2_HEADER] = RPC_V2_CBOR
    if (error := context.service_exception) is not None:
        response.headers["x-amzn-query-error"] = f"{error.code};{'Sender' if error.sender_fault else 'Receiver'}"


@hooks.on_infra_start()
def accept_current_cloudwatch_protocols() -> None:
    handlers.preprocess_request.append(route_current_protocols)
    handlers.run_custom_response_handlers.append(answer_in_the_request_protocol)
