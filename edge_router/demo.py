"""``python -m edge_router.demo`` (``make demo``): the routing table end to end on local parts.

Starts AWS's DynamoDB Local in memory, creates a routing table, imports sample routes through
the store, and prints which route serves a few URLs and why, then stops everything and exits 0.

Each stage is a function taking a ``Demo`` context, listed in ``STAGES``: later stages (local
edge server, S3 emulator, upstream) are added there without touching the others.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from routing_table.cli.route import explain
from routing_table.clients import ClientSettings, dynamodb_client
from routing_table.errors import EdgeRouterError
from routing_table.local.dynamodb_local import DynamoDBLocal
from routing_table.models import Route
from routing_table.schema import create_table
from routing_table.store.sync import RouteStore

TABLE = "edge-router-demo"

# (host, path prefix, target, owner, strip prefix). Targets carry their region so the demo
# needs no S3 or ELBv2 to resolve them.
SAMPLE_ROUTES: list[tuple[str, str, str, str, bool]] = [
    ("app.example.com", "/", "https://web.internal.example.net", "manual:demo", False),
    ("app.example.com", "/api", "https://api.internal.example.net:8443", "manual:demo", True),
    ("*.preview.example.com", "/", "s3://previews/main?region=us-east-1", "manual:demo", False),
    ("pr-7.preview.example.com", "/", "https://pr-7.k8s.example.net", "env-pr-7", False),
    ("pr-7.preview.example.com", "/docs", "s3://previews/pr-7?region=us-east-1", "env-pr-7", True),
]

SAMPLE_URLS: list[str] = [
    "https://app.example.com/",
    "https://app.example.com/api/v1/users?page=2",
    "https://app.example.com/apiary",
    "https://pr-7.preview.example.com/docs/guide/index.html",
    "https://pr-7.preview.example.com/checkout",
    "https://pr-9.preview.example.com/assets/app.js",
    "https://unknown.example.org/",
]

# Everything is on loopback: answer fast or fail fast.
LOCAL_SETTINGS = ClientSettings(connect_timeout=1.0, read_timeout=5.0, max_attempts=3)


@dataclass
class Demo:
    console: Console
    table: str = TABLE
    store: RouteStore | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def need_store(self) -> RouteStore:
        if self.store is None:
            raise RuntimeError("the table stage must run before this one")
        return self.store


@contextmanager
def local_aws() -> Iterator[DynamoDBLocal]:
    """DynamoDB Local in memory, with this process's AWS settings pointed at it."""
    # DynamoDB Local accepts any credentials; set placeholders only where none are configured.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    with DynamoDBLocal() as ddb:
        previous = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = ddb.endpoint_url
        try:
            yield ddb
        finally:
            if previous is None:
                os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
            else:
                os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = previous


def stage_table(demo: Demo) -> None:
    client = dynamodb_client(settings=LOCAL_SETTINGS)
    info = create_table(client, demo.table, poll_interval=0.2)
    demo.store = RouteStore(demo.table, client=client)
    demo.console.print(f"table [bold]{info.name}[/bold]: {info.status}")


def stage_routes(demo: Demo) -> None:
    records = [
        Route.parse(host=h, prefix=p, target=t, owner=o, strip_prefix=s).to_record()
        for h, p, t, o, s in SAMPLE_ROUTES
    ]
    report = demo.need_store().import_routes(records)
    listing = Table("host", "prefix", "target", "owner", "strip", title="routes imported")
    for record in records:
        listing.add_row(
            record.host,
            record.prefix,
            record.target,
            record.owner,
            "yes" if record.strip_prefix else "",
        )
    demo.console.print(listing)
    if report.refused:
        raise RuntimeError(f"sample routes refused: {report.refused}")


def stage_lookups(demo: Demo) -> None:
    from routing_table.cli.route import split_url

    store = demo.need_store()
    results = Table("request", "matched route", "how", "forwarded to", title="route lookup")
    for url in SAMPLE_URLS:
        host, path = split_url(url)
        data = explain(store.lookup(host, path))
        demo.results.append({"url": url, **data})
        request = url.split("://", 1)[1]
        if data["matched"] is None:
            results.add_row(request, "-", "no candidate exists", "404 from the edge")
            continue
        winner = next(c for c in data["candidates"] if c["winner"])
        how = "wildcard host" if winner["wildcard"] else "exact host"
        tried = f"{how}, candidate {data['candidates'].index(winner) + 1}/{len(data['candidates'])}"
        forward = data["forward"]
        results.add_row(
            request,
            f"{winner['host']}{winner['prefix']}",
            tried,
            f"{forward['origin']}{forward['origin_path']}{forward['uri']}",
        )
    demo.console.print(results)


STAGES: list[Callable[[Demo], None]] = [stage_table, stage_routes, stage_lookups]


def run(console: Console | None = None) -> Demo:
    # Wide enough for the tables when output is not a terminal (make, CI logs).
    demo = Demo(console=console or Console(width=None if sys.stdout.isatty() else 150))
    with local_aws() as ddb:
        demo.console.print(f"DynamoDB Local on {ddb.endpoint_url} (in memory)")
        for stage in STAGES:
            stage(demo)
    demo.console.print("stopped DynamoDB Local; demo done")
    return demo


def main() -> int:
    try:
        run()
    except EdgeRouterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
