"""An XML service's answer asked for as JSON: the tree converted directly reads as ``xmltodict`` reads the XML
written from it, for any tree it converts; the rest go the stock way, so the answers are the same bytes."""

from __future__ import annotations

import functools
from xml.etree import ElementTree

import pytest
import xmltodict
from hypothesis import given, settings
from hypothesis import strategies as st
from localstack.aws.api import CommonServiceException
from localstack.aws.protocol import serializer as protocol_serializer
from localstack.aws.protocol.serializer import create_serializer
from localstack.aws.spec import load_service
from localstack.constants import APPLICATION_JSON
from localstack.utils.patch import Patch
from werkzeug.datastructures import Headers

from harness.localstack_extensions.xml_as_json import NotConvertible, as_xmltodict, json_without_the_xml_round_trip

NAMES = st.sampled_from(["Message", "Id", "Body", "Attributes", "Entry", "a", "Name:Space", "x.y-z"])
TEXTS = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "  padded  ", "\n", 'say "hi" & <bye>', "line\nbreak", "tab\there", "ünïcødé ✓"]),
    st.text(max_size=12),  # anything, carriage returns and characters XML cannot carry included
)

VALUES = (st.text(max_size=6), st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=6))


@st.composite
def trees(draw, depth: int = 0) -> ElementTree.Element:
    element = ElementTree.Element(draw(NAMES), draw(st.dictionaries(NAMES, draw(st.sampled_from(VALUES)), max_size=2)))
    element.text = draw(TEXTS)
    if depth < 3:
        element.extend(draw(st.lists(trees(depth + 1), max_size=3)))
    if depth and draw(st.integers(0, 9)) == 0:
        element.tail = draw(TEXTS)
    return element


def read_back(root: ElementTree.Element):
    return xmltodict.parse(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def outcome(node_to_string, root):
    try:
        return node_to_string(protocol_serializer.QueryResponseSerializer(), root, APPLICATION_JSON)
    except Exception as error:  # the stock path refuses XML it wrote that expat cannot read
        return type(error)


@settings(max_examples=400, deadline=None)
@given(trees())
def test_a_converted_tree_is_what_xmltodict_reads_from_its_xml_and_the_answer_is_the_stocks(root):
    stock = protocol_serializer.BaseXMLResponseSerializer._node_to_string
    assert outcome(functools.partial(json_without_the_xml_round_trip, stock), root) == outcome(stock, root)
    try:
        converted = as_xmltodict(root)
    except NotConvertible:
        return  # answered the stock way, above
    assert converted == read_back(root)


def test_what_is_not_converted_is_what_the_xml_round_trip_would_change_or_refuse():
    def tree(text=None, tail=None, tag="Body"):
        root = ElementTree.Element("Root")
        child = ElementTree.SubElement(root, tag)
        child.text, child.tail = text, tail
        return root

    assert as_xmltodict(tree(" a & b ")) == read_back(tree(" a & b ")) == {"Root": {"Body": "a & b"}}
    for unconvertible in (tree("a\rb"), tree("\x01"), tree("a", tail="after"), tree(tag="{urn:x}Body")):
        with pytest.raises(NotConvertible):
            as_xmltodict(unconvertible)


SQS = load_service("sqs", protocol="query")
JSON_ASKED = Headers({"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
ANSWERS = [
    ("SendMessage", {"MD5OfMessageBody": "3f1c7e9e", "MessageId": "9a8e-1c2b"}),
    (
        "ReceiveMessage",
        {
            "Messages": [
                {"MessageId": "1", "Body": 'a "quoted" <body> & more', "Attributes": {"SentTimestamp": "1"}},
                {"MessageId": "2", "Body": "  padded \r\n carriage  ", "MD5OfBody": "x"},
                {"MessageId": "3", "Body": "ünïcødé ✓", "MessageAttributes": {"k": {"DataType": "String"}}},
            ]
        },
    ),
    ("ReceiveMessage", {"Messages": [{"MessageId": "only one", "Body": ""}]}),
    ("GetQueueAttributes", {"Attributes": {"ApproximateNumberOfMessages": "3", "VisibilityTimeout": "300"}}),
    ("ListQueues", {"QueueUrls": ["http://q/1", "http://q/2"]}),
    ("SendMessageBatch", {"Successful": [{"Id": "a", "MessageId": "m", "MD5OfMessageBody": "d"}], "Failed": []}),
    ("PurgeQueue", {}),
]


@pytest.mark.parametrize(("operation", "answer"), ANSWERS, ids=[f"{op}-{i}" for i, (op, _) in enumerate(ANSWERS)])
def test_sqs_answers_asked_for_as_json_are_the_same_bytes(operation, answer):
    serializer = create_serializer.__wrapped__(SQS)
    model = SQS.operation_model(operation)
    for headers in (JSON_ASKED, Headers({"Accept": "text/xml"})):
        stock = serializer.serialize_to_response(answer, model, headers, "request-1").get_data()
        with Patch.function(
            protocol_serializer.BaseXMLResponseSerializer._node_to_string, json_without_the_xml_round_trip
        ):
            patched = serializer.serialize_to_response(answer, model, headers, "request-1").get_data()
        assert patched == stock


def test_the_json_is_made_without_writing_and_parsing_xml(monkeypatch):
    serializer = create_serializer.__wrapped__(SQS)
    monkeypatch.setattr(protocol_serializer.xmltodict, "parse", None)  # called: a TypeError
    with Patch.function(protocol_serializer.BaseXMLResponseSerializer._node_to_string, json_without_the_xml_round_trip):
        answer = serializer.serialize_to_response(
            ANSWERS[0][1], SQS.operation_model("SendMessage"), JSON_ASKED, "request-1"
        )
    assert answer.status_code == 200 and b'"MessageId": "9a8e-1c2b"' in answer.get_data()


def test_an_sqs_error_asked_for_as_json_is_the_same_bytes():
    serializer = create_serializer.__wrapped__(SQS)
    model = SQS.operation_model("SendMessage")
    error = CommonServiceException("AWS.SimpleQueueService.NonExistentQueue", 'no queue "q"', status_code=400)
    stock = serializer.serialize_error_to_response(error, model, JSON_ASKED, "request-1").get_data()
    with Patch.function(protocol_serializer.BaseXMLResponseSerializer._node_to_string, json_without_the_xml_round_trip):
        patched = serializer.serialize_error_to_response(error, model, JSON_ASKED, "request-1").get_data()
    assert patched == stock and b"NonExistentQueue" in patched


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/json"},
        {"Accept": "*/*", "Content-Type": "application/x-amz-json-1.0"},
        {"Accept": "text/html"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"accept": "application/xml;q=0.5, application/json"},
        {},
        None,
    ],
)
def test_the_mime_type_of_an_answer_is_the_one_localstack_chooses(headers):
    from harness.localstack_extensions.xml_as_json import mime_type_of

    for service in (SQS, load_service("sqs"), load_service("s3"), load_service("lambda")):
        serializer = create_serializer.__wrapped__(service)
        for asked in (headers, Headers(headers) if headers is not None else None):
            assert mime_type_of(serializer, asked) == serializer._get_mime_type(asked)
