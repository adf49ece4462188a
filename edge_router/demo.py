"""``python -m edge_router.demo`` (``make demo``): the whole routing path on local parts.

No AWS account, nothing to type: it starts DynamoDB Local and a moto S3 server (or uses the
endpoints ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL_S3`` name), creates the routing
table and a handle pool, and creates two environments of one app through the lifecycle library,
each with a dynamic service (a small local HTTP server standing in for the environment's ALB)
and a static site (uploaded to S3 and registered as a version). It then sends real HTTP
requests through ``edge-router serve`` (in-process, running the real edge handler) for every
route, deploys a second version of one site and shows the cutover, deletes the other environment
and shows its hostnames answering 404, prints a summary table, stops everything and exits 0 --
or exits 1 when any answer was not the expected one.

``--json`` prints the summary as JSON (what the tests read); ``--state-dir`` picks where
DynamoDB Local keeps the demo's data (default ``.state/demo``, wiped at the start of a run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from rich.console import Console
from rich.table import Table

from edge_router.local.embedded import (
    LocalComponents,
    default_state_dir,
    local_components,
    wait_until_gone,
)
from edge_router.local.run import LOCAL_CACHE_TTL, BackgroundLoop, BackgroundServe, ServeOptions
from routing_table.errors import EdgeRouterError

TABLE = "edge-router-demo"
APP = "shop"
DOMAIN = "preview.example.com"
POOL = "shop"
HANDLES = ["amber", "birch", "cedar"]
BUCKET = "edge-router-demo-sites"
ENVS = ("shop-main", "shop-pr-42")
# How long to wait for a table change to show at the edge: the route cache TTL plus its jitter,
# with room for a slow machine.
PROPAGATION_TIMEOUT = 10 * LOCAL_CACHE_TTL + 5


@dataclass
class Check:
    """One request of the demo and what came back."""

    step: str
    host: str
    path: str
    expected: int
    status: int = 0
    route: str = "-"
    origin: str = "-"
    body: str = ""
    ms: float = 0.0
    waited: float | None = None  # seconds until a table change showed at the edge
    content_ok: bool = True  # the body held what this step looks for

    @property
    def ok(self) -> bool:
        return self.status == self.expected and self.content_ok


@dataclass
class Demo:
    console: Console
    url: str = ""
    upstreams: dict[str, int] = field(default_factory=dict)  # env id -> port of its "ALB"
    hostnames: dict[str, dict[str, str]] = field(default_factory=dict)  # env -> service -> host
    checks: list[Check] = field(default_factory=list)
    access: list[dict[str, Any]] = field(default_factory=list)
    leftover: list[int] = field(default_factory=list)  # pids of local parts still running


# -- the stand-in ALBs ---------------------------------------------------------------------------


def upstream_app(env_id: str) -> web.Application:
    """A dynamic service: answers every path with what it saw, so routing is visible."""

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(
            {"env": env_id, "service": "api", "path": request.path_qs, "host": request.host}
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


async def start_upstream(env_id: str) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(upstream_app(env_id), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port: int = runner.addresses[0][1]
    return runner, port


# -- static site versions ------------------------------------------------------------------------


def write_site(root: Path, env_id: str, version: str) -> dict[str, Path]:
    """A tiny site: an index, a hashed bundle (different per version), an about page."""
    bundle = f"app.{hashlib.sha256(f'{env_id}/{version}'.encode()).hexdigest()[:8]}.js"
    files = {
        "index.html": f"<h1>{env_id} web {version}</h1><script src='/{bundle}'></script>",
        bundle: f"console.log('{env_id} {version}')",
        "about/index.html": f"<p>about {env_id} ({version})</p>",
    }
    folder = root / env_id / version
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    from routing_table.lifecycle import static as assets

    return assets.list_directory(folder)


def deploy_site(envs: Any, env_id: str, version: str, site_root: Path) -> Any:
    """Upload a version to S3 and switch the environment's ``web`` service to it atomically."""
    from routing_table.lifecycle import static as assets

    source = f"s3://{BUCKET}/{env_id}/{version}"
    files = write_site(site_root, env_id, version)
    assets.upload_directory(assets.s3_client(), files, assets.parse_source(source))
    return envs.deploy(env_id, "web", version, list(files), source=source)


# -- HTTP through serve --------------------------------------------------------------------------


def fetch(demo: Demo, host: str, path: str) -> tuple[int, str, dict[str, Any]]:
    """GET through serve; returns status, body text and serve's access-log facts."""
    request = urllib.request.Request(demo.url + path, headers={"Host": host})
    before = len(demo.access)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            status, body = reply.status, reply.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        with err:
            status, body = err.code, err.read().decode(errors="replace")
    return status, body, access_facts(demo, before, host, path)


def access_facts(demo: Demo, since: int, host: str, path: str) -> dict[str, Any]:
    """serve's log facts for this request. The line is written once the body is sent, so it
    can land a moment after the client has the whole answer: wait for it briefly."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        for facts in demo.access[since:]:
            if facts.get("host") == host and facts.get("path") == path:
                return facts
        time.sleep(0.005)
    return {}


def check(
    demo: Demo, step: str, host: str, path: str, expected: int, *, contains: str = ""
) -> Check:
    status, body, facts = fetch(demo, host, path)
    result = record(demo, step, host, path, expected, status=status, body=body, facts=facts)
    result.content_ok = contains in body
    return result


def wait_for(
    demo: Demo, step: str, host: str, path: str, expected: int, *, contains: str = ""
) -> Check:
    """Poll until the edge shows a table change (its route cache expires within the TTL)."""
    started = time.monotonic()
    while True:
        status, body, facts = fetch(demo, host, path)
        shown = status == expected and contains in body
        if shown or time.monotonic() - started > PROPAGATION_TIMEOUT:
            result = record(demo, step, host, path, expected, status=status, body=body, facts=facts)
            result.waited = time.monotonic() - started
            result.content_ok = contains in body
            return result
        time.sleep(0.2)


def record(
    demo: Demo,
    step: str,
    host: str,
    path: str,
    expected: int,
    *,
    status: int,
    body: str,
    facts: dict[str, Any],
) -> Check:
    result = Check(
        step=step,
        host=host,
        path=path,
        expected=expected,
        status=status,
        route=str(facts.get("route", "-")),
        origin=str(facts.get("origin", "-")),
        body=" ".join(body.split())[:60],
        ms=float(facts.get("ms", 0.0)),
    )
    demo.checks.append(result)
    return result


class AccessLogTap(logging.Handler):
    """Collects serve's access-log facts (route, origin, ms) for the summary table."""

    def __init__(self, sink: list[dict[str, Any]]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        facts = getattr(record, "edge", None)
        if isinstance(facts, dict):
            self.sink.append(facts)


# -- the scenario --------------------------------------------------------------------------------


def scenario(demo: Demo, table: str, site_root: Path) -> None:
    from hostnames.pool_sync import HandlePool
    from routing_table.lifecycle import static as assets
    from routing_table.lifecycle.sync import Environments

    say = demo.console.print
    pool = HandlePool(table)
    pool.add(POOL, HANDLES)
    say(f"handle pool [bold]{POOL}[/bold]: {', '.join(HANDLES)}")
    assets.s3_client().create_bucket(Bucket=BUCKET)
    envs = Environments(table, cache_ttl=LOCAL_CACHE_TTL)
    for env_id in ENVS:
        services = {
            "api": f"http://localhost:{demo.upstreams[env_id]}",
            "web": f"s3://{BUCKET}/{env_id}?region=us-east-1",
        }
        created = envs.create(
            env_id, app=APP, domain=DOMAIN, services=services, pool=POOL, branch=env_id[5:]
        )
        demo.hostnames[env_id] = dict(created.hostnames)
        deployed = deploy_site(envs, env_id, "v1", site_root)
        say(
            f"environment [bold]{env_id}[/bold] (handle {created.handle}): "
            + ", ".join(f"{s} -> {h}" for s, h in created.hostnames.items())
            + f"; web serves {deployed.version} ({deployed.assets} assets)"
        )

    for env_id in ENVS:
        api, web_host = demo.hostnames[env_id]["api"], demo.hostnames[env_id]["web"]
        check(demo, "dynamic service", api, "/api/orders?page=2", 200, contains=f'"{env_id}"')
        check(demo, "static site", web_host, "/", 200, contains=f"{env_id} web v1")
        check(demo, "static site", web_host, "/about/", 200, contains="about")
        check(demo, "static: no such asset", web_host, "/missing.css", 404)
    check(demo, "unknown host", f"nobody-zz-{APP}.{DOMAIN}", "/", 404)

    main_web = demo.hostnames[ENVS[0]]["web"]
    result = deploy_site(envs, ENVS[0], "v2", site_root)
    say(f"cutover: {ENVS[0]} web {result.previous} -> {result.version} (one atomic write)")
    wait_for(demo, "after cutover", main_web, "/", 200, contains=f"{ENVS[0]} web v2")

    gone = ENVS[1]
    deleted = envs.delete(gone)
    say(
        f"deleted {gone}: {deleted.routes_removed} routes, {deleted.assets_removed} asset "
        "entries; its handle went back to the pool"
    )
    for service in ("api", "web"):
        wait_for(demo, "after deletion", demo.hostnames[gone][service], "/", 404)
    check(demo, "other env unaffected", demo.hostnames[ENVS[0]]["api"], "/api/health", 200)


# -- running it ----------------------------------------------------------------------------------


@contextmanager
def running_parts(demo: Demo, components: LocalComponents, state_dir: Path) -> Iterator[None]:
    """Upstreams and serve on one background loop; all stopped (in order) on exit."""
    with ExitStack() as stack:
        loop = BackgroundLoop("demo-loop")
        stack.callback(loop.close)
        for env_id in ENVS:
            runner, port = loop.run(start_upstream(env_id))
            stack.callback(loop.run, runner.cleanup())
            demo.upstreams[env_id] = port
        options = ServeOptions(table=TABLE, port=0, state_dir=state_dir, create_table=True)
        serve = BackgroundServe(loop, options, components)
        demo.url = serve.start()
        stack.callback(serve.stop)
        yield


def _short(text: str) -> str:
    return text.replace("." + DOMAIN, "")


def summary(demo: Demo) -> Table:
    table = Table(title=f"requests through edge-router serve (hosts under .{DOMAIN})")
    table.add_column("step")
    table.add_column("request", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("matched route (owner) -> origin")
    table.add_column("body", max_width=34, no_wrap=True)
    table.add_column("ms", justify="right")
    for c in demo.checks:
        mark = "[green]✓[/green]" if c.ok else f"[red]✗ expected {c.expected}[/red]"
        if c.status == c.expected and not c.content_ok:
            mark = "[red]✗ wrong body[/red]"
        waited = f" (shown after {c.waited:.1f} s)" if c.waited is not None else ""
        table.add_row(
            c.step + waited,
            _short(c.host) + c.path,
            f"{c.status} {mark}",
            f"{_short(c.route)} -> {c.origin}",
            c.body,
            f"{c.ms:.1f}",
        )
    return table


def run(*, state_dir: Path | None = None, console: Console | None = None) -> Demo:
    # Wide enough for the table when output is not a terminal (make, CI logs).
    demo = Demo(console=console or Console(width=None if sys.stdout.isatty() else 160))
    folder = state_dir or default_state_dir() / "demo"
    shutil.rmtree(folder / "dynamodb", ignore_errors=True)  # every run starts from nothing
    tap = AccessLogTap(demo.access)
    access_log = logging.getLogger("edge_router.serve.access")
    access_log.addHandler(tap)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False  # the summary table says it all; keep the terminal readable
    started = time.monotonic()
    try:
        with (
            local_components(state_dir=folder) as components,
            tempfile.TemporaryDirectory(prefix="edge-router-demo-") as site_root,
            running_parts(demo, components, folder),
        ):
            scenario(demo, TABLE, Path(site_root))
    finally:
        access_log.removeHandler(tap)
        access_log.propagate = True
    demo.console.print(summary(demo))
    failed = [c for c in demo.checks if not c.ok]
    left = wait_until_gone(str(folder))
    demo.leftover = left
    stopped = "every local component stopped" if not left else f"STILL RUNNING: pids {left}"
    demo.console.print(
        f"{len(demo.checks) - len(failed)}/{len(demo.checks)} answers as expected in "
        f"{time.monotonic() - started:.1f} s; {stopped}"
    )
    return demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_router.demo", description=__doc__)
    parser.add_argument("--state-dir", type=Path, help="DynamoDB Local data (default .state/demo)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON on stdout")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    console = Console(stderr=True) if args.json else None
    try:
        demo = run(state_dir=args.state_dir, console=console)
    except EdgeRouterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([asdict(c) | {"ok": c.ok} for c in demo.checks], indent=2))
    return 0 if all(c.ok for c in demo.checks) and not demo.leftover else 1


if __name__ == "__main__":
    raise SystemExit(main())
