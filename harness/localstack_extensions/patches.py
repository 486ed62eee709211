"""Every patch the harness applies to LocalStack's internals, in one place, applied at infra start.

LocalStack's own extensions extend it this way (``localstack.utils.patch``) where no plugin point
reaches; with 4.8.1 pinned the patched code is stable, and ``tests/unit/localstack_extensions/
test_patches.py`` fails when its shape changes.

- ``RestApiGateway.__init__``: the REST API gateway's handler chain gains the handlers of
  ``apigateway_limits``: a start time first, the throttle after the API key is validated, timing around
  the integration, and the metrics among the response handlers (LocalStack offers ``preprocess_request``
  for a request handler, but it runs before the API key is known, and there is no response-side point).
- ``RestApiAwsProxyIntegration.call_lambda`` (a static method): API Gateway's Lambda proxy integration
  invokes the function in process (``in_process.call_lambda``), not through an internal client.
- ``requests`` as API Gateway's AWS integration module sees it: its requests to LocalStack itself are
  handled in process (``in_process.InProcessRequests``), not sent to its own port.
- ``airspeed`` and ``re`` as LocalStack's VTL renderer (``utils/aws/templating.py``) sees them: mapping
  templates are rewritten and compiled once per distinct text (``templates``), not on every request.
- ``VtlTemplate.render_vtl``: the same steps, but its string class made once and its walk over the
  variables without a path string per value (``templates.render_vtl``).
- ``ApiGatewayVtlTemplate.render_request`` / ``render_response``: the variables they copy before each render
  are copied as the plain data they are, their strings extended as they are copied
  (``templates.extended_copy``), so the render does not walk them again.
- airspeed's ``VariableExpression.calculate``, which LocalStack itself patches (``templating.calculate``: None
  renders as '' in API Gateway's templates): the same, but the rendering service is looked up only for a
  None (``templates.none_as_empty_for_api_gateway``), not on every variable a template evaluates.
- ``version_manager.record_cw_metric_invocation`` / ``record_cw_metric_error`` and the ``start_thread``
  that runs them: ``Invocations`` and ``Errors`` are counted in memory (``metrics.LAMBDA_METRICS``) on the
  invoking thread, not written with a PutMetricData per invocation on a new thread that LocalStack keeps
  in ``TMP_THREADS`` until shutdown. The module imports both by name, so they are patched there.
- ``create_parser`` / ``create_serializer`` where LocalStack's request handlers, its provider skeleton and
  its SQS provider call them: one per service, not one per service model *object*. LocalStack caches them
  with ``functools.cache`` keyed by the model object, and each internal client brings a model object of
  its own, so the cache kept a new parser for every such request — for a REST service (Lambda) a routing
  map of all its operations, built and kept each time: LocalStack's memory grew with every invocation.
- ``sqlite3`` as LocalStack's CloudWatch metrics database (``cloudwatch_database_helper``) sees it: each
  connection it opens for a ``with`` block is closed at the block's end (``cloudwatch.ClosingSqlite3``),
  not left, with its file descriptor and page cache, for the cyclic garbage collector.
- ``os.urandom`` (and ``random``'s reference to it, which ``secrets`` uses): the random ids LocalStack makes
  per request come from a page of the kernel's random bytes read ahead (``randomness.BufferedUrandom``),
  not from a system call each, each a hand-over of the GIL under concurrent requests.
- ``AccountRegionBundle.__getitem__`` and ``RegionBundle.__getitem__`` (every service's stores, looked up
  several times per request): an account's or region's store already there is returned without taking
  the bundle's lock, which LocalStack takes on every lookup. Threads that all look up the same store then
  queued on that lock whenever the interpreter switched out the one holding it. Adding a store still
  happens under the lock, as before (only these methods add them, after validating the key).
- ``Timer`` as LocalStack's execution environments (``execution_environment.py``) see it: the keep-alive
  armed at the end of every invocation and cancelled at the start of the next is a deadline kept by one
  thread (``timers.SharedTimer``), not a thread started and ended per invocation.
- ``BaseXMLResponseSerializer._node_to_string``: an XML service's answer asked for as JSON (API Gateway's
  ``AWS`` integrations ask so) is converted from the serializer's tree directly (``xml_as_json``), not written
  as XML, parsed again with ``xmltodict`` and dumped; a tree that conversion cannot answer for goes as stock.
  And ``ResponseSerializer._get_mime_type``: the match of the request's ``Accept`` header against the
  serializer's types remembered per header value (``xml_as_json.mime_type_of``), not parsed per answer.
- ``ResponseLogger._log``: a request's log line (its extra fields: copies of headers, the parsed request) is
  built only when its logger writes it (``log_writer.logged_only_when_enabled``); LocalStack built it for
  its requests to itself too, whose logger is off by default.
- werkzeug's ``Headers.get`` and ``Headers.__contains__``: a missing header answered without raising and
  catching ``BadRequestKeyError`` (``header_lookups``); LocalStack asks for absent headers many times per
  request.
- Not a patch, but applied from here too, when LocalStack is ready: ``gc.freeze()`` (``freeze_startup_heap``).
- ``compile``, on CPython before 3.11.8 only: one call at a time. Two threads turning source into an AST at
  once (``ast.parse``: werkzeug builds each new REST API deployment's routes with it on its first
  requests, the import system compiles a module not yet compiled) can fail with "AST constructor
  recursion depth mismatch" (CPython gh-106905, fixed in 3.11.8): a flood's first second answered 500.
"""

from __future__ import annotations

import builtins
import gc
import inspect
import os
import random
import sys
import threading
from collections.abc import Callable
from typing import Any

import airspeed.operators
from localstack.aws import skeleton, spec
from localstack.aws.handlers import service as service_handlers
from localstack.aws.handlers.logging import ResponseLogger
from localstack.aws.protocol import parser as protocol_parser
from localstack.aws.protocol import serializer as protocol_serializer
from localstack.runtime import hooks
from localstack.services import stores
from localstack.services.apigateway.next_gen.execute_api import handlers, template_mapping
from localstack.services.apigateway.next_gen.execute_api.gateway import RestApiGateway
from localstack.services.apigateway.next_gen.execute_api.integrations import aws as aws_integrations
from localstack.services.cloudwatch import cloudwatch_database_helper
from localstack.services.lambda_.invocation import execution_environment, version_manager
from localstack.services.sqs import provider as sqs_provider
from localstack.utils.aws import templating
from localstack.utils.patch import Patch, Patches
from werkzeug.datastructures import Headers

from . import apigateway_limits, header_lookups, in_process
from .cloudwatch import ClosingSqlite3
from .log_writer import logged_only_when_enabled
from .metrics import LAMBDA_METRICS
from .randomness import BufferedUrandom
from .templates import (
    CompiledTemplates,
    RememberedSubstitutions,
    none_as_empty_for_api_gateway,
    render_request,
    render_response,
    render_vtl,
)
from .timers import SharedTimer
from .xml_as_json import json_without_the_xml_round_trip, mime_type_of

METRIC_THREAD_PREFIX = "record-cloudwatch-metric"
"""The names the version manager gives its per-invocation metric threads (and no other thread)."""


def insert_after(chain: list, anchor: object, handler: object) -> None:
    chain.insert(chain.index(anchor) + 1, handler)


def _rest_api_gateway_with_limits_and_metrics(init, self) -> None:
    init(self)
    self.request_handlers.insert(0, apigateway_limits.started)
    insert_after(self.request_handlers, handlers.api_key_validation_handler, apigateway_limits.enforce_limits)
    self.request_handlers.insert(
        self.request_handlers.index(handlers.integration_handler), apigateway_limits.integration_started
    )
    insert_after(self.request_handlers, handlers.integration_handler, apigateway_limits.integration_ended)
    self.response_handlers.append(apigateway_limits.record_metrics)


_stock_call_lambda = aws_integrations.RestApiAwsProxyIntegration.call_lambda


def _call_lambda_in_process(function_arn: str, event: bytes, source_arn: str, credentials: str | None = None) -> bytes:
    return in_process.call_lambda(_stock_call_lambda, function_arn, event, source_arn, credentials)


_stock_start_thread = version_manager.start_thread


def _metrics_inline(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The version manager's metric "threads" run here and now: recording is a counter update."""
    if str(kwargs.get("name", "")).startswith(METRIC_THREAD_PREFIX):
        return method(None)  # as FuncThread calls it: with its (absent) parameters
    return _stock_start_thread(method, *args, **kwargs)


def _static_method(cls: type, name: str, new: Callable[..., Any]) -> Patch:
    """A static method replaced by one (``Patch`` would keep the plain function it reads as the one to restore)."""
    patch = Patch(cls, name, staticmethod(new))
    patch.old = inspect.getattr_static(cls, name)
    return patch


def _invocation_counted(function_name: str, account_id: str, region_name: str) -> None:
    LAMBDA_METRICS.invoked(account_id, region_name, function_name)


def _error_counted(function_name: str, account_id: str, region_name: str) -> None:
    LAMBDA_METRICS.invoked(account_id, region_name, function_name, error=True)


def one_per_service(create: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``create`` (cached by LocalStack per model object) made once per service, protocol and API version,
    from LocalStack's own model of it (the one its external requests are parsed with)."""
    build = getattr(create, "__wrapped__", create)  # past functools.cache: its cache is what grew
    made: dict[tuple[str, str, str], Any] = {}
    lock = threading.Lock()

    def per_service(service: Any) -> Any:
        key = (service.service_name, service.protocol, service.api_version)
        if (found := made.get(key)) is not None:
            return found
        with lock:
            if key not in made:
                made[key] = build(_catalogued(service))
            return made[key]

    per_service.made = made  # type: ignore[attr-defined]
    return per_service


def _catalogued(service: Any) -> Any:
    try:
        return spec.load_service(service.service_name, version=service.api_version, protocol=service.protocol)
    except Exception:  # a model LocalStack's catalog does not know: the one the request brought
        return service


PARSER_PER_SERVICE = one_per_service(protocol_parser.create_parser)
SERIALIZER_PER_SERVICE = one_per_service(protocol_serializer.create_serializer)

BUFFERED_URANDOM = BufferedUrandom(os.urandom)


def _present_without_the_lock(getitem: Callable[[dict, str], Any], bundle: dict, key: str) -> Any:
    """The store under ``key`` if there is one (one dict read, atomic under the GIL), else as LocalStack does."""
    found = dict.get(bundle, key)
    return found if found is not None else getitem(bundle, key)


AST_RACE_FIXED = (3, 11, 8)
_compiling = threading.RLock()
_builtin_compile = builtins.compile


def _compile_one_at_a_time(*args: Any, **kwargs: Any) -> Any:
    with _compiling:
        return _builtin_compile(*args, **kwargs)


PATCHES = Patches(
    [
        Patch.function(RestApiGateway.__init__, _rest_api_gateway_with_limits_and_metrics),
        _static_method(aws_integrations.RestApiAwsProxyIntegration, "call_lambda", _call_lambda_in_process),
        Patch(aws_integrations, "requests", in_process.InProcessRequests()),
        Patch(templating, "airspeed", CompiledTemplates(templating.airspeed)),
        Patch(templating, "re", RememberedSubstitutions(templating.re)),
        Patch(template_mapping.ApiGatewayVtlTemplate, "render_request", render_request),
        Patch(template_mapping.ApiGatewayVtlTemplate, "render_response", render_response),
        Patch(templating.VtlTemplate, "render_vtl", render_vtl),
        Patch(
            airspeed.operators.VariableExpression,
            "calculate",  # LocalStack's own patch of it (a proxy), replaced by one that does the same
            none_as_empty_for_api_gateway(inspect.unwrap(airspeed.operators.VariableExpression.calculate)),
        ),
        # Names the version manager imported: replaced there (``Patch.function`` patches where they are defined).
        Patch(version_manager, "start_thread", _metrics_inline),
        Patch(version_manager, "record_cw_metric_invocation", _invocation_counted),
        Patch(version_manager, "record_cw_metric_error", _error_counted),
        # Where each is defined and wherever a module imported it by name.
        *(
            Patch(module, "create_parser", PARSER_PER_SERVICE)
            for module in (protocol_parser, service_handlers, skeleton, sqs_provider)
        ),
        *(
            Patch(module, "create_serializer", SERIALIZER_PER_SERVICE)
            for module in (protocol_serializer, service_handlers, skeleton)
        ),
        Patch(cloudwatch_database_helper, "sqlite3", ClosingSqlite3()),
        Patch.function(stores.AccountRegionBundle.__getitem__, _present_without_the_lock),
        Patch.function(stores.RegionBundle.__getitem__, _present_without_the_lock),
        Patch(execution_environment, "Timer", SharedTimer),
        Patch(os, "urandom", BUFFERED_URANDOM),  # uuid.uuid4 reads it here
        Patch(random, "_urandom", BUFFERED_URANDOM),  # SystemRandom (secrets) imported it by name
        Patch.function(protocol_serializer.BaseXMLResponseSerializer._node_to_string, json_without_the_xml_round_trip),
        Patch(protocol_serializer.ResponseSerializer, "_get_mime_type", mime_type_of),
        Patch.function(ResponseLogger._log, logged_only_when_enabled),
        Patch(Headers, "get", header_lookups.get),
        Patch(Headers, "__contains__", header_lookups.contains),
    ]
)


if sys.version_info < AST_RACE_FIXED:
    PATCHES.add(Patch(builtins, "compile", _compile_one_at_a_time))


@hooks.on_infra_start()
def apply_patches() -> None:
    PATCHES.apply()  # idempotent: a patch applied once is not applied again


@hooks.on_infra_ready()
def freeze_startup_heap() -> None:
    """Leave what start-up built (modules, service models, plugins: objects that live as long as the
    process) out of the cyclic garbage collector's full passes. Those pass over every tracked object while
    holding the GIL, and with this heap each one stalled every request for a few hundred milliseconds.
    Objects made later are collected as before."""
    gc.freeze()
