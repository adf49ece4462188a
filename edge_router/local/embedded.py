"""Local stand-ins started on demand: DynamoDB Local and an S3 emulator, for serve and the demo.

The standard AWS settings decide: when ``AWS_ENDPOINT_URL_DYNAMODB`` (or ``AWS_ENDPOINT_URL``) is
set, that endpoint is used and nothing is started; otherwise a project-managed DynamoDB Local is
started with its data under the state folder. The same goes for S3 with ``AWS_ENDPOINT_URL_S3``
and a moto server (in memory: moto has no on-disk store). Whatever was started is stopped on exit
and the environment variables set for it are restored, so no process and no setting outlives the
``with`` block.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from routing_table.errors import StateDirBusyError
from routing_table.local.dynamodb_local import DynamoDBLocal, free_port

ENDPOINT_DYNAMODB = "AWS_ENDPOINT_URL_DYNAMODB"
ENDPOINT_S3 = "AWS_ENDPOINT_URL_S3"
ENDPOINT_ANY = "AWS_ENDPOINT_URL"
_CHECKOUT = Path(__file__).resolve().parents[2]
LOCAL_REGION = "us-east-1"
# Local emulators accept any credentials; these are set only when none can be found at all.
_LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass
class LocalComponents:
    """Endpoints in use, and which of them this process started."""

    dynamodb_endpoint: str | None
    s3_endpoint: str | None
    started: list[str] = field(default_factory=list)
    dynamodb_local: DynamoDBLocal | None = None

    def describe(self) -> str:
        ddb = self.dynamodb_endpoint or "AWS (default endpoint)"
        s3 = self.s3_endpoint or "AWS (default endpoint)"
        own = f"; started here: {', '.join(self.started)}" if self.started else ""
        return f"DynamoDB {ddb}, S3 {s3}{own}"


def default_state_dir() -> Path:
    """``.state/`` in a source checkout (``make clean`` removes it), else the user state folder."""
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT / ".state"
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "edge-router"


def configured_endpoint(service_variable: str) -> str | None:
    """The endpoint the SDK will use for a service, from the standard settings (None: AWS)."""
    return os.environ.get(service_variable) or os.environ.get(ENDPOINT_ANY) or None


@contextmanager
def local_components(
    *, state_dir: Path | None = None, install: bool = True
) -> Iterator[LocalComponents]:
    """Use the configured endpoints, starting DynamoDB Local and moto S3 for those that are not.

    ``install`` lets DynamoDB Local be installed with npm into the user cache when missing.
    """
    components = LocalComponents(
        dynamodb_endpoint=configured_endpoint(ENDPOINT_DYNAMODB),
        s3_endpoint=configured_endpoint(ENDPOINT_S3),
    )
    with ExitStack() as stack:
        stack.enter_context(_restored_environment())
        if components.dynamodb_endpoint is None:
            folder = state_dir or default_state_dir()
            stack.enter_context(_state_lock(folder))
            # start() stops the JVM itself if it is interrupted while booting.
            ddb = stack.enter_context(DynamoDBLocal(db_path=folder / "dynamodb", install=install))
            components.dynamodb_local = ddb
            components.dynamodb_endpoint = ddb.endpoint_url
            components.started.append(f"DynamoDB Local ({folder / 'dynamodb'})")
            os.environ[ENDPOINT_DYNAMODB] = ddb.endpoint_url
        if components.s3_endpoint is None:
            components.s3_endpoint = stack.enter_context(_moto_s3())
            components.started.append("moto S3 (in memory)")
            os.environ[ENDPOINT_S3] = components.s3_endpoint
        if components.started:
            _default_local_settings()
        yield components


@contextmanager
def _moto_s3() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    # The emulator's own request log (werkzeug, INFO) would drown serve's access log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def _restored_environment() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _state_lock(folder: Path) -> Iterator[None]:
    """One owner per state folder: two DynamoDB Locals on one SQLite file corrupt each other."""
    folder.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = (folder / "lock").open("w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise StateDirBusyError(
                f"state folder {folder} is in use by another edge-router process; stop it or "
                "pass another --state-dir"
            ) from exc
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def _default_local_settings() -> None:
    """Emulators need a region and some credentials; keep the user's own when they have them."""
    import boto3

    session = boto3.Session()
    if session.region_name is None and not os.environ.get("AWS_REGION"):
        # boto3 reads AWS_DEFAULT_REGION, Lambda-style code AWS_REGION: set both.
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = LOCAL_REGION
    if session.get_credentials() is None:
        os.environ.update(_LOCAL_CREDENTIALS)


def processes_mentioning(text: str) -> list[int]:
    """Pids of other processes whose command line contains ``text`` (e.g. a state folder).

    How serve, the demo and the tests prove that nothing they started outlived them. Empty
    where there is no ``/proc`` (macOS): there the check cannot be made, not failed.
    """
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    me = str(os.getpid())  # our own command line may name the folder (--state-dir)
    for entry in proc.iterdir():
        if not entry.name.isdigit() or entry.name == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while we looked
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def wait_until_gone(text: str, timeout: float = 20.0) -> list[int]:
    """Wait for processes mentioning ``text`` to end; returns those still running."""
    deadline = time.monotonic() + timeout
    while (left := processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left
