"""Each patch of ``patches`` pinned to the LocalStack code it replaces (a change there fails here first), and
what the replacements do, with fakes for LocalStack's services."""

from __future__ import annotations

import hashlib
import inspect
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from localstack.aws.api.lambda_ import TooManyRequestsException
from localstack.aws.handlers import service as service_handlers
from localstack.aws.handlers.logging import ResponseLogger
from localstack.aws.protocol import parser as protocol_parser
from localstack.aws.protocol import serializer as protocol_serializer
from localstack.services import stores
from localstack.services.apigateway.next_gen.execute_api import template_mapping
from localstack.services.apigateway.next_gen.execute_api.integrations import aws as aws_integrations
from localstack.services.cloudwatch import cloudwatch_database_helper
from localstack.services.lambda_.invocation import version_manager
from localstack.services.sqs import query_api
from localstack.utils.aws import templating
from werkzeug.datastructures import Headers

from harness.localstack_extensions import in_process, patches
from harness.localstack_extensions.metrics import LambdaMetrics
from harness.localstack_extensions.templates import (
    CompiledTemplates,
    RememberedSubstitutions,
    extended_copy,
    plain_deepcopy,
    with_extended_strings,
)

PINNED = {
    # What each patch relies on, and the digest of its source: when LocalStack's pin moves, re-read the code,
    # check the patch, then pin the new digest.
    "RestApiAwsProxyIntegration.invoke": (
        aws_integrations.RestApiAwsProxyIntegration.invoke,
        "6fcff821de55",
        "calls self.call_lambda(function_arn=, event=, source_arn=, credentials=) and maps ClientError to 502/500",
    ),
    "RestApiAwsProxyIntegration.call_lambda": (
        aws_integrations.RestApiAwsProxyIntegration.call_lambda,
        "75964f5a1a6a",
        "a static method: an internal client's Invoke, RequestResponse, the payload read",
    ),
    "RestApiAwsIntegration.invoke": (
        aws_integrations.RestApiAwsIntegration.invoke,
        "7e0e7e3bbc72",
        "sends with requests.request(method=, url=, params=, headers=[, data=]) and reads content, status, headers",
    ),
    "VtlTemplate.render_vtl": (
        templating.VtlTemplate.render_vtl,
        "8675102cf946",
        "rewrites with re.sub, ExtendedString made per call, recurse_object, airspeed.Template(text).merge: "
        "templates.render_vtl repeats it step for step",
    ),
    "ApiGatewayVtlTemplate.render_request": (
        template_mapping.ApiGatewayVtlTemplate.render_request,
        "73fbd30c9c66",
        "deepcopy of variables and overrides, context.update, self.render_vtl(template.strip()): as render_request",
    ),
    "ApiGatewayVtlTemplate.render_response": (
        template_mapping.ApiGatewayVtlTemplate.render_response,
        "dfbbf3cebd93",
        "deepcopy of variables and overrides, context.update, self.render_vtl(...), context's responseOverride",
    ),
    "templating.calculate": (
        templating.calculate,
        "d4cff3199ead",
        "LocalStack's patch of airspeed's VariableExpression.calculate: its result, but '' for None under APIGW",
    ),
    "VariableExpression.calculate": (
        inspect.unwrap(templating.airspeed.operators.VariableExpression.calculate),
        "2ecc0afd627d",
        "airspeed's own, which the replacement of LocalStack's patch calls as LocalStack's did",
    ),
    "AccountRegionBundle.__getitem__": (
        stores.AccountRegionBundle.__getitem__,
        "cc4a68d03ddf",
        "validates the account id, then under the lock adds its RegionBundle if missing, then returns it",
    ),
    "RegionBundle.__getitem__": (
        stores.RegionBundle.__getitem__,
        "7c1202447ba7",
        "validates the region, then under the lock adds its store if missing, then returns it",
    ),
    "try_call_sqs": (
        query_api.try_call_sqs,
        "a151780bb44b",
        "a queue-URL request is {QueueUrl: its URL, **its form} posted to / (what queue_request_at_sqs_endpoint does)",
    ),
    "LambdaVersionManager.invoke": (
        version_manager.LambdaVersionManager.invoke,
        "3982e0e791a3",
        "records each invocation with record_cw_metric_* in start_thread(..., name='record-cloudwatch-metric...')",
    ),
    "create_parser": (
        protocol_parser.create_parser,
        "8b1df66881fa",
        "functools.cache over the model object; a REST protocol's parser builds a routing map of the service",
    ),
    "create_serializer": (
        protocol_serializer.create_serializer,
        "e60759ef78ab",
        "functools.cache over the model object",
    ),
    "ServiceRequestParser.parse_and_enrich": (
        service_handlers.ServiceRequestParser.parse_and_enrich,
        "a700717cda88",
        "calls create_parser(context.service), the name its module imported, for every request",
    ),
    "BaseXMLResponseSerializer._node_to_string": (
        protocol_serializer.BaseXMLResponseSerializer._node_to_string,
        "3f6e5e860c31",
        "for JSON: ElementTree.tostring, xmltodict.parse, strip_xmlns, json.dumps (what xml_as_json does directly)",
    ),
    "ResponseSerializer._get_mime_type": (
        protocol_serializer.ResponseSerializer._get_mime_type,
        "7cc52e546495",
        "Accept (unless */*) else Content-Type + ', */*', parse_accept_header(...).best_match(SUPPORTED_MIME_TYPES)",
    ),
    "SqsQueryResponseSerializer._node_to_string": (
        protocol_serializer.SqsQueryResponseSerializer._node_to_string,
        "15791dd833db",
        "calls super()._node_to_string, then only replaces its quote and carriage-return markers in the string",
    ),
    "ResponseLogger._log": (
        ResponseLogger._log,
        "71ad0e4cd772",
        "chooses (internal_)aws/http_logger by is_internal_call and operation, then builds the line and logs INFO",
    ),
    "Headers.get": (
        Headers.get,
        "090076cdf314",
        "self._get_key(key), a miss answered by catching KeyError: default; type(rv), ValueError: default",
    ),
    "Headers.__contains__": (
        Headers.__contains__,
        "01c1a82cd572",
        "self._get_key(key), a miss answered by catching KeyError: False",
    ),
    "Headers._get_key": (
        Headers._get_key,
        "0d366fd2b626",
        "the first value whose name's lower() equals key.lower(), else BadRequestKeyError (header_lookups._first)",
    ),
    "CloudwatchDatabase": (
        cloudwatch_database_helper.CloudwatchDatabase,
        "79b3211e7b00",
        "opens every connection with sqlite3.connect(...) for a with block and reads its results inside it",
    ),
}


def digest(function) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:12]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_patched_code_has_the_shape_the_patch_was_written_for(name):
    function, pinned, relied_on = PINNED[name]
    assert digest(function) == pinned, (
        f"LocalStack's {name} changed; the patch relies on it: {relied_on}. Re-read it, check "
        f"harness/localstack_extensions/patches.py, then pin the new digest"
    )


def test_the_shapes_the_patches_call_and_replace():
    assert isinstance(inspect.getattr_static(aws_integrations.RestApiAwsProxyIntegration, "call_lambda"), staticmethod)
    assert list(inspect.signature(aws_integrations.RestApiAwsProxyIntegration.call_lambda).parameters) == [
        "function_arn",
        "event",
        "source_arn",
        "credentials",
    ]
    source = inspect.getsource(aws_integrations)
    assert source.count("requests.") == 1 and "requests.request(**request_parameters)" in source
    managed = inspect.getsource(version_manager.LambdaVersionManager.invoke)
    assert managed.count("start_thread(") == 2 and managed.count(f'name=f"{patches.METRIC_THREAD_PREFIX}') == 2


def test_the_ids_localstack_makes_read_os_urandom_as_the_patch_replaces_it():
    import random
    import uuid

    assert "os.urandom(16)" in inspect.getsource(uuid.uuid4)  # the module attribute, read on each call
    assert "_urandom(n)" in inspect.getsource(random.SystemRandom.randbytes)  # what secrets.token_* use
    patches.PATCHES.apply()
    try:
        import os
        import secrets

        assert os.urandom is patches.BUFFERED_URANDOM and random._urandom is patches.BUFFERED_URANDOM
        ids = {uuid.uuid4() for _ in range(2000)} | {uuid.UUID(secrets.token_hex(16)) for _ in range(2000)}
        assert len(ids) == 4000
    finally:
        patches.PATCHES.undo()
    assert os.urandom is not patches.BUFFERED_URANDOM and random._urandom is not patches.BUFFERED_URANDOM


def test_the_patches_apply_and_undo():
    stock_call_lambda = aws_integrations.RestApiAwsProxyIntegration.call_lambda
    stock_requests = aws_integrations.requests
    patches.PATCHES.apply()
    try:
        assert aws_integrations.RestApiAwsProxyIntegration.call_lambda is not stock_call_lambda
        assert isinstance(aws_integrations.requests, in_process.InProcessRequests)
        assert version_manager.record_cw_metric_invocation is patches._invocation_counted
    finally:
        patches.PATCHES.undo()
    assert aws_integrations.RestApiAwsProxyIntegration.call_lambda is stock_call_lambda
    assert isinstance(inspect.getattr_static(aws_integrations.RestApiAwsProxyIntegration, "call_lambda"), staticmethod)
    assert aws_integrations.requests is stock_requests


ARN = "arn:aws:lambda:eu-west-1:111111111111:function:publisher"


class FakeLambdaService:
    def __init__(self, answer=None, error=None):
        self.calls, self.answer, self.error = [], answer, error

    def invoke(self, **call):
        self.calls.append(call)
        if self.error:
            raise self.error
        return self.answer


def stock_never_called(**_):
    raise AssertionError("the stock path was taken")


def test_an_invoke_in_process_hands_the_event_to_the_lambda_service(monkeypatch):
    service = FakeLambdaService(answer=SimpleNamespace(payload=b'{"statusCode": 202}'))
    monkeypatch.setattr(in_process, "lambda_service", lambda: service)
    assert in_process.call_lambda(stock_never_called, ARN, b"{}", "arn:source") == b'{"statusCode": 202}'
    (call,) = service.calls
    assert (call["function_name"], call["qualifier"], call["region"], call["account_id"]) == (
        "publisher",
        None,
        "eu-west-1",
        "111111111111",
    )
    assert call["invocation_type"] == "RequestResponse" and call["payload"] == b"{}"


def test_a_throttled_invoke_becomes_the_client_error_the_integration_maps_to_502(monkeypatch):
    service = FakeLambdaService(error=TooManyRequestsException("Rate Exceeded.", Type="User"))
    monkeypatch.setattr(in_process, "lambda_service", lambda: service)
    with pytest.raises(ClientError) as raised:
        in_process.call_lambda(stock_never_called, ARN, b"{}", "arn:source")
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_an_integration_with_credentials_keeps_the_stock_path(monkeypatch):
    monkeypatch.setattr(in_process, "lambda_service", lambda: pytest.fail("in process despite credentials"))
    calls = []

    def stock(**call):
        calls.append(call)
        return b"stock"

    assert in_process.call_lambda(stock, ARN, b"{}", "arn:source", "arn:aws:iam::1:role/r") == b"stock"
    assert calls[0]["credentials"] == "arn:aws:iam::1:role/r"


def test_a_request_to_localstack_itself_is_handled_by_its_gateway_in_process(monkeypatch):
    monkeypatch.setattr(in_process, "is_internal", lambda url: True)
    seen = []

    class Gateway:
        def handle(self, context, response):
            request = context.request
            seen.append((request.method, request.path, request.args.to_dict(), request.get_data(), request.host))
            response.status_code = 200
            response.headers["Content-Type"] = "text/xml"
            response.set_data(b"<SendMessageResponse/>")

    answer = in_process.InProcessRequests(Gateway()).request(
        method="POST",
        url="http://localhost.localstack.cloud:4566/000000000000/q",
        params={"Action": "SendMessage"},
        headers={"Host": "sqs.us-east-1.localhost.localstack.cloud:4566"},
        data="MessageBody=hi",
    )
    assert (answer.status_code, answer.content, answer.headers["Content-Type"]) == (
        200,
        b"<SendMessageResponse/>",
        "text/xml",
    )
    assert seen == [
        (
            "POST",
            "/000000000000/q",
            {"Action": "SendMessage"},
            b"MessageBody=hi",
            "sqs.us-east-1.localhost.localstack.cloud:4566",
        )
    ]


def test_the_version_managers_metric_threads_run_inline_and_others_still_start():
    ran, started = [], []
    assert patches._metrics_inline(lambda params: ran.append(params), name="record-cloudwatch-metric-f:1") is None
    assert ran == [None]
    original = patches._stock_start_thread
    patches._stock_start_thread = lambda method, *args, **kwargs: started.append(kwargs["name"])
    try:
        patches._metrics_inline(lambda params: None, name="provisioning-f")
    finally:
        patches._stock_start_thread = original
    assert started == ["provisioning-f"]


def test_invocations_and_errors_are_counted_as_one_sample_per_invocation(monkeypatch):
    metrics = LambdaMetrics()
    monkeypatch.setattr(metrics, "_ensure_flusher", lambda: None)
    for _ in range(3):
        metrics.invoked("1", "r", "f")
    metrics.invoked("1", "r", "f", error=True)
    data = metrics.collect()[("1", "r")]["AWS/Lambda"]
    by_name = {datum["MetricName"]: datum for datum in data}
    assert by_name["Invocations"]["Values"] == [1.0] and by_name["Invocations"]["Counts"] == [4.0]
    assert by_name["Errors"]["Counts"] == [1.0]
    assert by_name["Errors"]["Dimensions"] == [{"Name": "FunctionName", "Value": "f"}]
    assert "Unit" not in by_name["Invocations"]  # as LocalStack writes them: Sum and SampleCount read the same
    assert metrics.collect() == {}  # counted once


def test_a_query_request_to_a_queues_url_becomes_the_same_call_at_sqs_endpoint():
    url = "http://localhost.localstack.cloud:4566/000000000000/webhook-queue"
    sqs = {"Host": "sqs.us-east-1.localhost.localstack.cloud:4566", "Content-Type": FORM}
    rewritten = in_process.queue_request_at_sqs_endpoint(
        "POST", url, headers=sqs, data="Action=SendMessage&MessageBody=a%20b%26c"
    )
    assert rewritten.path == "/" and rewritten.host == "sqs.us-east-1.localhost.localstack.cloud:4566"
    assert rewritten.content_length == len(rewritten.get_data(cache=True))
    assert rewritten.form.to_dict() == {
        "QueueUrl": "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/webhook-queue",
        "Action": "SendMessage",
        "MessageBody": "a b&c",
    }
    own_url = in_process.queue_request_at_sqs_endpoint(
        "POST", url, headers=sqs, data=b"QueueUrl=http%3A%2F%2Fx%2F1%2Fq&Action=SendMessage&MessageBody=m"
    )
    assert own_url.form.getlist("QueueUrl") == ["http://x/1/q"]  # the body's wins
    binary = in_process.queue_request_at_sqs_endpoint("POST", url, headers=sqs, data=b"Action=SendMessage&M=\xff")
    assert binary.get_data().endswith(b"&Action=SendMessage&M=\xff")  # the form's bytes as they came
    elsewhere = ("POST", "http://localhost:4566/", sqs, "Action=X")
    json_call = ("POST", url, {"Host": "sqs.us-east-1.x"}, "{}")
    listing = ("POST", url, sqs, "Action=ListQueues")
    no_action = ("POST", url, sqs, "MessageBody=Action%3DSendMessage")
    other_host = ("POST", url, {**sqs, "Host": "localhost:4566"}, "Action=SendMessage")
    for method, where, headers, data in (elsewhere, json_call, listing, no_action, other_host):
        assert in_process.queue_request_at_sqs_endpoint(method, where, headers=headers, data=data) is None
    with_query = in_process.queue_request_at_sqs_endpoint("POST", url, headers=sqs, data="Action=A", params={"a": 1})
    assert with_query is None  # taken as ``requests`` would send it, through the whole gateway


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    "given",
    [
        [("Host", "sqs.x"), ("content-type", "text/plain"), ("Content-Length", "9"), ("Accept", "application/json")],
        [("Host", "sqs.x"), ("X-A", "1"), ("x-a", "2"), ("Content-Type", FORM), ("content-type", "again")],
        [("Host", "sqs.x")],
    ],
)
def test_the_queue_requests_headers_are_what_setting_its_content_type_on_a_copy_gives(given):
    expected = Headers(given)
    expected["Content-Type"] = f"{FORM}; charset=utf-8"
    expected.pop("Content-Length", None)
    written = in_process.form_headers(Headers(given))
    assert list(Headers(written).items()) == list(expected.items())


@pytest.mark.parametrize(
    ("body", "read_here"),
    [
        (b"Action=SendMessage&MessageBody=a+b%26c%3D%F0%9F%99%82&Empty=&Flag&Action=Again", True),
        (b"MessageBody=%zz%&bad%2", True),  # escapes werkzeug leaves as they are
        (b"MessageBody=\xff\xfe", False),  # not UTF-8: werkzeug's to read (an empty form)
        (b"MessageBody=" + b"a" * 500_001, False),  # over werkzeug's max_form_memory_size: its 413
    ],
)
def test_the_queue_requests_form_is_the_one_werkzeug_reads_from_its_body(body, read_here):
    from localstack.http import Request

    def request():
        return Request("POST", "/", headers={"Content-Type": f"{FORM}; charset=utf-8"}, body=body)

    def read(made):
        try:
            return list(made.form.items(multi=True)), list(made.files.items(multi=True))
        except Exception as error:
            return type(error)

    given = in_process.with_the_form_read(request(), body.decode("utf-8", "surrogateescape"), body)
    assert ("form" in given.__dict__) is read_here
    assert read(given) == read(request())
    if read_here:
        assert given.get_data() == body  # still readable


def test_a_queue_request_goes_to_the_chain_with_the_service_localstacks_search_finds_for_it(monkeypatch):
    from localstack import config
    from localstack.aws.handlers.service import ServiceNameParser
    from localstack.aws.protocol.service_router import determine_aws_service_model

    url = f"{config.internal_service_url()}/000000000000/webhook-queue"
    signed = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=s"
    headers = {"Host": "sqs.us-east-1.localhost.localstack.cloud:4566", "Content-Type": FORM, "Authorization": signed}
    seen = []

    class Chain:
        def handle(self, context, response):
            service = context.service
            ServiceNameParser()(None, context, response)  # LocalStack's handler leaves a set service alone
            seen.append((service, context.service, determine_aws_service_model(context.request)))
            response.set_response(b"{}")

    requests = in_process.InProcessRequests(gateway=Chain())
    requests._service_request_chain = Chain()
    requests.request("POST", url, headers=dict(headers), data="Action=SendMessage&MessageBody=m")
    ((given, kept, searched),) = seen
    assert given is kept is searched and (given.service_name, given.protocol) == ("sqs", "query")


def test_a_template_is_compiled_once_and_renders_as_before_for_every_namespace():
    import airspeed

    compiled = CompiledTemplates(airspeed)
    text = "#set($x = $a)#if($x == 1)one#else$x#end"
    assert compiled.Template(text) is compiled.Template(text)
    assert [compiled.Template(text).merge({"a": a}) for a in (1, 2)] == ["one", "2"]
    assert compiled.TemplateError is airspeed.TemplateError  # the rest of the module passes through


def test_a_variable_renders_as_under_localstacks_own_patch_of_airspeed():
    from localstack.services.apigateway.next_gen.execute_api.template_mapping import ApiGatewayVtlTemplate

    expression = templating.airspeed.operators.VariableExpression
    assert expression.calculate.__subject__ is templating.calculate  # LocalStack's patch, what is replaced
    template = "$a|$missing|$a.b.c|$a.none.c|#set($x = $missing)$x|$m.get('k')|$m.k.length()|$n|$m.k.trim()"
    variables = {"a": {"b": {"c": "deep"}}, "m": {"k": " value "}, "n": 0}
    for render in (ApiGatewayVtlTemplate().render_vtl, templating.VtlTemplate().render_vtl):
        stock = render(template, plain_deepcopy(variables))
        patches.PATCHES.apply()
        try:
            assert expression.calculate.__name__ == "calculate_variable"
            assert render(template, plain_deepcopy(variables)) == stock
        finally:
            patches.PATCHES.undo()
        assert expression.calculate.__subject__ is templating.calculate
    rendered = ApiGatewayVtlTemplate().render_vtl(template, plain_deepcopy(variables))
    assert rendered.startswith("{'b': {'c': 'deep'}}||deep|||")  # None as '' (LocalStack's own rule)


def test_evaluating_a_compiled_template_writes_nothing_to_its_tree():
    """Why threads may share a compiled template: no evaluate method of airspeed assigns to its element."""
    import ast

    import airspeed.operators

    tree = ast.parse(inspect.getsource(airspeed.operators))
    writes = [
        f"{cls.name}.{function.name}"
        for cls in tree.body
        if isinstance(cls, ast.ClassDef)
        for function in cls.body
        if isinstance(function, ast.FunctionDef) and function.name in ("evaluate", "evaluate_raw", "calculate")
        for node in ast.walk(function)
        if isinstance(node, ast.Assign | ast.AugAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
    ]
    assert writes == []


def test_a_store_already_there_is_looked_up_without_the_bundles_lock_and_a_new_one_is_added_under_it():
    import threading

    from localstack.services.stores import BaseStore

    class Store(BaseStore):
        pass

    bundle = stores.AccountRegionBundle("sqs", Store)
    existing = bundle["000000000000"]["us-east-1"]
    patches.PATCHES.apply()
    try:
        found: list[object] = []
        with bundle.lock:  # held by this thread: another that needed it would wait
            looker = threading.Thread(target=lambda: found.append(bundle["000000000000"]["us-east-1"]))
            looker.start()
            looker.join(timeout=10)
            assert found == [existing]  # answered while the lock was held
        added = bundle["111111111111"]["eu-west-1"]  # not there: added as LocalStack adds it
        assert isinstance(added, Store) and added._account_id == "111111111111" and added._region_name == "eu-west-1"
        assert bundle["111111111111"]["eu-west-1"] is added
        with pytest.raises(ValueError):
            bundle["not-an-account"]
        with pytest.raises(ValueError):
            bundle["000000000000"]["moon-1"]
    finally:
        patches.PATCHES.undo()
    assert "_present_without_the_lock" not in repr(stores.AccountRegionBundle.__getitem__)


def test_only_the_patched_lookups_add_a_store_to_a_bundle():
    source = inspect.getsource(stores)
    assert source.count("self[account_id] = ") == 1 and source.count("self[region_name] = ") == 1
    assert "self[account_id] = " in inspect.getsource(stores.AccountRegionBundle.__getitem__)
    assert "self[region_name] = " in inspect.getsource(stores.RegionBundle.__getitem__)


def test_execution_environments_use_their_timers_only_as_the_shared_timer_offers():
    import re

    from localstack.services.lambda_.invocation import execution_environment

    from harness.localstack_extensions.timers import SharedTimer

    source = inspect.getsource(execution_environment)
    assert "from threading import RLock, Timer" in source  # the name the patch replaces, read at each use
    used = set(re.findall(r"(?:startup_timer|keepalive_timer)\.(\w+)", source))
    assert used == {"start", "cancel"} and all(hasattr(SharedTimer, method) for method in used)
    assert re.findall(r"Timer\((.*?)\)", source) == [
        "0, lambda *args, **kwargs: None",
        "startup_time_seconds, self.timed_out",
        "config.LAMBDA_KEEPALIVE_MS / 1000, self.keepalive_passed",
    ]
    patches.PATCHES.apply()
    try:
        assert execution_environment.Timer is SharedTimer
    finally:
        patches.PATCHES.undo()


def test_a_plain_data_copy_is_the_deep_copy_copy_makes():
    import copy

    from werkzeug.datastructures import Headers

    class Marked(str):
        pass

    class Thing:
        def __init__(self) -> None:
            self.items = [1]

        def __repr__(self) -> str:
            return f"Thing({self.items})"

    shared = {"header": {}, "status": 0}
    variables = {
        "context": {"requestId": "r-1", "identity": {"sourceIp": "127.0.0.1", "user": None}, "epoch": 1.5},
        "input": {"body": b"{}", "params": {"header": Headers([("Idempotency-Key", "k-1")]), "path": {}}},
        "overrides": [shared, shared, ("a", ["b"])],
        "marked": Marked("m"),
        "thing": Thing(),
    }
    variables["self"] = variables
    copied = plain_deepcopy(variables)
    stock = copy.deepcopy(variables)
    assert repr(copied) == repr(stock)  # the same structure and values, the cycle included
    assert copied["self"] is copied and copied["overrides"][0] is copied["overrides"][1]  # aliases kept
    for path in (("context",), ("context", "identity"), ("input", "params", "header"), ("overrides",), ("thing",)):
        original, copy_of = variables, copied
        for key in path:
            original, copy_of = original[key], copy_of[key]
        assert copy_of is not original and (copy_of == original or isinstance(original, Thing))
    assert copied["thing"].items == [1] and copied["thing"].items is not variables["thing"].items
    assert type(copied["marked"]) is Marked and copied["marked"] is not variables["marked"]  # as deepcopy does
    copied["input"]["params"]["header"]["Idempotency-Key"] = "changed"
    copied["context"]["identity"]["user"] = "someone"
    assert variables["input"]["params"]["header"]["Idempotency-Key"] == "k-1"
    assert variables["context"]["identity"]["user"] is None
    extended = extended_copy(variables)
    assert repr(extended) == repr(stock) and extended["self"] is extended  # the same copy, cycle and all
    assert extended["overrides"][0] is extended["overrides"][1]
    del variables["self"]  # (LocalStack's walk, which this one copies, never ends on a cycle)
    assert strings(extended_copy(variables)) == strings(with_extended_strings(copy.deepcopy(variables)))


def strings(value, seen=None):
    """Every string in ``value`` with the qualified name of its class (which ones were extended)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return "(seen)"
    if isinstance(value, dict | list | tuple):
        seen.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return [(key, strings(item, seen)) for key, item in items]
    return (type(value).__qualname__, value) if isinstance(value, str) else repr(value)


def test_substitutions_are_remembered_only_for_plain_strings():
    import re

    remembered = RememberedSubstitutions(re)
    assert remembered.sub(r"a(b)", r"\1", "xaby", count=re.MULTILINE) == "xby"
    remembered.sub(r"a(b)", r"\1", "xaby", count=re.MULTILINE)
    assert remembered._sub.cache_info().hits == 1

    class Marked(str):
        pass

    assert remembered.sub("a", "b", Marked("aa")) == "bb" and remembered._sub.cache_info().misses == 1
    assert remembered.MULTILINE == re.MULTILINE


def test_compile_runs_one_call_at_a_time_where_cpython_races_building_asts():
    import builtins
    import sys

    patched = [patch for patch in patches.PATCHES.patches if patch.obj is builtins]
    assert bool(patched) == (sys.version_info < patches.AST_RACE_FIXED)
    assert patches._compile_one_at_a_time("1 + 1", "<test>", "eval") is not None
    inside = []

    def holds_the_lock() -> None:
        inside.append(patches._compiling.acquire(blocking=False))

    with patches._compiling:  # while one compile runs, another thread waits
        import threading

        thread = threading.Thread(target=holds_the_lock)
        thread.start()
        thread.join()
    assert inside == [False]


def test_one_parser_and_serializer_per_service_however_many_model_objects_the_requests_bring():
    """LocalStack's cache kept one per model object: an internal client's own model, a new parser each."""
    import botocore.session
    from localstack.aws.spec import load_service

    catalogued, a_clients = load_service("lambda"), botocore.session.get_session().get_service_model("lambda")
    assert catalogued is not a_clients
    assert protocol_parser.create_parser(catalogued) is not protocol_parser.create_parser(a_clients)  # the growth
    patches.PATCHES.apply()
    try:
        assert service_handlers.create_parser(a_clients) is service_handlers.create_parser(catalogued)
        assert service_handlers.create_parser(a_clients).service is not a_clients  # LocalStack's own model
        assert service_handlers.create_serializer(catalogued) is service_handlers.create_serializer(a_clients)
        assert ("lambda", "rest-json", "2015-03-31") in patches.PARSER_PER_SERVICE.made
        sqs_query = load_service("sqs-query")
        assert service_handlers.create_parser(sqs_query) is not service_handlers.create_parser(load_service("sqs"))
    finally:
        patches.PATCHES.undo()
    assert service_handlers.create_parser is protocol_parser.create_parser


def test_the_service_request_chain_is_the_gateways_less_what_an_internal_service_request_never_needs():
    from localstack.aws import handlers
    from localstack.aws.app import LocalstackAwsGateway

    gateway = LocalstackAwsGateway()
    chain = in_process.ServiceRequestChain(gateway)
    dropped = [handler for handler in gateway.request_handlers if handler not in chain.request_handlers]
    assert handlers.serve_localstack_resources in dropped and handlers.serve_edge_router_rules in dropped
    assert len(dropped) == 7  # five of NOT_FOR_AN_INTERNAL_SERVICE_REQUEST and two of the metric collector
    for kept in (handlers.parse_service_request, handlers.add_account_id, handlers.add_region_from_header,
                 gateway.service_request_router):  # fmt: skip
        assert kept in chain.request_handlers
    assert chain.request_handlers == [handler for handler in gateway.request_handlers if handler not in dropped]
    assert (
        handlers.log_response in chain.response_handlers and handlers.parse_service_response in chain.response_handlers
    )
    assert chain.exception_handlers == gateway.exception_handlers and chain.finalizers == gateway.finalizers


def test_a_call_to_a_services_endpoint_takes_the_service_request_chain_and_any_other_path_the_whole_gateway(
    monkeypatch,
):
    monkeypatch.setattr(in_process, "is_internal", lambda url: True)
    served = []

    class Chain:
        def __init__(self, name):
            self.name = name

        def handle(self, context, response):
            served.append((self.name, context.request.path))
            response.status_code = 200

    requests = in_process.InProcessRequests(Chain("gateway"))
    requests._service_request_chain = Chain("service")
    host = {"Host": "sqs.us-east-1.localhost.localstack.cloud:4566", "Content-Type": FORM}
    requests.request("POST", "http://localhost:4566/000000000000/q", headers=host, data="Action=SendMessage")
    requests.request("GET", "http://localhost:4566/_aws/sqs/messages", headers={"Host": "localhost:4566"})
    assert served == [("service", "/"), ("gateway", "/_aws/sqs/messages")]


def test_the_metrics_databases_connections_close_at_the_end_of_their_block(tmp_path):
    from harness.localstack_extensions.cloudwatch import ClosingSqlite3

    source = inspect.getsource(cloudwatch_database_helper.CloudwatchDatabase)
    connects = source.count("sqlite3.connect(")
    assert connects == source.count(" as conn:") == 8  # each one opened for a with block, used inside it
    sqlite3 = ClosingSqlite3()
    path = tmp_path / "metrics.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (v)")
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.execute("SELECT 1")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT v FROM t").fetchall() == [(1,)]  # committed before it closed
    with pytest.raises(sqlite3.OperationalError), sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO t VALUES (2)")
        conn.execute("INSERT INTO missing VALUES (3)")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)  # the failed block rolled back
