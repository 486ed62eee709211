"""A mapping template run as closures writes what airspeed writes, leaves the variables as airspeed leaves
them and fails where and as airspeed fails, for templates made of the elements it knows; the rest it leaves
to airspeed."""

from __future__ import annotations

import airspeed
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from localstack.services.apigateway.next_gen.execute_api.template_mapping import (
    ApiGatewayVtlTemplate,
    VelocityInput,
    VelocityUtilApiGateway,
)
from localstack.utils.aws.templating import APIGW_SOURCE, SOURCE_NAMESPACE_VARIABLE
from werkzeug.datastructures import Headers

from harness.ingress.direct import accepted_template, request_template
from harness.localstack_extensions.templates import plain_deepcopy
from harness.localstack_extensions.vtl import program

FRAGMENTS = [
    *["text ", "{", '"', "#", "# ", "$", "$ ", "\\$a", "\n", "a#b", "##comment\n", "#* block *#"],
    *["$a", "$!a", "${a}", "$a.b", "$a.b.c", "$a.none.c", "$missing", "$!missing", "$missing.x", "$n", "$t", "$f"],
    *["$m.get('k')", "$m.k", "$m.k.length()", "$m.k.trim()", "$m.keySet()", "$m.size()", "$l.size()", "$l.get(1)"],
    *["$l.contains(2)", "$s.length()", "$s.replaceAll('a', 'b')", "$s.contains('b')", "$s.substring(1)", "$l"],
    *["$util.escapeJavaScript($s)", "$util.urlEncode($m.k)", "$util.toJson($a)", "$util.base64Encode('x')"],
    *["$input.params('h')", "$input.params('missing')", "$input.params().header", "$input.body", "$input.json('$')"],
    *["$input.path('$.k')", "$context.requestId", "$context.identity.sourceIp", "$context.none", "$x", "$y.z"],
    *["#set($x = $a.b.c)", "#set($x = 'lit')", "#set($x = 1 + 2 * 3)", "#set($x = $n - 1 - 1)", "#set($x = !$t)"],
    *["#set($x = $missing)", "#set($m.k = 'new')", "#set($y = {})", "#set($y = [1, 2])", "#set($x = 7 / 2)"],
    *['#set($x = "in $s")', "#set($l2 = $l.add(3))", "#set($x = 5 % 3)", "#set($x = $n + 'a')", "#set($x = 1.5)"],
    *["#if($n == 0)", "#if($a.b.c == 'deep')", "#if($missing)", "#if(!$missing)", "#if($t && $f || $t)"],
    *["#if($n < 1 and $n >= 0)", "#if($x != '')", "#if($l.size() > 1)", "#if(null)", "#if($s.contains('a'))"],
    *["#elseif($t)", "#elseif($n == 1)", "#else", "#end", "#end", "#{end}", "#{else}"],
    *["#foreach($i in $l)$i#end", "#stop", "#define($d)x#end", "$l[0]", "${missing|'alt'}", "#macro(mm)m#end"],
]


def namespace(source: str) -> dict:
    """What LocalStack's renderer hands airspeed (``prepare_namespace``), with values of every kind."""
    variables = {
        "a": {"b": {"c": "deep"}},
        "m": {"k": " value "},
        "l": [1, 2],
        "n": 0,
        "t": True,
        "f": False,
        "s": 'say "a" & b',
        "context": {"requestId": "req-1", "identity": {"sourceIp": "127.0.0.1"}},
        "input": VelocityInput('{"k": 1}', {"path": {}, "querystring": {}, "header": Headers({"h": "v"})}),
        "util": VelocityUtilApiGateway(),
    }
    return {**variables, SOURCE_NAMESPACE_VARIABLE: source}


def outcome(merge, variables: dict) -> tuple:
    try:
        written = merge(variables)
    except Exception as error:
        written = (type(error).__name__, str(error))
    return written, repr({key: value for key, value in variables.items() if key not in ("input", "util")})


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12), st.sampled_from([APIGW_SOURCE, "APPSYNC"]))
def test_a_template_run_as_closures_does_what_airspeed_does(fragments, source):
    text = "".join(fragments)
    template = airspeed.Template(text)
    try:
        template.ensure_compiled()
    except airspeed.TemplateSyntaxError:
        assume(False)
    closures = program(template)
    if closures is None:
        return  # airspeed runs it
    assert outcome(closures.merge, namespace(source)) == outcome(template.merge, namespace(source))


def test_templates_with_elements_it_does_not_know_are_left_to_airspeed():
    for text in ("#foreach($i in $l)$i#end", "$l[0]", "${a|'b'}", "#stop", "#macro(m)x#end", "#define($d)x#end"):
        template = airspeed.Template(text)
        template.ensure_compiled()
        assert program(template) is None, text
    known = airspeed.Template("#set($x = 1)#if($x == 1)$x#elseif($x)#else#end")
    known.ensure_compiled()
    assert program(known) is not None


@pytest.mark.parametrize("headers", [{"Idempotency-Key": "key-1"}, {"X-Idempotency-Key": "key-2"}, {}])
def test_the_direct_ways_templates_render_as_airspeed_renders_them(headers):
    keys = ["Idempotency-Key", "X-Idempotency-Key"]
    variables = {
        "context": {"httpMethod": "POST", "requestId": "req-1", "requestTimeEpoch": 1, "identity": {"sourceIp": "::1"}},
        "stageVariables": {},
        "input": {
            "body": '{"a": "ü \\"q\\" &"}',
            "params": {"path": {"proxy": "hooks/1"}, "querystring": {}, "header": Headers(headers)},
        },
    }
    renderer = ApiGatewayVtlTemplate()
    for text in (request_template(keys), accepted_template(keys)):
        stock = airspeed.Template(text.strip())
        closures = program(stock)
        assert closures is not None
        namespace = renderer.prepare_namespace(plain_deepcopy(variables))
        assert closures.merge(dict(namespace)) == stock.merge(dict(namespace))


STRING_FRAGMENTS = [
    *["$m.k.trim()", "$m.k.toLowerCase()", "$m.k.toUpperCase().trim()", "$m.k.toString()", "$m.k.contains('va')"],
    *["$m.k.replaceAll('v(a)', 'x$1')", "$a.b.c.length()", "$l.get(0).k.trim()", "$input.body", "#set($m.j = ' J ')"],
    *["$m.j.trim()", "$context.stage.toUpperCase()", "#set($x = $m.k.trim())$x.trim()", "$body_key", "#set($l2 = $l)"],
]


def renderer_variables() -> dict:
    return {
        "a": {"b": {"c": "deep"}},
        "m": {"k": " value "},
        "l": [{"k": " in a list "}, "a plain string in a list", [" nested "]],
        "context": {"stage": "prod", "identity": {"sourceIp": "127.0.0.1"}},
        "input": {"body": {"body_key": " from the body "}, "params": {"path": {}, "querystring": {}, "header": {}}},
    }


def strings(value) -> list:
    """Every string in ``value`` with the qualified name of its class: which ones the renderer extended."""
    if isinstance(value, dict):
        return [(key, *strings(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [strings(item) for item in value]
    return [type(value).__qualname__, value] if isinstance(value, str) else [value]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(st.sampled_from(FRAGMENTS + STRING_FRAGMENTS), min_size=1, max_size=10), st.booleans())
def test_the_renderer_renders_and_extends_the_variables_as_localstacks_does(fragments, api_gateway):
    from localstack.utils.aws import templating
    from localstack.utils.patch import Patch

    from harness.localstack_extensions.templates import render_vtl

    text = "".join(fragments)
    renderer = ApiGatewayVtlTemplate() if api_gateway else templating.VtlTemplate()

    def rendered() -> tuple:
        variables = renderer_variables()
        try:
            written = renderer.render_vtl(text, variables)
        except Exception as error:
            written = (type(error).__name__, str(error))
        return written, strings(variables)

    stock = rendered()
    with Patch(templating.VtlTemplate, "render_vtl", render_vtl):  # (its __exit__ swallows exceptions)
        patched = rendered()
    assert patched == stock


OVERRIDE_FRAGMENTS = [
    "#set($context.requestOverride.header.X = 'x')",
    "#set($context.responseOverride.status = 400)",
    "#set($context.responseOverride.header.Y = $m.k.trim())",
    "$context.requestOverride.header.X",
    "#set($context.requestOverride.querystring.q = $context.stage)",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(st.sampled_from(FRAGMENTS + STRING_FRAGMENTS + OVERRIDE_FRAGMENTS), min_size=1, max_size=8))
def test_api_gateways_renders_copy_and_render_as_localstacks_do(fragments):
    from harness.localstack_extensions.templates import render_request, render_response

    text = " " + "".join(fragments) + "\n"  # (each render strips it)
    renderer = ApiGatewayVtlTemplate()
    for ours, stock in (
        (render_request, ApiGatewayVtlTemplate.render_request),
        (render_response, ApiGatewayVtlTemplate.render_response),
    ):

        def rendered(render) -> tuple:
            variables = renderer_variables()
            overrides = {"requestOverride": {"header": {}, "path": {}, "querystring": {}}, "responseOverride": {}}
            try:
                written, returned = render(renderer, text, variables, overrides)
            except Exception as error:
                written, returned = (type(error).__name__, str(error)), None
            return written, strings(returned), strings(variables), strings(overrides)

        assert rendered(ours) == rendered(stock)
