"""werkzeug's ``Headers.get`` and ``in`` answering a missing header without raising and catching an exception.

Both look a header up with ``_get_key``, which raises ``BadRequestKeyError`` — an HTTP exception, built
with its description and response fields — for a header that is not there, and catch it. LocalStack asks
for absent headers many times per request (trace ids, regions, idempotency keys in templates, CORS), and
under a flood building those exceptions was a visible share of its time. The replacements walk the same
list with the same comparison and answer the same values; a subclass with a ``_get_key`` of its own
(``EnvironHeaders``, which reads a WSGI environment) is answered by werkzeug's own methods. Put in place
by ``patches``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.datastructures import Headers

STOCK_GET = Headers.get
STOCK_CONTAINS = Headers.__contains__
STOCK_GET_KEY = Headers._get_key


def get(headers: Headers, key: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
    """``Headers.get``: the first value under ``key`` (any case), converted by ``type`` if given, else ``default``."""
    if headers.__class__._get_key is not STOCK_GET_KEY:
        return STOCK_GET(headers, key, default, type)
    value = _first(headers, key)
    if value is MISSING:
        return default
    if type is None:
        return value
    try:
        return type(value)
    except ValueError:
        return default


def contains(headers: Headers, key: str) -> bool:
    """``key in headers``, any case."""
    if headers.__class__._get_key is not STOCK_GET_KEY:
        return STOCK_CONTAINS(headers, key)
    return _first(headers, key) is not MISSING


MISSING = object()


def _first(headers: Headers, key: str) -> Any:
    """What ``Headers._get_key`` answers, ``MISSING`` where it raises ``BadRequestKeyError``."""
    lowered = key.lower()
    for name, value in headers._list:
        if name.lower() == lowered:
            return value
    return MISSING
