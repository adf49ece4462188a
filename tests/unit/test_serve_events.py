"""The pure part of serve: viewer request -> CloudFront event, and CloudFront's checks of the
function's answer (what it forwards, fetches or returns, and what it refuses with a 502)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_router.local import events
from edge_router.local.events import CustomOrigin, Generated, S3Origin
from routing_table.errors import InvalidResultError, MalformedRequestError

HOST = "api-t9yhp25-portal.example.com"


def viewer(
    target: str = "/a/b.js?v=2", headers: list[tuple[str, str]] | None = None
) -> events.ViewerRequest:
    pairs = headers if headers is not None else [("Host", HOST), ("User-Agent", "curl/8.5.0")]
    return events.parse_viewer_request("get", target, pairs, "203.0.113.178")


def event_for(request: events.ViewerRequest | None = None) -> dict[str, Any]:
    return events.build_event(request or viewer(), request_id="req-1")


def request_of(event: dict[str, Any]) -> dict[str, Any]:
    cf_request: dict[str, Any] = copy.deepcopy(event["Records"][0]["cf"]["request"])
    return cf_request


def custom(**overrides: Any) -> dict[str, Any]:
    spec = {
        "domainName": "localhost",
        "port": 8081,
        "protocol": "http",
        "path": "",
        "readTimeout": 5,
        "keepaliveTimeout": 5,
        "sslProtocols": ["TLSv1.2"],
        "customHeaders": {},
    }
    spec.update(overrides)
    return {"custom": spec}


def s3(**overrides: Any) -> dict[str, Any]:
    spec = {
        "domainName": "site-bucket.s3.eu-west-1.amazonaws.com",
        "path": "/site/v2",
        "authMethod": "none",
        "region": "eu-west-1",
        "customHeaders": {},
    }
    spec.update(overrides)
    return {"s3": spec}


# -- viewer request -> event ---------------------------------------------------------------------


def test_event_has_cloudfront_shape() -> None:
    event = event_for()
    record = event["Records"][0]["cf"]
    assert record["config"]["eventType"] == "origin-request"
    assert record["config"]["requestId"] == "req-1"
    request = record["request"]
    assert request["method"] == "GET"
    assert request["uri"] == "/a/b.js"
    assert request["querystring"] == "v=2"
    assert request["clientIp"] == "203.0.113.178"
    assert request["headers"]["host"] == [{"key": "Host", "value": HOST}]
    assert request["headers"]["x-forwarded-for"] == [
        {"key": "X-Forwarded-For", "value": "203.0.113.178"}
    ]
    assert set(request["origin"]) == {"custom"}


def test_hop_by_hop_headers_stay_out_and_repeats_are_grouped() -> None:
    request = viewer(
        "/",
        [("Host", HOST), ("Connection", "keep-alive"), ("Accept", "a"), ("accept", "b")],
    )
    headers = events.cloudfront_headers(request)
    assert "connection" not in headers
    assert headers["accept"] == [{"key": "Accept", "value": "a"}, {"key": "accept", "value": "b"}]


def test_existing_forwarded_for_is_extended() -> None:
    request = viewer("/", [("Host", HOST), ("X-Forwarded-For", "198.51.100.7")])
    headers = events.cloudfront_headers(request)
    assert headers["x-forwarded-for"][0]["value"] == "198.51.100.7, 203.0.113.178"


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/a", []),
        ("/a", [("Host", "")]),
        ("/a", [("Host", HOST), ("Host", "other.example.com")]),
        ("http://evil.example.com/a", [("Host", HOST)]),
        ("*", [("Host", HOST)]),
        ("/a b", [("Host", HOST)]),
        ("/a?x=\x01", [("Host", HOST)]),
        ("/" + "a" * 8192, [("Host", HOST)]),
    ],
)
def test_malformed_requests_are_refused(target: str, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(MalformedRequestError):
        events.parse_viewer_request("GET", target, headers, "127.0.0.1")


@given(
    segments=st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~%", max_size=12), max_size=8
    ),
    query=st.text(alphabet="abcxyz=&%20", max_size=30),
)
def test_any_origin_form_target_round_trips_into_the_event(segments: list[str], query: str) -> None:
    uri = "/" + "/".join(segments)
    target = uri + (f"?{query}" if query else "")
    request = events.build_event(
        events.parse_viewer_request("GET", target, [("Host", HOST)], "::1"), request_id="r"
    )["Records"][0]["cf"]["request"]
    assert request["uri"] == uri
    assert request["querystring"] == query


# -- the function's answer -----------------------------------------------------------------------


def test_custom_origin_url_is_origin_path_plus_uri_plus_query() -> None:
    event = event_for()
    request = request_of(event)
    request["origin"] = custom(path="/base", port=8081)
    decision = events.decide(event, request)
    assert isinstance(decision.action, CustomOrigin)
    assert decision.action.url == "http://localhost:8081/base/a/b.js?v=2"
    assert ("Host", HOST) in decision.action.headers
    assert decision.origin_label == "http://localhost:8081/base"


def test_custom_headers_replace_viewer_headers_of_the_same_name() -> None:
    event = event_for(viewer("/", [("Host", HOST), ("X-Env", "viewer")]))
    request = request_of(event)
    request["origin"] = custom(customHeaders={"x-env": [{"key": "X-Env", "value": "origin"}]})
    action = events.decide(event, request).action
    assert isinstance(action, CustomOrigin)
    assert [v for k, v in action.headers if k.lower() == "x-env"] == ["origin"]


def test_s3_origin_names_bucket_and_decoded_key() -> None:
    event = event_for(viewer("/caf%C3%A9/index.html"))
    request = request_of(event)
    request["origin"] = s3()
    action = events.decide(event, request).action
    assert isinstance(action, S3Origin)
    assert action.bucket == "site-bucket"
    assert action.key == "site/v2/café/index.html"
    assert action.region == "eu-west-1"


def test_generated_response_is_returned_as_given() -> None:
    body = base64.b64encode(b"\x00\x01binary").decode()
    result = {
        "status": "404",
        "statusDescription": "Not Found",
        "headers": {"cache-control": [{"key": "Cache-Control", "value": "max-age=10"}]},
        "body": body,
        "bodyEncoding": "base64",
    }
    action = events.decide(event_for(), result).action
    assert action == Generated(
        404, "Not Found", [("Cache-Control", "max-age=10")], b"\x00\x01binary"
    )


def _with(change: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    event = event_for()
    request = request_of(event)
    request["origin"] = custom()
    request.update(change)
    return event, request


@pytest.mark.parametrize(
    "change",
    [
        {"origin": {}},
        {"origin": {**custom(), **s3()}},
        {"origin": custom(domainName="localhost:8081")},
        {"origin": custom(domainName="")},
        {"origin": custom(port=22)},
        {"origin": custom(protocol="ftp")},
        {"origin": custom(path="/trailing/")},
        {"origin": custom(path="no-slash")},
        {"origin": s3(domainName="bucket.example.com")},
        {"origin": s3(authMethod="origin-access-identity", region=None)},
        {"uri": "relative"},
        {"headers": {"host": [{"key": "Host", "value": HOST}], "Upper": []}},
        {"headers": {"host": [{"key": "Host", "value": HOST}], "x-edge-route": []}},
        {"headers": {"host": [{"key": "Host", "value": HOST}], "connection": []}},
        {"headers": {"host": [{"key": "Host", "value": HOST}], "x-amz-cf-id": []}},
        {"headers": {"host": [{"key": "Host", "value": HOST}]}},  # dropped Via: read-only
    ],
)
def test_answers_cloudfront_refuses_are_invalid(change: dict[str, Any]) -> None:
    event, request = _with(change)
    with pytest.raises(InvalidResultError):
        events.decide(event, request)


@pytest.mark.parametrize(
    "result",
    [
        None,
        "text",
        {"status": "abc"},
        {"status": "99"},
        {"status": "204", "body": "x"},
        {"status": "200", "body": "x", "bodyEncoding": "gzip"},
        {"status": "200", "body": "!!", "bodyEncoding": "base64"},
        {"status": "200", "body": "x" * (events.MAX_GENERATED_BODY + 1)},
    ],
)
def test_generated_answers_cloudfront_refuses_are_invalid(result: Any) -> None:
    with pytest.raises(InvalidResultError):
        events.decide(event_for(), result)


def test_changing_an_ordinary_header_is_allowed() -> None:
    event, request = _with({})
    request["headers"]["host"] = [{"key": "Host", "value": "site-bucket.s3.amazonaws.com"}]
    request["headers"]["x-env-id"] = [{"key": "X-Env-Id", "value": "pr-1"}]
    action = events.decide(event, request).action
    assert isinstance(action, CustomOrigin)
    assert ("X-Env-Id", "pr-1") in action.headers


@given(status=st.integers(100, 599), text=st.text(max_size=50))
def test_any_valid_generated_status_passes(status: int, text: str) -> None:
    body = "" if status == 204 else text
    action = events.decide(event_for(), {"status": str(status), "body": body}).action
    assert isinstance(action, Generated)
    assert (action.status, action.body) == (status, body.encode())
