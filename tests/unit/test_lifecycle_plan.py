"""Pure rules of the lifecycle: the record, version transitions, gc timing, request builders,
asset paths, cache headers and audit classification. No I/O."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing_table.core import keys
from routing_table.core.records import RouteRecord
from routing_table.errors import InvalidInputError
from routing_table.lifecycle.audit import classify
from routing_table.lifecycle.plan import (
    SERVICES_PER_TRANSACTION,
    TRANSACT_LIMIT,
    collectable,
    create_transactions,
    delete_transactions,
    normalize_asset_path,
    route_for,
)
from routing_table.lifecycle.records import (
    EnvRecord,
    EnvSpec,
    asset_digest,
    iso,
    record_from_item,
    record_to_item,
)
from routing_table.lifecycle.static import cache_control, content_type

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
GRACE = dt.timedelta(seconds=660)
names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
versions = st.from_regex(r"v[0-9]{1,3}", fullmatch=True)


def _record(services: list[str]) -> EnvRecord:
    spec = EnvSpec("pr-1", "portal", "example.com", {s: f"https://{s}.internal" for s in services})
    record = EnvRecord.new(spec, NOW)
    return record.with_handle("h1", {s: f"{s}-h1-portal.example.com" for s in services})


@given(st.lists(names, min_size=1, max_size=5, unique=True), st.lists(versions, max_size=6))
def test_record_round_trips_through_its_item(services: list[str], deployed: list[str]) -> None:
    record = _record(services)
    for n, version in enumerate(deployed):
        at = NOW + dt.timedelta(seconds=n)
        record = record.with_pending(services[0], version, n + 1, f"d{n}", at)
        record = record.with_active(services[0], version, at).bumped()
    assert record_from_item(record_to_item(record)) == record


@given(st.lists(versions, min_size=1, max_size=8, unique=True))
def test_deploys_keep_one_active_one_previous(deployed: list[str]) -> None:
    record = _record(["web"])
    for n, version in enumerate(deployed):
        at = NOW + dt.timedelta(seconds=n)
        record = record.with_pending("web", version, 1, "d", at).with_active("web", version, at)
    states = [v.state for v in record.versions("web").values()]
    assert states.count("active") == 1
    assert states.count("previous") == (1 if len(deployed) > 1 else 0)
    assert record.version_in("web", "active") == deployed[-1]
    if len(deployed) > 1:
        assert record.version_in("web", "previous") == deployed[-2]
        # A version's retired_at is when it stopped being active: when its successor went live.
        for n, version in enumerate(deployed[:-1]):
            stopped = record.versions("web")[version].retired_at
            assert stopped == iso(NOW + dt.timedelta(seconds=n + 1))


@given(st.lists(versions, min_size=1, max_size=8, unique=True), st.integers(0, 2000))
def test_gc_never_takes_live_versions_nor_early_ones(deployed: list[str], later: int) -> None:
    record = _record(["web"])
    for version in deployed:
        record = record.with_pending("web", version, 1, "d", NOW).with_active("web", version, NOW)
    now = NOW + dt.timedelta(seconds=later)
    due = {v for _, v in collectable(record, now, GRACE, stuck_after=900)}
    assert deployed[-1] not in due
    if len(deployed) > 1:
        assert deployed[-2] not in due
    expected = set(deployed[:-2]) if later >= GRACE.total_seconds() else set()
    assert due == expected


def test_stuck_pending_versions_are_collected_after_the_timeout() -> None:
    record = _record(["web"]).with_pending("web", "v1", 1, "d", NOW)
    assert collectable(record, NOW + dt.timedelta(seconds=899), GRACE, 900) == []
    assert collectable(record, NOW + dt.timedelta(seconds=900), GRACE, 900) == [("web", "v1")]


def _route(host: str) -> RouteRecord:
    template = RouteRecord(
        host="t.invalid", prefix="/x", owner="o", target="https://a", kind="custom", domain="a"
    )
    return route_for(template, host, "pr-1", NOW)


@given(st.integers(1, 150))
def test_create_transactions_fit_the_limit_and_check_the_record(count: int) -> None:
    routes = [_route(f"s{i}-h-app.example.com") for i in range(count)]
    chunks = create_transactions("t", "pr-1", routes)
    assert len(chunks) == -(-count // SERVICES_PER_TRANSACTION)
    written = set()
    for items in chunks:
        assert len(items) <= TRANSACT_LIMIT
        assert "ConditionCheck" in items[0]
        written |= {i["Put"]["Item"]["pk"]["S"] for i in items if "Put" in i}
    assert written == {keys.route_partition(r.host) for r in routes}
    assert all(r.prefix == "/" and r.owner == "pr-1" for r in routes)


@given(st.sets(st.tuples(names, st.booleans()), max_size=120))
def test_delete_transactions_put_routes_before_claims(entries: set[tuple[str, bool]]) -> None:
    wanted = [keys.host_claim_key(h) if claim else keys.route_key(h, "/") for h, claim in entries]
    chunks = delete_transactions("t", "pr-1", wanted)
    flat = [
        (i["Delete"]["Key"]["pk"]["S"], i["Delete"]["Key"]["sk"]["S"]) for c in chunks for i in c
    ]
    assert sorted(flat) == sorted(set(wanted))
    assert all(len(c) <= TRANSACT_LIMIT for c in chunks)
    kinds = [k[1] == keys.HOST_CLAIM_SK for k in flat]
    assert kinds == sorted(kinds)
    assert all(":me" in i["Delete"]["ExpressionAttributeValues"] for c in chunks for i in c)


@pytest.mark.parametrize("bad", ["", "/", "a/../b", "../x", "a//b", "./", "a/./b", "x\ny"])
def test_asset_paths_that_could_escape_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        normalize_asset_path(bad)


@given(
    st.lists(
        st.from_regex(r"[a-z0-9_.-]{1,10}", fullmatch=True).filter(lambda s: s not in {".", ".."}),
        min_size=1,
        max_size=5,
    )
)
def test_asset_paths_are_relative_and_stable(segments: list[str]) -> None:
    path = "/".join(segments)
    assert normalize_asset_path("/" + path) == path
    assert normalize_asset_path(path) == path
    assert asset_digest([path, path]) == asset_digest([path])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("app.3f9a1c2b.js", "public, max-age=31536000, immutable"),
        ("assets/chunk-5XKQ2ZB1.css", "public, max-age=31536000, immutable"),
        ("index.html", "public, max-age=0, must-revalidate"),
        ("docs/page.htm", "public, max-age=0, must-revalidate"),
        ("favicon.ico", "public, max-age=300"),
        ("app.js", "public, max-age=300"),
    ],
)
def test_cache_control(path: str, expected: str) -> None:
    assert cache_control(path) == expected


def test_content_type() -> None:
    assert content_type("a.html") == "text/html; charset=utf-8"
    assert content_type("a.png") == "image/png"
    assert content_type("no-extension") == "application/octet-stream"


def _item(pk: str, sk: str, **attrs: str) -> dict[str, object]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in attrs.items()}}


def test_audit_classifies_orphans_and_stuck_environments() -> None:
    live = record_to_item(_record(["web"]).with_pending("web", "v1", 1, "d", NOW))
    stuck = record_to_item(
        EnvRecord.new(EnvSpec("pr-2", "a", "example.com", {"x": "https://x"}), NOW)
    )
    items = [
        live,
        stuck,
        _item("ROUTE#web-h1-portal.example.com", "#HOST", owner="pr-1"),
        _item("ROUTE#gone.example.com", "PATH#/", owner="gone"),
        _item("ROUTE#gone.example.com", "#HOST", owner="gone"),
        _item("ROUTE#manual.example.com", "PATH#/", owner="manual:cli"),
        _item("POOL#team", "HANDLE#t1", env_id="gone"),
        _item("POOL#team", "HANDLE#t2"),
        _item("HANDLE#abc", "CLAIM", env_id="gone"),
        _item("ASSET#pr-1#web#v1#3", "index.html"),
        _item("ASSET#pr-1#web#v0#3", "index.html"),
        _item("ASSET#gone#web#v1#0", "a.js"),
    ]
    found = classify(items, NOW + dt.timedelta(seconds=901), stuck_after=900)
    summary = sorted((f.kind, f.env_id) for f in found)
    assert summary == [
        ("orphan-assets", "gone"),
        ("orphan-assets", "pr-1"),
        ("orphan-claim", "gone"),
        ("orphan-handle", "gone"),
        ("orphan-handle", "gone"),
        ("orphan-route", "gone"),
        ("stuck", "pr-1"),
        ("stuck", "pr-2"),
    ]
