"""The direct way in's mapping templates, rendered by LocalStack's own VTL engine as API Gateway runs them."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
from localstack.services.apigateway.next_gen.execute_api.template_mapping import ApiGatewayVtlTemplate
from werkzeug.datastructures import Headers

from harness.ingress import INGRESSES, ingress_for
from harness.ingress.direct import accepted_template, request_template
from harness.topology.config import TopologySettings

HEADERS = ["Idempotency-Key", "X-GitHub-Delivery"]
CONTEXT = {"requestId": "req-1", "httpMethod": "POST", "requestTimeEpoch": 1_700_000_000_123,
           "identity": {"sourceIp": "127.0.0.1"}}  # fmt: skip


def render(template: str, headers: dict[str, str], proxy: str = "", body: str = "") -> str:
    overrides = {"requestOverride": {}, "responseOverride": {}}
    variables = {
        "context": {**CONTEXT, **overrides},
        "stageVariables": {},
        "input": {"body": body, "params": {"path": {"proxy": proxy} if proxy else {}, "querystring": {},
                                            "header": Headers(headers)}},
    }  # fmt: skip
    return ApiGatewayVtlTemplate().render_request(template, variables, overrides)[0]


def message(headers: dict[str, str], proxy: str = "", body: str = "") -> dict:
    rendered = parse_qs(render(request_template(HEADERS), headers, proxy, body))
    assert rendered["Action"] == ["SendMessage"]
    return json.loads(rendered["MessageBody"][0])


def test_the_message_is_the_one_the_publisher_would_send():
    body = '{"event": "push", "quote": "it\'s \\"fine\\""}'
    sent = message({"Content-Type": "application/json"}, "hooks/github", body)
    assert sent == {"id": "req-1", "method": "POST", "path": "/hooks/github", "body": body, "body_encoding": "text",
                    "received_at_ms": 1_700_000_000_123, "source_ip": "127.0.0.1"}  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({}, "req-1"), ({"Idempotency-Key": "k-1"}, "k-1"), ({"X-GitHub-Delivery": "gh-7"}, "gh-7"),
     ({"Idempotency-Key": "k-1", "X-GitHub-Delivery": "gh-7"}, "k-1")],
)  # fmt: skip
def test_the_message_id_is_the_senders_key_else_the_request_id_and_the_answer_says_it(headers, expected):
    assert message(headers)["id"] == expected
    assert json.loads(render(accepted_template(HEADERS), headers)) == {"id": expected, "status": "queued"}


WHOLE_MESSAGE_ENCODED = "\n".join(
    [
        "#set($q = '\"')",
        "#set($key = $input.params('Idempotency-Key'))",
        "#if($key == '')#set($key = $input.params('X-GitHub-Delivery'))#end",
        "#if($key == '')#set($key = $context.requestId)#end",
        "#set($proxy = $input.params('proxy'))",
        "#if($proxy == '')#set($path = '/')#else#set($path = \"/$util.escapeJavaScript($proxy)\")#end",
        '#set($message = "{${q}id${q}:${q}$util.escapeJavaScript($key)${q},${q}method${q}:${q}$context.httpMethod${q},'
        "${q}path${q}:${q}$path${q},${q}body${q}:${q}$util.escapeJavaScript($input.body)${q},"
        "${q}body_encoding${q}:${q}text${q},${q}received_at_ms${q}:$context.requestTimeEpoch,"
        '${q}source_ip${q}:${q}$context.identity.sourceIp${q}}")',
        "Action=SendMessage&MessageBody=$util.urlEncode($message)",
    ]
)
"""The message written whole, then URL-encoded: what the template must render byte for byte."""


@pytest.mark.parametrize(
    ("headers", "proxy", "body"),
    [({}, "", ""), ({"Idempotency-Key": "a b&c=d+e%f/ü"}, "orders/créé é", '{"x": "1 + 1 = 2 & 100%\\n"}'),
     ({"X-GitHub-Delivery": "\"quoted\" 'single' \\back"}, "a/b?c#d", "line one\nline two\ttab ☃"),
     ({}, "~*-._", "<script>alert('x')</script>")],
)  # fmt: skip
def test_the_template_renders_the_bytes_of_the_whole_message_encoded(headers, proxy, body):
    rendered = render(request_template(HEADERS), headers, proxy, body)
    assert rendered == render(WHOLE_MESSAGE_ENCODED, headers, proxy, body)
    assert json.loads(parse_qs(rendered)["MessageBody"][0])["body"] == (body or "{}")  # API Gateway's empty body


def test_the_root_path_is_a_slash():
    assert message({}, "")["path"] == "/"


def test_every_way_in_is_described_and_direct_refuses_signatures():
    assert {ingress_for(kind).kind for kind in INGRESSES} == set(INGRESSES)
    problems = TopologySettings(ingress="direct", signature_scheme="github").problems()
    assert any("cannot verify a webhook signature" in problem for problem in problems)
    assert not TopologySettings(ingress="direct").problems()
