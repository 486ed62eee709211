"""API Gateway straight to SQS: an ``AWS`` integration sending ``SendMessage`` itself, no function between.

The request mapping template writes the message the publisher function would (``id``, ``method``,
``path``, ``body``, ``received_at_ms``, ``source_ip``), URL-encoded as SQS's query protocol takes it; the
message id is the sender's idempotency key when a header names one, else API Gateway's request id, and
the response template answers ``202 {"id", "status": "queued"}`` with the same id. API Gateway assumes a
role of its own to send (AWS's setup; LocalStack does not enforce it). What a function did that a template
cannot: verify a signature, validate the idempotency key, refuse a body that is not JSON.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from harness.ingress.base import Ingress, Integration, IntegrationAnswer

if TYPE_CHECKING:
    from harness.topology.deploy import Deployer, Queue

CONTENT_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded")
"""Bodies the template maps (API Gateway uses the application/json one when a request names none); any
other type is answered 415 before SQS is called (passthrough NEVER), as on AWS."""
ROLE_SUFFIX = "webhook-apigateway-sqs"


def request_template(idempotency_headers: list[str]) -> str:
    """VTL: the message as JSON, URL-encoded into ``Action=SendMessage&MessageBody=...``.

    The JSON's fixed parts are written already URL-encoded and only the values are encoded as they are
    rendered: the same bytes as encoding the whole message, for a fraction of the template's evaluations
    (every ``$`` reference is one, on every request)."""
    return "\n".join(
        [
            *_message_id_lines(idempotency_headers),
            "#set($proxy = $input.params('proxy'))",
            "Action=SendMessage&MessageBody="
            + _encoded('{"id":"')
            + "$util.urlEncode($util.escapeJavaScript($key))"
            + _encoded('","method":"')
            + "$context.httpMethod"
            + _encoded('","path":"/')
            + "#if($proxy != '')$util.urlEncode($util.escapeJavaScript($proxy))#end"
            + _encoded('","body":"')
            + "$util.urlEncode($util.escapeJavaScript($input.body))"
            + _encoded('","body_encoding":"text","received_at_ms":')
            + "$context.requestTimeEpoch"
            + _encoded(',"source_ip":"')
            + "$util.urlEncode($context.identity.sourceIp)"
            + _encoded('"}'),
        ]
    )


def _encoded(text: str) -> str:
    """``text`` as ``$util.urlEncode`` writes it (form encoding: Java's ``URLEncoder`` on AWS)."""
    return quote_plus(text)


def accepted_template(idempotency_headers: list[str]) -> str:
    answer = '{"id": "$util.escapeJavaScript($key)", "status": "queued"}'
    return "\n".join([*_message_id_lines(idempotency_headers), answer])


def _message_id_lines(idempotency_headers: list[str]) -> list[str]:
    """``$key``: the first idempotency header a request carries, else its request id. (Compared as they are,
    not interpolated into strings first: API Gateway's ``$input.params`` answers '' for a missing one, and
    every node of a template is evaluated on every request.)"""
    lines = [f"#set($key = $input.params('{name}'))" for name in idempotency_headers[:1]] or ["#set($key = '')"]
    lines += [f"#if($key == '')#set($key = $input.params('{name}'))#end" for name in idempotency_headers[1:]]
    lines.append("#if($key == '')#set($key = $context.requestId)#end")
    return lines


def role_policy(queue_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}],
    }


class DirectIngress(Ingress):
    kind = "direct"
    description = "API Gateway → SQS (direct integration, no publisher function)"

    def ensure_sender(self, deployer: Deployer, queue: Queue, secret_arn: str) -> str:
        return ""

    def integration(self, deployer: Deployer, queue: Queue, publisher: str) -> Integration:
        settings = deployer.settings
        headers = [name.strip() for name in settings.idempotency_headers.split(",") if name.strip()]
        role = f"{settings.name_prefix}{ROLE_SUFFIX}"[:64]
        role_arn = deployer.ensure_role(role, "apigateway.amazonaws.com", role_policy(queue.arn))
        queue_name = queue.arn.rsplit(":", 1)[1]
        template = request_template(headers)
        return Integration(
            {
                "type": "AWS",
                "integrationHttpMethod": "POST",
                "uri": f"arn:aws:apigateway:{deployer.stack.region}:sqs:path/{deployer.account_id}/{queue_name}",
                "credentials": role_arn,
                "requestParameters": {"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
                "requestTemplates": dict.fromkeys(CONTENT_TYPES, template),
                "passthroughBehavior": "NEVER",
            },
            (
                IntegrationAnswer("202", "", accepted_template(headers)),
                IntegrationAnswer("400", r"4\d{2}", json.dumps({"error": "the queue refused the message"})),
                IntegrationAnswer("503", r"5\d{2}", json.dumps({"error": "the queue is unavailable"})),
            ),
        )

    def after_deploy(self, deployer: Deployer, api_id: str, publisher: str) -> None:
        """Nothing: the role API Gateway assumes was created with the integration."""

    def problems(self, settings: Any) -> list[str]:
        if settings.signature_scheme != "none":
            return [
                f"signature_scheme={settings.signature_scheme!r} with ingress=direct: API Gateway cannot verify a "
                "webhook signature without a function; use ingress=function, or signature_scheme=none"
            ]
        return []
