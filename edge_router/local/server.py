"""A local CloudFront stand-in: each request runs the real edge handler, then is served as it says.

Per request: the viewer's request becomes an origin-request event (``events.build_event``), the
handler runs on it in a single worker thread (one Lambda execution environment serves one request
at a time, and the handler's module-level caches count on that), its answer is checked like
CloudFront checks it (``events.decide``), then:

* custom origin: the request is forwarded to ``protocol://domainName:port + path + uri?qs`` with
  the returned headers (the viewer's Host kept) and the viewer's body; the answer is streamed back,
  status, headers and body untouched (no decompression, no redirect following);
* S3 origin: GetObject (HeadObject for HEAD) on the bucket named in ``domainName``, through the
  standard ``AWS_ENDPOINT_URL_S3`` setting; 404 when the object is missing;
* generated response: returned as is.

CloudFront's own failure answers are kept: malformed request 400, handler raised 503, invalid
handler answer 502, origin unreachable 502, origin too slow 504.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from edge_router.local import events
from edge_router.local.events import CustomOrigin, Decision, Generated, S3Origin
from routing_table.errors import InvalidResultError, MalformedRequestError

Handler = Callable[[dict[str, Any], Any], Any]
RouteLabel = Callable[[dict[str, Any], Any], str]

ACCESS_LOG = logging.getLogger("edge_router.serve.access")
LOG = logging.getLogger("edge_router.serve")
CONNECT_TIMEOUT = 10.0  # CloudFront's default origin connection timeout
CHUNK = 64 * 1024
# Answers from an origin keep their headers, except the hop-by-hop ones that end at each hop.
_RESPONSE_DROP = events.HOP_BY_HOP | {"content-length"}
_S3_HEADERS = {
    "ContentType": "Content-Type",
    "ContentLength": "Content-Length",
    "ETag": "ETag",
    "CacheControl": "Cache-Control",
    "ContentEncoding": "Content-Encoding",
    "ContentDisposition": "Content-Disposition",
    "ContentLanguage": "Content-Language",
    "ContentRange": "Content-Range",
    "AcceptRanges": "Accept-Ranges",
    "Expires": "Expires",
}
_S3_CONDITIONS = {
    "range": "Range",
    "if-none-match": "IfNoneMatch",
    "if-match": "IfMatch",
    "if-modified-since": "IfModifiedSince",
    "if-unmodified-since": "IfUnmodifiedSince",
}
_S3_STATUS = {
    "NoSuchKey": 404,
    "NoSuchBucket": 404,
    "NotFound": 404,
    "404": 404,
    "304": 304,
    "NotModified": 304,
    "412": 412,
    "PreconditionFailed": 412,
    "InvalidRange": 416,
    "416": 416,
    "AccessDenied": 403,
    "403": 403,
}


@dataclass(frozen=True, slots=True)
class LocalContext:
    """The parts of a Lambda context object a handler (or Powertools) may read."""

    aws_request_id: str
    function_name: str = "edge-router-local"
    function_version: str = "1"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:edge-router-local:1"
    log_group_name: str = "/aws/lambda/us-east-1.edge-router-local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class Outcome:
    """What the access log says about one request."""

    status: int
    route: str = "-"
    origin: str = "-"
    note: str = ""


def no_route_label(event: dict[str, Any], result: Any) -> str:
    return "-"


class EdgeServer:
    """The aiohttp application around one handler. ``app()`` builds it; clients live with it.

    ``s3_client`` may be injected (an aioboto3 S3 client); by default one is made on startup
    from the standard AWS settings. ``route_label(event, result)`` names the matched route for
    the access log; it runs in the handler's thread right after the handler.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        route_label: RouteLabel = no_route_label,
        s3_client: Any = None,
    ) -> None:
        self._handler = handler
        self._route_label = route_label
        self._s3 = s3_client
        self._stack = AsyncExitStack()
        self._http: aiohttp.ClientSession | None = None
        # One worker: a Lambda execution environment runs one request at a time.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-handler")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self._startup)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _startup(self, app: web.Application) -> None:
        self._http = await self._stack.enter_async_context(
            aiohttp.ClientSession(
                auto_decompress=False,  # bodies pass through byte for byte
                connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=5),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
        )
        if self._s3 is None:
            self._s3 = await self._stack.enter_async_context(_s3_client())

    async def _cleanup(self, app: web.Application) -> None:
        await self._stack.aclose()
        self._worker.shutdown(wait=True, cancel_futures=True)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        outcome = Outcome(status=500)
        try:
            return await self._serve(request, outcome)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            host = request.headers.get("Host", "-")
            ACCESS_LOG.info(
                '%s "%s %s%s" route=%s origin=%s status=%d %.1fms%s',
                request.remote or "-",
                request.method,
                host,
                request.raw_path,
                outcome.route,
                outcome.origin,
                outcome.status,
                elapsed,
                f" ({outcome.note})" if outcome.note else "",
                # The same facts as data, for programs reading the log (the demo's summary).
                extra={
                    "edge": {
                        "host": host,
                        "path": request.raw_path,
                        "ms": elapsed,
                        **asdict(outcome),
                    }
                },
            )

    async def _serve(self, request: web.Request, outcome: Outcome) -> web.StreamResponse:
        try:
            viewer = events.parse_viewer_request(
                request.method,
                request.raw_path,
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers],
                request.remote or "127.0.0.1",
            )
        except MalformedRequestError as exc:
            return _error(outcome, 400, "Bad Request", str(exc))
        request_id = uuid.uuid4().hex
        event = events.build_event(viewer, request_id=request_id)
        decision = await self._run_handler(event, request_id, outcome)
        if isinstance(decision, web.StreamResponse):
            return decision
        outcome.origin = decision.origin_label
        action = decision.action
        if isinstance(action, Generated):
            outcome.status = action.status
            return web.Response(
                status=action.status,
                reason=action.reason or None,
                headers=CIMultiDict(action.headers),
                body=action.body,
            )
        if isinstance(action, S3Origin):
            return await self._from_s3(request, action, outcome)
        return await self._forward(request, action, request_id, outcome)

    async def _run_handler(
        self, event: dict[str, Any], request_id: str, outcome: Outcome
    ) -> Decision | web.StreamResponse:
        context = LocalContext(aws_request_id=request_id)
        loop = asyncio.get_running_loop()
        try:
            result, outcome.route = await loop.run_in_executor(
                self._worker, self._invoke, event, context
            )
        except Exception as exc:
            LOG.exception("edge handler raised (CloudFront answers 503)")
            return _error(outcome, 503, "Service Unavailable", f"the function raised: {exc}")
        try:
            return events.decide(event, result)
        except InvalidResultError as exc:
            return _error(outcome, 502, "Bad Gateway", f"invalid function result: {exc}")

    def _invoke(self, event: dict[str, Any], context: LocalContext) -> tuple[Any, str]:
        """Runs in the worker thread: the label is read before the next request can start."""
        result = self._handler(event, context)
        try:
            label = self._route_label(event, result)
        except Exception:  # a log label must never fail a request
            LOG.exception("route label failed")
            label = "?"
        return result, label

    async def _forward(
        self, request: web.Request, origin: CustomOrigin, request_id: str, outcome: Outcome
    ) -> web.StreamResponse:
        assert self._http is not None
        headers = CIMultiDict(
            (k, v) for k, v in origin.headers if k.lower() not in events.HOP_BY_HOP
        )
        headers["X-Amz-Cf-Id"] = request_id
        if "expect" in headers:
            del headers["expect"]  # answered by this server, not passed on
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=CONNECT_TIMEOUT, sock_read=origin.read_timeout
        )
        try:
            async with self._http.request(
                request.method,
                origin.url,
                headers=headers,
                data=request.content if request.body_exists else None,
                allow_redirects=False,
                timeout=timeout,
                compress=None,
            ) as upstream:
                return await self._relay(request, upstream, outcome)
        except TimeoutError as exc:
            return _error(outcome, 504, "Gateway Timeout", f"origin {origin.domain} timed out", exc)
        except aiohttp.ClientError as exc:
            return _error(outcome, 502, "Bad Gateway", f"origin {origin.domain} failed: {exc}")

    async def _relay(
        self, request: web.Request, upstream: aiohttp.ClientResponse, outcome: Outcome
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in _RESPONSE_DROP:
                response.headers.add(name, value)
        if upstream.content_length is not None and "chunked" not in upstream.headers.get(
            "Transfer-Encoding", ""
        ):
            response.content_length = upstream.content_length
        outcome.status = upstream.status
        await response.prepare(request)
        await _pump(
            request,
            response,
            upstream.content.iter_chunked(CHUNK),
            outcome,
            "origin body interrupted",
        )
        return response

    async def _from_s3(
        self, request: web.Request, origin: S3Origin, outcome: Outcome
    ) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return _error(outcome, 405, "Method Not Allowed", "S3 origins serve GET and HEAD")
        conditions = {
            param: value
            for name, value in origin.headers
            if (param := _S3_CONDITIONS.get(name.lower()))
        }
        if not origin.key:
            return _error(outcome, 404, "Not Found", "no object key (empty path)")
        params: dict[str, Any] = {"Bucket": origin.bucket, "Key": origin.key, **conditions}
        try:
            if request.method == "HEAD":
                answer = await self._s3.head_object(**params)
            else:
                answer = await self._s3.get_object(**params)
        except Exception as exc:
            status = s3_error_status(exc)
            if status is None:
                raise
            return _error(outcome, status, _REASONS.get(status, "Error"), _s3_message(exc))
        return await self._s3_response(request, answer, outcome)

    async def _s3_response(
        self, request: web.Request, answer: dict[str, Any], outcome: Outcome
    ) -> web.StreamResponse:
        status = 206 if answer.get("ContentRange") else 200
        response = web.StreamResponse(status=status)
        for field, header in _S3_HEADERS.items():
            if answer.get(field) is not None:
                response.headers[header] = str(answer[field])
        if answer.get("LastModified") is not None:
            response.last_modified = answer["LastModified"]
        if "ContentLength" in answer:
            response.content_length = int(answer["ContentLength"])
        outcome.status = status
        body = answer.get("Body")
        await response.prepare(request)
        if body is not None:
            # Enter the body only to release its connection on exit; read through the wrapper,
            # which checks the byte count against Content-Length.
            async with body:
                chunks = body.iter_chunks(CHUNK)
                await _pump(request, response, chunks, outcome, "S3 body interrupted")
        else:
            await response.write_eof()
        return response


async def _pump(
    request: web.Request,
    response: web.StreamResponse,
    chunks: Any,
    outcome: Outcome,
    note: str,
) -> None:
    """Copy chunks to the viewer. Headers are already out, so a failure mid-body can only cut
    the connection: the viewer then sees a short body, as behind CloudFront. The cut is made
    here, quietly, rather than by raising into aiohttp (which would log a traceback and try to
    append a 500 to a response already under way); the access log carries the note."""
    try:
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
        outcome.note = f"{note}: {type(exc).__name__}"
        if request.transport is not None:
            request.transport.close()


_REASONS = {
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    416: "Range Not Satisfiable",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _error(
    outcome: Outcome, status: int, reason: str, detail: str, exc: BaseException | None = None
) -> web.Response:
    """An error answer in CloudFront's manner: status and a short text body saying why."""
    outcome.status = status
    outcome.note = detail
    body = None if status == 304 else f"{status} {reason}: {detail}\n"
    return web.Response(status=status, reason=reason, text=body)


def s3_error_status(exc: BaseException) -> int | None:
    """The HTTP status S3 (and so CloudFront) answers for an S3 SDK error; None if not one.

    This is the one place the local server reads S3 errors: missing objects are 404, a failed
    condition 304/412, anything else from S3 or on the way to it 502.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return _S3_STATUS.get(code, 502)
    if isinstance(exc, BotoCoreError | aiohttp.ClientError):
        return 502
    return None


def _s3_message(exc: BaseException) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"S3 {err.get('Code', '?')}: {err.get('Message') or 'no message'}"
    return f"S3 unreachable: {exc}"


def _s3_client() -> Any:
    """An aioboto3 S3 client from the standard settings (endpoint, region, credentials)."""
    import aioboto3

    from routing_table.clients import ClientSettings, resolve_region

    settings = ClientSettings(connect_timeout=2.0, read_timeout=30.0, max_attempts=3)
    return aioboto3.Session().client(
        "s3", config=settings.botocore_config(), region_name=resolve_region()
    )


async def serve_forever(
    app: web.Application,
    *,
    host: str,
    port: int,
    on_ready: Callable[[str], Awaitable[None] | None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``app`` on host:port until ``stop`` is set (or the task is cancelled)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        if on_ready is not None:
            bound = runner.addresses[0]
            maybe = on_ready(f"http://{bound[0]}:{bound[1]}")
            if maybe is not None:
                await maybe
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()
