"""``edge-router handles``: named, account-wide handle pools.

Writes go to the table's primary region (``--writer-region``) because allocation and release
are conditional writes, and on a global table a condition is only checked by the replica that
receives the write.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hostnames.handles import numbered_handles
from hostnames.pool_plan import HandleRow
from hostnames.pool_sync import HandlePool
from routing_table.cli.common import JsonOption, TableOption, examples, fail, print_json

app = typer.Typer(
    help="Handle pools: predictable hostnames from a list of names (team1, team2...).",
    no_args_is_help=True,
)

PoolOption = Annotated[str, typer.Option("--pool", help="Pool name, e.g. oauth or teams.")]
WriterRegionOption = Annotated[
    str | None,
    typer.Option(
        "--writer-region",
        help="Primary region of a global table (default: the standard AWS region setting). "
        "Conditional writes must all go to one region.",
    ),
]
NamesArgument = Annotated[list[str] | None, typer.Argument(help="Handle names.")]


def _pool(table: str, writer_region: str | None) -> HandlePool:
    return HandlePool(table, writer_region=writer_region)


@app.command(
    "add",
    epilog=examples(
        "edge-router handles add --pool oauth --table preview-routes amber birch cedar",
        "edge-router handles add --pool teams --prefix team --count 20 --table preview-routes",
    ),
)
def add(
    *,
    pool: PoolOption,
    table: TableOption,
    names: NamesArgument = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Make numbered handles: PREFIX1..PREFIXn.")
    ] = None,
    count: Annotated[int | None, typer.Option("--count", help="How many numbered handles.")] = None,
    start: Annotated[int, typer.Option("--start", help="First number.")] = 1,
    writer_region: WriterRegionOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add handles to a pool (free). Handles already in the pool are left as they are."""
    wanted = list(names or [])
    if (prefix is None) != (count is None):
        fail("--prefix and --count go together", code=2)
    if prefix is not None and count is not None:
        wanted += numbered_handles(prefix, count, start=start)
    if not wanted:
        fail("name some handles, or use --prefix NAME --count N", code=2)
    result = _pool(table, writer_region).add(pool, wanted)
    if json_out:
        print_json({"pool": pool, "added": list(result.added), "existing": list(result.existing)})
        return
    typer.echo(f"added {len(result.added)} handle(s) to pool {pool!r}")
    if result.existing:
        typer.echo(f"already in the pool: {', '.join(result.existing)}")


@app.command(
    "list",
    epilog=examples(
        "edge-router handles list --pool oauth --table preview-routes",
        "edge-router handles list --pool oauth --table preview-routes --json",
    ),
)
def list_(
    pool: PoolOption,
    table: TableOption,
    json_out: JsonOption = False,
    writer_region: WriterRegionOption = None,
) -> None:
    """List a pool's handles: who holds each (or nobody) and since when."""
    rows = _pool(table, writer_region).list_handles(pool)
    if json_out:
        print_json([row.as_json() for row in rows])
        return
    if not rows:
        typer.echo(f"pool {pool!r} has no handles")
        return
    for line in _table(rows):
        typer.echo(line)


def _table(rows: list[HandleRow]) -> list[str]:
    cells = [("HANDLE", "ENV", "STATE", "SINCE")] + [
        (r.handle, r.env_id or "-", r.state, r.since or "-") for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    return [
        f"{c[0]:<{widths[0]}}  {c[1]:<{widths[1]}}  {c[2]:<{widths[2]}}  {c[3]}".rstrip()
        for c in cells
    ]


@app.command(
    "remove",
    epilog=examples(
        "edge-router handles remove --pool oauth --table preview-routes cedar",
    ),
)
def remove(
    pool: PoolOption,
    table: TableOption,
    names: Annotated[list[str], typer.Argument(help="Handle names.")],
    writer_region: WriterRegionOption = None,
    json_out: JsonOption = False,
) -> None:
    """Remove free handles from a pool. Held handles are refused and left untouched."""
    result = _pool(table, writer_region).remove(pool, names)
    if json_out:
        print_json(
            {
                "pool": pool,
                "removed": list(result.removed),
                "held": dict(result.held),
                "missing": list(result.missing),
            }
        )
    elif result.removed:
        typer.echo(f"removed {len(result.removed)} handle(s): {', '.join(result.removed)}")
    problems = [f"{h!r} is held by environment {env!r}" for h, env in result.held.items()]
    problems += [f"{h!r} is not in the pool" for h in result.missing]
    if problems:
        fail(f"not removed from pool {pool!r}: " + "; ".join(problems))


@app.command(
    "configure",
    epilog=examples(
        "edge-router handles configure --pool oauth --cooldown 3600 --table preview-routes",
        "edge-router handles configure --pool teams --fallback-random --table preview-routes",
    ),
)
def configure(
    *,
    pool: PoolOption,
    table: TableOption,
    cooldown: Annotated[
        int | None,
        typer.Option(
            "--cooldown",
            min=0,
            help="Seconds a released handle stays out of circulation (its previous "
            "environment's cookies and service workers live on that origin).",
        ),
    ] = None,
    fallback_random: Annotated[
        bool | None,
        typer.Option(
            "--fallback-random/--no-fallback-random",
            help="When the pool is exhausted, give a random handle instead of failing.",
        ),
    ] = None,
    writer_region: WriterRegionOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set a pool's cooldown and exhaustion behaviour (unset options keep their value)."""
    settings = _pool(table, writer_region).configure(
        pool, cooldown_seconds=cooldown, fallback_random=fallback_random
    )
    if json_out:
        print_json(
            {
                "pool": pool,
                "cooldown_seconds": settings.cooldown_seconds,
                "fallback_random": settings.fallback_random,
            }
        )
        return
    typer.echo(
        f"pool {pool!r}: cooldown {settings.cooldown_seconds}s, "
        f"fallback to random handles {'on' if settings.fallback_random else 'off'}"
    )


@app.command(
    "allocate",
    epilog=examples(
        "edge-router handles allocate --pool oauth --env shop-pr-42 --table preview-routes",
        "edge-router handles allocate --pool oauth --env shop-pr-42 --handle amber --json --table "
        "preview-routes",
    ),
)
def allocate(
    *,
    pool: PoolOption,
    table: TableOption,
    env: Annotated[str, typer.Option("--env", help="Environment id.")],
    handle: Annotated[
        str | None, typer.Option("--handle", help="Ask for this handle of the pool.")
    ] = None,
    json_out: JsonOption = False,
    writer_region: WriterRegionOption = None,
) -> None:
    """Give an environment a handle of the pool (the one it holds, if any); exit 1 if exhausted."""
    got = _pool(table, writer_region).allocate(pool, env, handle=handle)
    if json_out:
        print_json(
            {"handle": got.handle, "env_id": got.env_id, "pool": got.pool, "source": got.source}
        )
        return
    typer.echo(got.handle)


@app.command(
    "release",
    epilog=examples(
        "edge-router handles release --pool oauth --env shop-pr-42 --table preview-routes",
    ),
)
def release(
    pool: PoolOption,
    table: TableOption,
    env: Annotated[str, typer.Option("--env", help="Environment id.")],
    writer_region: WriterRegionOption = None,
    json_out: JsonOption = False,
) -> None:
    """Return an environment's handle to the pool, once the environment owns no routes."""
    handles = _pool(table, writer_region)
    remaining = handles.owned_route_count(env)
    if remaining:
        fail(
            f"environment {env!r} still owns {remaining} route entries; delete the environment "
            "(or its routes) first so the next holder of the handle gets a clean origin"
        )
    # The owner index just showed no routes; nothing else must be proved absent.
    result = handles.release(pool, env, require_absent=())
    if json_out:
        print_json(
            {"pool": pool, "env_id": env, "handle": result.handle, "released": result.released}
        )
        return
    if result.released:
        typer.echo(f"released {result.handle!r} to pool {pool!r}")
    else:
        typer.echo(f"environment {env!r} holds no handle in pool {pool!r}; nothing to do")
