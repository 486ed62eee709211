"""werkzeug's header lookups without an exception per missing header answer what werkzeug's answer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import EnvironHeaders, Headers

from harness.localstack_extensions import header_lookups

NAMES = st.sampled_from(["Host", "host", "X-Amzn-Trace-Id", "x-amzn-trace-id", "Content-Length", "İ", "ß", "Ü"])
VALUES = st.sampled_from(["", "42", "not a number", "a, b", "ü"])


def answers(lookup, *args):
    try:
        return lookup(*args)
    except Exception as error:
        return type(error)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=5), NAMES, st.sampled_from([None, "fallback"]))
def test_get_and_in_answer_as_werkzeugs(pairs, key, default):
    headers = Headers(pairs)
    for kind in (None, int, str.upper):
        assert header_lookups.get(headers, key, default, kind) == header_lookups.STOCK_GET(headers, key, default, kind)
    assert header_lookups.contains(headers, key) == header_lookups.STOCK_CONTAINS(headers, key)
    assert answers(header_lookups.get, headers, 7) == answers(header_lookups.STOCK_GET, headers, 7)  # not a name


def test_headers_read_from_a_wsgi_environment_are_answered_by_werkzeug():
    headers = EnvironHeaders({"HTTP_X_AMZN_TRACE_ID": "Root=1", "CONTENT_LENGTH": "3"})
    assert header_lookups.get(headers, "x-amzn-trace-id") == "Root=1"
    assert header_lookups.get(headers, "Content-Length", type=int) == 3
    assert header_lookups.get(headers, "missing", "d") == "d" and not header_lookups.contains(headers, "missing")
    assert header_lookups.contains(headers, "X-Amzn-Trace-Id")
