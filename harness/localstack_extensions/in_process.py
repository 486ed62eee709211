"""API Gateway's integrations served inside LocalStack's process instead of through a request to itself.

Stock, every webhook an integration passes on becomes a second request inside the same GIL-bound
process: ``AWS_PROXY`` calls Lambda through an internal boto client (serialised, signed, run through
the whole handler chain, parsed, and the answer serialised and parsed back), and the ``AWS`` (service)
integration sends a real HTTP request to LocalStack's own port with ``requests``. Here:

- ``call_lambda`` hands the event to the Lambda service as its provider's ``invoke`` does, and turns a
  service exception back into the ``ClientError`` the caller already maps (502, or 500 for
  AccessDeniedException). An integration with credentials (a role to assume) keeps the stock path.
- ``InProcessRequests`` stands in for the ``requests`` module of that integration: a request to
  LocalStack itself goes to its gateway's handler chain directly, as LocalStack's own in-memory clients
  do (``aws/client.py``'s ``GatewayShortCircuit``): no socket, no HTTP server, no client session. A
  query-protocol request to a queue's URL (what an SQS integration sends) is first written as the same
  request to SQS's endpoint with the ``QueueUrl`` in its form, as LocalStack's queue-URL route does
  (``services/sqs/query_api.py``) before it hands it to an internal client of its own: here it is served
  by the SQS provider through the handler chain it is already in, its service set as LocalStack's
  ``ServiceNameParser`` would find it (that handler skips its search for a request whose service is set).
- A request to a service's endpoint (``/``: that SQS call, and any other JSON or query-protocol service) is
  served by ``ServiceRequestChain``: the gateway's own chain less the handlers such a request, made by
  LocalStack itself, never needs: those that serve LocalStack's own endpoints and legacy edge routes (each
  a routing-map match), browsers' CORS, pre-signed URLs, schema validation of ``/_localstack`` endpoints,
  and the usage analytics. Parsing, account and region, the provider, its exceptions, the response
  handlers and the log line stay. A request to any other path goes through the whole chain.

Both are put in place by ``patches``.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests
import werkzeug.urls  # noqa: F401 (registers the "werkzeug.url_quote" error handler its form parser uses)
from botocore.exceptions import ClientError
from localstack import config
from localstack.aws import handlers
from localstack.aws.api import RequestContext, ServiceException
from localstack.aws.chain import HandlerChain
from localstack.aws.client import create_http_request
from localstack.aws.handlers.metric_handler import MetricHandler
from localstack.aws.spec import get_service_catalog
from localstack.http import Request, Response
from localstack.services.lambda_.api_utils import function_locators_from_arn
from localstack.utils.strings import long_uid
from werkzeug.datastructures import Headers

SYNCHRONOUS = "RequestResponse"


def lambda_service() -> Any:
    """The running Lambda provider's service, or None where the provider has none."""
    from localstack.services.plugins import SERVICE_PLUGINS

    return getattr(SERVICE_PLUGINS.require("lambda").lifecycle_hook, "lambda_service", None)


def call_lambda(
    stock_call_lambda: Any, function_arn: str, event: bytes, source_arn: str, credentials: str | None = None
) -> bytes:
    """``RestApiAwsProxyIntegration.call_lambda``, in process: the function's payload (its error payload too)."""
    name, qualifier, account, region = function_locators_from_arn(function_arn)
    service = None if credentials or not (account and region) else lambda_service()
    if service is None:
        return stock_call_lambda(function_arn=function_arn, event=event, source_arn=source_arn, credentials=credentials)
    try:
        result = service.invoke(
            function_name=name,
            qualifier=qualifier,
            region=region,
            account_id=account,
            invocation_type=SYNCHRONOUS,
            client_context=None,
            request_id=long_uid(),
            payload=event,
            trace_context={},
        )
    except ServiceException as error:
        raise as_client_error(error) from error
    return (result.payload or b"") if result is not None else b""


def as_client_error(error: ServiceException) -> ClientError:
    """What botocore raised for the same exception over the wire: the caller maps its code to a status."""
    code = getattr(error, "code", type(error).__name__)
    return ClientError(
        {
            "Error": {"Code": code, "Message": getattr(error, "message", str(error))},
            "ResponseMetadata": {"HTTPStatusCode": getattr(error, "status_code", 500)},
        },
        "Invoke",
    )


class InProcessAnswer:
    """The part of a ``requests.Response`` the AWS integration reads."""

    def __init__(self, response: Response) -> None:
        self.status_code = response.status_code
        self.content: bytes = response.get_data()
        self.headers = Headers(response.headers)


NOT_FOR_AN_INTERNAL_SERVICE_REQUEST = (
    handlers.serve_localstack_resources,  # /_localstack/...: matched against a routing map
    handlers.serve_edge_router_rules,  # legacy edge routes: another routing map
    handlers.enforce_cors,
    handlers.add_cors_response_headers,
    handlers.parse_pre_signed_url_request,
    handlers.validate_request_schema,  # LocalStack's own endpoints' OpenAPI schema
    handlers.validate_response_schema,
    handlers.count_service_request,  # usage analytics
)


def needed_for_an_internal_service_request(handler: Any) -> bool:
    unneeded = any(handler is other for other in NOT_FOR_AN_INTERNAL_SERVICE_REQUEST)
    return not unneeded and not isinstance(getattr(handler, "__self__", None), MetricHandler)


class ServiceRequestChain:
    """The gateway's handler chain for a service request LocalStack makes to itself (see the module)."""

    def __init__(self, gateway: Any) -> None:
        kept = needed_for_an_internal_service_request
        self.request_handlers = [handler for handler in gateway.request_handlers if kept(handler)]
        self.response_handlers = [handler for handler in gateway.response_handlers if kept(handler)]
        self.finalizers = list(gateway.finalizers)
        self.exception_handlers = list(gateway.exception_handlers)

    def handle(self, context: RequestContext, response: Response) -> None:
        chain = HandlerChain(self.request_handlers, self.response_handlers, self.finalizers, self.exception_handlers)
        chain.handle(context, response)


class InProcessRequests:
    """The ``requests`` module as API Gateway's AWS integration uses it (``requests.request(...)``): a request
    to LocalStack's own URL is handled by its gateway's chain in this thread; any other goes out as stock."""

    def __init__(self, gateway: Any = None) -> None:
        self._gateway = gateway
        self._service_request_chain: ServiceRequestChain | None = None

    @property
    def gateway(self) -> Any:
        if self._gateway is None:
            from localstack.runtime import get_current_runtime

            self._gateway = get_current_runtime().components.gateway
        return self._gateway

    @property
    def service_request_chain(self) -> ServiceRequestChain:
        if self._service_request_chain is None:
            self._service_request_chain = ServiceRequestChain(self.gateway)
        return self._service_request_chain

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        if not is_internal(url):
            return requests.request(method=method, url=url, **kwargs)
        queue_request = queue_request_at_sqs_endpoint(method, url, **kwargs)
        request = queue_request or as_request(method, url, **kwargs)
        context = RequestContext(request)
        if queue_request is not None:
            context.service = sqs_query_service()  # what ServiceNameParser would search the catalog for
        chain = self.service_request_chain if request.path == "/" else self.gateway
        response = Response()
        chain.handle(context, response)
        return InProcessAnswer(response)


def sqs_query_service() -> Any:
    """The model LocalStack's ``ServiceNameParser`` finds for a query-protocol request to SQS's endpoint (the
    same object from the same catalog); it skips its search when a request comes with its service set."""
    return get_service_catalog().get("sqs", "query")


def as_request(method: str, url: str, **kwargs: Any) -> Request:
    """The request ``requests`` would have sent, as LocalStack's gateway receives it."""
    prepared = requests.Request(
        method=method,
        url=url,
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
        data=kwargs.get("data"),
    ).prepare()
    return create_http_request(prepared)


QUEUE_PATH = re.compile(r"^/(?:queue/[a-z0-9-]+/)?[0-9]{12}/[a-zA-Z0-9_-]+(?:\.fifo)?$")
"""A queue's URL path, in the forms of LocalStack's queue-URL routes (standard and path strategies)."""
FORM = "application/x-www-form-urlencoded"
ACTION = re.compile(r"(?:^|&)Action=([^&]*)")
QUEUE_URL = re.compile(r"(?:^|&)QueueUrl=")


def queue_request_at_sqs_endpoint(
    method: str, url: str, headers: Any = None, data: Any = None, params: Any = None, **_: Any
) -> Request | None:
    """A query-protocol POST to a queue's URL on SQS's host, as the same call to SQS's endpoint (``/``) with
    its ``QueueUrl`` first in the form (one already in the body wins, as on AWS); None for any other request.

    Written straight from the integration's arguments, the form as it came (``requests`` would only have
    copied it, and a parse and re-encode of it would give the same call)."""
    if not isinstance(headers, Headers):
        headers = Headers(headers or {})
    host = headers.get("Host", "")
    split = urlsplit(url)
    if (
        method != "POST"
        or params
        or split.query
        or not isinstance(data, str | bytes)
        or not host.startswith("sqs.")
        or not QUEUE_PATH.match(split.path)
        or not headers.get("Content-Type", "").startswith(FORM)
    ):
        return None
    form = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data  # byte for byte
    action = ACTION.search(form)
    if not action or action.group(1) in ("", "ListQueues", "CreateQueue"):
        return None  # LocalStack's queue-URL route answers those (an error), as stock
    if not QUEUE_URL.search(form):
        form = queue_url_field(f"{split.scheme}://{host}{split.path}") + form
    body = form.encode("utf-8", "surrogateescape")
    request = Request("POST", "/", headers=form_headers(headers), body=body, server=(split.hostname, split.port))
    return with_the_form_read(request, form, body)


def with_the_form_read(request: Request, form: str, body: bytes) -> Request:
    """``request`` with its ``form`` as werkzeug would parse it from ``body`` (``Request._load_form_data``,
    its ``FormDataParser`` for an urlencoded body) and no files: the form was just written here, so it is
    parsed from the text instead of from a stream over its bytes. The body stays readable. Left for werkzeug
    where it would refuse it (larger than ``max_form_memory_size``: 413; not UTF-8)."""
    limit = request.max_form_memory_size
    if (limit is not None and len(body) > limit) or not _is_utf8(form):
        return request
    items = parse_qsl(form, keep_blank_values=True, errors="werkzeug.url_quote")
    request.__dict__["form"] = request.parameter_storage_class(items)  # where werkzeug's cached_property keeps it
    request.__dict__["files"] = request.parameter_storage_class()
    return request


def _is_utf8(text: str) -> bool:
    """Whether ``text`` came from valid UTF-8 (decoded with ``surrogateescape``, a byte it could not take
    is a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@functools.lru_cache(maxsize=512)
def queue_url_field(queue_url: str) -> str:
    return f"QueueUrl={quote(queue_url, safe='')}&"


def form_headers(headers: Headers) -> dict[str, str] | Headers:
    """``headers`` with its Content-Type the form's (in its place, as ``Headers.set`` puts it) and no
    Content-Length (the request's body gives it); a plain dict where no name repeats (the request copies
    them into its own ``Headers`` anyway)."""
    written, typed = [], False
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "content-type":
            if not typed:
                written.append(("Content-Type", f"{FORM}; charset=utf-8"))
                typed = True
        elif lowered != "content-length":
            written.append((name, value))
    if not typed:
        written.append(("Content-Type", f"{FORM}; charset=utf-8"))
    unique = len({name.lower() for name, _ in written}) == len(written)
    return dict(written) if unique else Headers(written)


def is_internal(url: str) -> bool:
    return urlsplit(url).netloc == urlsplit(config.internal_service_url()).netloc
