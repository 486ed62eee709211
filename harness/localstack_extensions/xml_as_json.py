"""Answers of XML services asked for as JSON, converted from the serializer's tree without an XML round trip.

LocalStack's XML serializers (the query protocol: SQS, SNS, STS, ...) build an ``ElementTree``, and when
the caller accepts JSON — API Gateway's ``AWS`` integrations do, their requests carry ``Accept:
application/json`` — they write the tree out as XML text, parse that text again with ``xmltodict`` and
dump the dict (its own FIXME says "try to directly convert the ElementTree node to JSON"). Under a flood
through a direct integration that round trip was most of each SendMessage answer's cost.

``as_xmltodict`` builds the dict ``xmltodict.parse`` gives for the trees a serializer builds: elements with
text or children and attributes, text stripped of surrounding whitespace, repeated names as lists. A tree
the round trip would change or refuse — text outside its elements, namespaced or odd names, carriage
returns (XML reads them as line feeds), characters XML cannot carry — raises ``NotConvertible`` and goes the
stock way, so the answer is the same in every case. Put in place by ``patches``.

``mime_type_of`` stands in for ``ResponseSerializer._get_mime_type``, which parsed the request's ``Accept``
header and matched it against the serializer's types on every answer: the same steps and log lines, the
match remembered per header value (a pure function of it and the types).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from localstack.constants import APPLICATION_JSON
from localstack.utils.xml import strip_xmlns
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

LOG = logging.getLogger("localstack.aws.protocol.serializer")  # the serializer's own logger, as its lines were

XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*(?::[A-Za-z_][A-Za-z0-9_.-]*)?\Z")
"""Names written and read back as they are (a conservative subset of XML's)."""
CHANGED_BY_THE_ROUND_TRIP = re.compile("[\x00-\x08\x0b\x0c\r\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML cannot carry (the parser refuses them) or reads back otherwise (``\\r`` as ``\\n``)."""


class NotConvertible(Exception):
    """A tree whose XML round trip is not a plain reading of it: the stock path answers for it."""


def as_xmltodict(root: ElementTree.Element) -> dict[str, Any]:
    """``xmltodict.parse(ElementTree.tostring(root))`` (default options), without writing or parsing XML."""
    return {_name(root.tag): _item(root)}


def _item(element: ElementTree.Element) -> Any:
    if element.tail:  # text after an element is its parent's (mixed content): not read back as such here
        raise NotConvertible("text outside an element")
    item: dict[str, Any] = {f"@{_name(key)}": _text(value) for key, value in element.attrib.items()}
    for child in element:
        key, value = _name(child.tag), _item(child)
        if key not in item:
            item[key] = value
        elif isinstance(existing := item[key], list):
            existing.append(value)
        else:
            item[key] = [existing, value]
    text = element.text
    text = _text(text).strip() or None if text else None
    if not item:
        return text
    if text:
        item["#text"] = text
    return item


def _name(name: Any) -> str:
    if not isinstance(name, str) or not XML_NAME.match(name):
        raise NotConvertible(f"name {name!r}")
    return name


def _text(text: Any) -> str:
    if not isinstance(text, str) or CHANGED_BY_THE_ROUND_TRIP.search(text):
        raise NotConvertible("text the XML round trip changes")
    return text


def json_without_the_xml_round_trip(
    node_to_string: Callable[[Any, ElementTree.Element | None, str], Any],
    serializer: Any,
    root: ElementTree.Element | None,
    mime_type: str,
) -> Any:
    """``BaseXMLResponseSerializer._node_to_string``: for JSON, the tree converted directly."""
    if root is None or mime_type != APPLICATION_JSON:
        return node_to_string(serializer, root, mime_type)
    try:
        converted = as_xmltodict(root)
    except NotConvertible:
        return node_to_string(serializer, root, mime_type)
    return json.dumps(strip_xmlns(converted))


@functools.lru_cache(maxsize=256)
def best_match(accept_header: str | None, supported: tuple[str, ...]) -> str | None:
    return parse_accept_header(accept_header, MIMEAccept).best_match(supported)


def mime_type_of(serializer: Any, headers: Any) -> str:
    """``ResponseSerializer._get_mime_type``, step for step, the header's match remembered."""
    accept_header = None
    if headers and "Accept" in headers and headers.get("Accept") != "*/*":
        accept_header = headers.get("Accept")
    elif headers and headers.get("Content-Type"):
        content_type = headers.get("Content-Type")
        LOG.debug(
            "No accept header given. Using request's Content-Type (%s) as preferred response Content-Type.",
            content_type,
        )
        accept_header = content_type + ", */*"
    mime_type = best_match(accept_header, tuple(serializer.SUPPORTED_MIME_TYPES))
    if not mime_type:
        mime_type = serializer.SUPPORTED_MIME_TYPES[0]
        LOG.debug(
            "Determined accept type (%s) is not supported by this serializer. Using default of this serializer: %s",
            accept_header,
            mime_type,
        )
    return mime_type
