"""Fault injectors for the reliability tests: real sockets and botocore's own event hooks.

* ``FaultyProxy``: a TCP proxy on loopback in front of DynamoDB Local that can be switched, while
  clients hold keep-alive connections through it, between forwarding, swallowing every byte
  (DynamoDB "never answers": the client waits for its read timeout) and refusing connections.
* ``Blackhole``: a TCP endpoint that accepts connections and never says a word.
* botocore hooks that fail calls the way DynamoDB does, at the HTTP layer, so the SDK's own
  error parsing and retry logic run: error replies (throttling, 5xx, cancelled transactions), a
  reply lost after the write landed (the request really reaches the table, the client sees a
  read timeout), and partial batches (``UnprocessedItems`` / ``UnprocessedKeys``).
* ``BotocoreSleeps``: records botocore's retry pauses instead of sleeping them (an injected
  clock, not a wait).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError

API_VERSION_PREFIX = "com.amazonaws.dynamodb.v20120810#"

FORWARD, SWALLOW, REFUSE = "forward", "swallow", "refuse"


class OffsetClock:
    """Real monotonic time plus an offset the test moves forward: TTLs expire without waiting,
    while timeouts (which botocore measures on the real clock) keep their real length."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class _Server:
    """A listening socket on loopback with an accept loop on a daemon thread."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._held.append(conn)
            self.accepted(conn)

    def accepted(self, conn: socket.socket) -> None:
        """Called for each connection (the blackhole just keeps it)."""

    def hold(self, sock: socket.socket) -> None:
        with self._lock:
            self._held.append(sock)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()


class Blackhole(_Server):
    """Accepts TCP connections, reads nothing, answers nothing, until closed."""


class Trickle(_Server):
    """Reads a request, then answers one byte every ``interval`` seconds (a slow-loris reply):
    every read returns before a per-read timeout, so only a total deadline can stop it."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        super().__init__()

    def accepted(self, conn: socket.socket) -> None:
        threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nX-Pad: "
        try:
            conn.recv(65536)
            for byte in reply + b"a" * 100_000:
                if self._closed:
                    return
                conn.sendall(bytes([byte]))
                time.sleep(self._interval)
        except OSError:
            return


class FaultyProxy(_Server):
    """Forwards to ``upstream_port`` until told to ``swallow`` (drop every byte both ways, so
    in-flight and new requests hang) or ``refuse`` (reset new and existing connections)."""

    def __init__(self, upstream_port: int) -> None:
        self.mode = FORWARD
        self._upstream_port = upstream_port
        super().__init__()

    def accepted(self, conn: socket.socket) -> None:
        if self.mode == REFUSE:
            _reset(conn)
            return
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self._upstream_port), timeout=5)
        except OSError:
            _reset(conn)
            return
        upstream.settimeout(None)
        self.hold(upstream)
        threading.Thread(target=self._pump, args=(upstream, conn), daemon=True).start()
        self._pump(conn, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                for sock in (source, sink):
                    with contextlib.suppress(OSError):
                        sock.close()
                return
            if self.mode == REFUSE:
                _reset(source)
                _reset(sink)
                return
            if self.mode == SWALLOW:
                continue  # the bytes vanish: the other side waits for an answer forever
            try:
                sink.sendall(data)
            except OSError:
                return

    def set_mode(self, mode: str) -> None:
        self.mode = mode


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        # SO_LINGER 0: close with RST, as a crashed server's kernel would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()


@contextlib.contextmanager
def blackhole() -> Iterator[Blackhole]:
    server = Blackhole()
    try:
        yield server
    finally:
        server.close()


# -- botocore hooks ---------------------------------------------------------------------------


class _Raw:
    """The raw body stream botocore reads an ``AWSResponse`` from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def error_response(url: str, status: int, code: str, **extra: Any) -> AWSResponse:
    """An HTTP reply shaped like DynamoDB's JSON error for ``code``."""
    body = json.dumps({"__type": API_VERSION_PREFIX + code, "message": f"injected {code}", **extra})
    headers = HTTPHeaders()
    headers["x-amzn-RequestId"] = f"injected-{code}"
    headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse(url, status, headers, _Raw(body.encode()))


THROTTLED = (400, "ProvisionedThroughputExceededException")
INTERNAL = (500, "InternalServerError")
UNAVAILABLE = (503, "ServiceUnavailable")


def conflict_reasons(count: int) -> dict[str, Any]:
    """A TransactionCanceledException body: the first item conflicted, the rest were fine."""
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
    reasons += [{"Code": "None"}] * (count - 1)
    return {"CancellationReasons": reasons}


@dataclass
class FailFirst:
    """``before-send`` hook: answer the first ``times`` sends of an operation with an error
    (``times=None``: every send); counts every send it saw."""

    status: int
    code: str
    times: int | None = 1
    extra: dict[str, Any] = field(default_factory=dict)
    sends: int = 0
    failed: int = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        self.sends += 1
        if self.times is not None and self.failed >= self.times:
            return None
        self.failed += 1
        return error_response(request.url, self.status, self.code, **self.extra)


@dataclass
class LoseReply:
    """``before-send`` hook: the first ``times`` requests really reach the table, but their
    replies are "lost" (a read timeout, which botocore retries with the same request, so the
    same ClientRequestToken for a transaction)."""

    times: int = 1
    sends: int = 0
    lost: int = 0

    def __call__(self, request: Any, **_: Any) -> None:
        self.sends += 1
        if self.lost >= self.times:
            return
        self.lost += 1
        delivered = urllib.request.Request(
            request.url, data=request.body, headers=dict(request.headers), method=request.method
        )
        with urllib.request.urlopen(delivered, timeout=10) as reply:
            reply.read()
        raise ReadTimeoutError(endpoint_url=request.url)


@dataclass
class PartialBatch:
    """``before-parameter-build`` + ``after-call`` hooks: the table processes only the first
    ``keep`` entries of the first ``times`` batch calls and hands back the rest as unprocessed,
    exactly as DynamoDB does under throttling."""

    keep: int
    times: int | None = 1
    calls: int = 0
    withheld_total: int = 0

    def before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        if self.times is not None and self.calls > self.times:
            return
        for table, request in params["RequestItems"].items():
            if isinstance(request, list):  # BatchWriteItem: a list of write requests
                entries, kept = request, request[: self.keep]
                params["RequestItems"][table] = kept
                withheld: Any = entries[self.keep :]
                count = len(withheld)
            else:  # BatchGetItem: {"Keys": [...], ...}
                entries = request["Keys"]
                params["RequestItems"][table] = {**request, "Keys": entries[: self.keep]}
                withheld = {**request, "Keys": entries[self.keep :]}
                count = len(withheld["Keys"])
            if count:
                context.setdefault("withheld", {})[table] = withheld
                self.withheld_total += count

    def after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        withheld = context.pop("withheld", None)
        if not withheld:
            return
        name = "UnprocessedKeys" if "Responses" in parsed else "UnprocessedItems"
        parsed.setdefault(name, {}).update(withheld)

    def install(self, client: Any, operation: str) -> PartialBatch:
        client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", self.before)
        client.meta.events.register(f"after-call.dynamodb.{operation}", self.after)
        return self


class BotocoreSleeps:
    """Stands in for the ``time`` module inside ``botocore.endpoint``, whose only use of it is
    the pause before a retry: the pauses are recorded, not slept."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)


def sends_counter(client: Any, operation: str) -> Callable[[], int]:
    """Count the HTTP sends of one operation (retries included)."""
    count = [0]

    def seen(**_: Any) -> None:
        count[0] += 1

    client.meta.events.register(f"before-send.dynamodb.{operation}", seen)
    return lambda: count[0]
