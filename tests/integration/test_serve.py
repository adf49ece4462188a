"""``edge-router serve`` over real HTTP: the real handler, DynamoDB Local, a moto S3 server and
real upstream servers on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import boto3
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from edge_router.config import DEFAULT_PATH
from edge_router.local.embedded import LocalComponents
from edge_router.local.run import ServeOptions, run_server
from routing_table.clients import dynamodb_client
from routing_table.core.records import RouteRecord
from routing_table.local.dynamodb_local import free_port
from routing_table.schema import create_table
from routing_table.store import RouteStore

pytestmark = pytest.mark.dynamodb_local

API_HOST = "api-pr1-shop.example.com"
SITE_HOST = "www-pr1-shop.example.com"
DOWN_HOST = "down-pr1-shop.example.com"
SLOW_HOST = "slow-pr1-shop.example.com"
BUCKET = "serve-test-site"
BIG = bytes(range(256)) * 4096  # 1 MiB, streamed in chunks by the upstream


async def upstream_app_handler(request: web.Request) -> web.StreamResponse:
    if request.path == "/api/big":
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        for start in range(0, len(BIG), 65536):
            await response.write(BIG[start : start + 65536])
        await response.write_eof()
        return response
    if request.path == "/api/cut":
        # Promise 1 MiB, send 64 KiB, then drop the connection: an origin dying mid-body.
        response = web.StreamResponse(headers={"Content-Length": str(len(BIG))})
        await response.prepare(request)
        await response.write(BIG[:65536])
        assert request.transport is not None
        request.transport.close()
        return response
    if request.path == "/api/slow":
        await asyncio.sleep(3)
    if request.path == "/api/teapot":
        return web.Response(status=418, text="short and stout", headers={"X-Upstream": "yes"})
    body = await request.read()
    return web.json_response(
        {
            "path": request.path_qs,
            "host": request.headers.get("Host"),
            "method": request.method,
            "body": body.decode(),
            "forwarded_for": request.headers.get("X-Forwarded-For"),
            "cf_id": request.headers.get("X-Amz-Cf-Id"),
        },
        headers={"X-Upstream": "yes"},
    )


@dataclass
class Served:
    url: str
    session: aiohttp.ClientSession

    async def get(
        self, host: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, CIMultiDict[str], bytes]:
        async with self.session.get(
            self.url + path, headers={"Host": host, **(headers or {})}, allow_redirects=False
        ) as resp:
            return resp.status, CIMultiDict(resp.headers), await resp.read()


@pytest.fixture
def s3_objects(moto_s3: str) -> Iterator[str]:
    """A bucket with a small site in the moto server; returns the S3 endpoint."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(
        Bucket=BUCKET,
        Key="site/index.html",
        Body=b"<h1>home</h1>",
        ContentType="text/html",
        CacheControl="max-age=60",
    )
    s3.put_object(Bucket=BUCKET, Key="site/app.js", Body=b"console.log(1)", ContentType="text/js")
    yield moto_s3
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for obj in listed:
        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def base_config(tmp_path: Path) -> Path:
    """The baked config, with a 1 s origin read timeout so the 504 test is quick."""
    data = json.loads(DEFAULT_PATH.read_text())
    data["custom_origin_read_timeout"] = 1
    path = tmp_path / "base_config.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
async def served(
    dynamodb_local: str,
    s3_objects: str,
    table_name: str,
    tmp_path: Path,
    base_config: Path,
) -> AsyncIterator[Served]:
    upstream = TestServer(web.Application(), port=free_port())
    upstream.app.router.add_route("*", "/{tail:.*}", upstream_app_handler)
    await upstream.start_server()
    assert upstream.port is not None
    create_table(dynamodb_client(), table_name, poll_interval=0.1)
    store = RouteStore(table_name)
    custom = {"kind": "custom", "domain": "localhost", "protocol": "http"}
    for host, port in (
        (API_HOST, upstream.port),
        (SLOW_HOST, upstream.port),
        (DOWN_HOST, free_port()),  # nothing listens there
    ):
        store.put_route(
            RouteRecord(
                host=host,
                prefix="/",
                owner="env-pr1",
                target=f"http://localhost:{port}",
                port=port,
                **custom,  # type: ignore[arg-type]
            )
        )
    store.put_route(
        RouteRecord(
            host=SITE_HOST,
            prefix="/",
            owner="env-pr1",
            target=f"s3://{BUCKET}/site",
            kind="s3",
            bucket=BUCKET,
            bucket_region="us-east-1",
            key_prefix="site",
        )
    )
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    options = ServeOptions(
        table=table_name, port=0, state_dir=tmp_path, config=base_config, create_table=False
    )
    components = LocalComponents(dynamodb_endpoint=dynamodb_local, s3_endpoint=s3_objects)
    task = asyncio.create_task(
        run_server(options, components, stop=stop, on_ready=ready.set_result)
    )
    url = await asyncio.wait_for(ready, 30)
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield Served(url, session)
    stop.set()
    await task
    await upstream.close()


async def test_custom_route_forwards_with_viewer_host_query_and_body(served: Served) -> None:
    async with served.session.post(
        served.url + "/api/items?page=2", headers={"Host": API_HOST}, data=b"payload"
    ) as resp:
        assert resp.status == 200
        assert resp.headers["X-Upstream"] == "yes"
        seen = await resp.json()
    assert seen["path"] == "/api/items?page=2"
    assert seen["host"] == API_HOST
    assert seen["method"] == "POST"
    assert seen["body"] == "payload"
    assert seen["forwarded_for"] == "127.0.0.1"
    assert seen["cf_id"]


async def test_upstream_status_and_headers_pass_untouched(served: Served) -> None:
    status, headers, body = await served.get(API_HOST, "/api/teapot")
    assert (status, body) == (418, b"short and stout")
    assert headers["X-Upstream"] == "yes"


async def test_large_body_is_streamed_byte_for_byte(served: Served) -> None:
    status, _, body = await served.get(API_HOST, "/api/big")
    assert status == 200
    assert hashlib.sha256(body).digest() == hashlib.sha256(BIG).digest()


async def test_origin_dying_mid_body_cuts_the_viewer_short_without_a_traceback(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with served.session.get(served.url + "/api/cut", headers={"Host": API_HOST}) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()  # a short body, never one that looks complete
    # serve keeps answering, and nothing logged a traceback for the cut
    status, _, _ = await served.get(API_HOST, "/api/teapot")
    assert status == 418
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert any("origin body interrupted" in r.getMessage() for r in caplog.records)


async def test_s3_route_serves_object_with_its_metadata(served: Served) -> None:
    status, headers, body = await served.get(SITE_HOST, "/index.html")
    assert (status, body) == (200, b"<h1>home</h1>")
    assert headers["Content-Type"] == "text/html"
    assert headers["Cache-Control"] == "max-age=60"
    assert headers["ETag"] == '"' + hashlib.md5(b"<h1>home</h1>").hexdigest() + '"'


async def test_s3_conditional_get_answers_304(served: Served) -> None:
    _, headers, _ = await served.get(SITE_HOST, "/app.js")
    status, _, body = await served.get(SITE_HOST, "/app.js", {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")


async def test_missing_s3_object_is_404(served: Served) -> None:
    status, _, _ = await served.get(SITE_HOST, "/nope.css")
    assert status == 404


async def test_unknown_host_is_the_handlers_404(served: Served) -> None:
    status, headers, _ = await served.get("nobody-pr9-shop.example.com", "/")
    assert status == 404
    assert "max-age" in headers.get("Cache-Control", "")


async def test_missing_host_is_400(served: Served) -> None:
    reader, writer = await asyncio.open_connection(*served.url[7:].split(":"))
    writer.write(b"GET / HTTP/1.0\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    assert status_line.split()[1] == b"400"


async def test_invalid_host_is_400(served: Served) -> None:
    status, _, _ = await served.get("bad_host!.example.com", "/")
    assert status == 400


async def test_upstream_down_is_502(served: Served) -> None:
    status, _, body = await served.get(DOWN_HOST, "/")
    assert status == 502
    assert b"Bad Gateway" in body


async def test_upstream_timeout_is_504(served: Served) -> None:
    status, _, _ = await served.get(SLOW_HOST, "/api/slow")
    assert status == 504


async def test_access_log_names_host_path_route_origin_status(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="edge_router.serve.access"):
        await served.get(API_HOST, "/api/one")
        await served.get(API_HOST, "/api/one")
    lines = [r.getMessage() for r in caplog.records if r.name == "edge_router.serve.access"]
    assert len(lines) == 2
    first, second = lines
    assert f"GET {API_HOST}/api/one" in first
    assert f"route={API_HOST}/ (env-pr1)" in first
    assert "origin=http://localhost:" in first
    assert "status=200" in first
    assert first.rstrip().endswith("ms")
    assert "(cached)" in second  # the router's cache answered; the label is remembered


async def test_concurrent_requests_each_get_their_own_answer(served: Served) -> None:
    async def one(n: int) -> tuple[int, str | bytes]:
        if n % 3 == 0:
            status, _, body = await served.get(SITE_HOST, "/app.js")
            return status, body
        async with served.session.get(
            served.url + f"/api/n{n}?i={n}", headers={"Host": API_HOST}
        ) as resp:
            return resp.status, (await resp.json())["path"]

    results = await asyncio.gather(*(one(n) for n in range(60)))
    for n, (status, body) in enumerate(results):
        assert status == 200
        assert body == (b"console.log(1)" if n % 3 == 0 else f"/api/n{n}?i={n}")
