"""The read-only CloudFront event wrapper over the JSON fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_router.events import CloudFrontRequestEvent

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load(name: str) -> CloudFrontRequestEvent:
    return CloudFrontRequestEvent(json.loads((EVENTS / f"{name}.json").read_text()))


def test_fields_of_the_developer_guide_shape() -> None:
    event = load("origin_request_custom")
    assert event.config.event_type == "origin-request"
    assert event.config.distribution_id == "EDFDVBD6EXAMPLE"
    assert event.config.distribution_domain_name == "d111111abcdef8.cloudfront.net"
    assert event.config.request_id.startswith("4TyzHTaYWb1GX1")
    request = event.request
    assert request.client_ip == "203.0.113.178"
    assert request.method == "GET"
    assert request.uri == "/api/users/42"
    assert request.querystring == "expand=team&v=2"
    assert request.host == "api-t9yhp25-portal.preview.example.com"
    assert request.header_value("user-agent") == "curl/8.5.0"
    assert request.header_value("x-missing") is None
    assert request.origin["custom"]["domainName"] == "placeholder.example.com"
    assert request.raw is event.raw_event["Records"][0]["cf"]["request"]


def test_absent_host_is_none() -> None:
    assert load("origin_request_no_host").request.host is None


@pytest.mark.parametrize(
    "name",
    sorted(p.stem for p in EVENTS.glob("origin_request_*.json")),
)
def test_every_fixture_is_an_origin_request(name: str) -> None:
    event = load(name)
    assert event.config.event_type == "origin-request"
    assert event.request.uri.startswith("/")


def test_non_string_uri_is_refused() -> None:
    raw = {"Records": [{"cf": {"request": {"uri": 3, "headers": {}}}}]}
    with pytest.raises(TypeError):
        _ = CloudFrontRequestEvent(raw).request.uri
