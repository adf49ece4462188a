"""Run every benchmark suite and rewrite the results block of benchmarks/README.md.

``python -m benchmarks`` runs all suites; ``python -m benchmarks core handler`` runs some;
``--quick`` shrinks sizes for a smoke run (used by the tests, and then nothing is written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import re
import sys
from dataclasses import asdict

from benchmarks.harness import (
    BENCH_DIR,
    BenchContext,
    Measurement,
    machine_description,
    render_table,
)

# One entry per suite module benchmarks/suite_<name>.py, in report order.
SUITES: list[str] = ["core", "handler", "lookup", "scale", "handles", "lifecycle", "serve", "soak"]

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"
RESULTS = BENCH_DIR / "results.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("suites", nargs="*", help=f"suites to run (default: all of {SUITES})")
    parser.add_argument("--quick", action="store_true", help="small sizes; do not write README")
    args = parser.parse_args(argv)
    chosen = args.suites or SUITES
    unknown = sorted(set(chosen) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}")
    ctx = BenchContext(quick=args.quick)
    rows: list[Measurement] = []
    try:
        for name in chosen:
            print(f"== {name}", file=sys.stderr)
            module = importlib.import_module(f"benchmarks.suite_{name}")
            suite_rows: list[Measurement] = module.run(ctx)
            for row in suite_rows:
                print(f"   {row.case}: {row.value:.4g} {row.unit}", file=sys.stderr)
            rows.extend(suite_rows)
    finally:
        ctx.close()
    if args.quick:
        print(render_table(rows))
        return 0
    merged = merge_results(load_results(), rows, ran=chosen)
    save_results(merged)
    table = render_table(merged)
    print(table)
    write_readme(table, ran=chosen)
    from benchmarks.plots import write_plots

    for path in write_plots(merged, BENCH_DIR / "plots"):
        print(f"plot: {path.relative_to(BENCH_DIR.parent)}", file=sys.stderr)
    return 0


def load_results() -> list[Measurement]:
    """The figures of earlier runs (``results.json``), the source of the table and the plots."""
    if not RESULTS.exists():
        return []
    return [Measurement(**row) for row in json.loads(RESULTS.read_text())]


def save_results(rows: list[Measurement]) -> None:
    RESULTS.write_text(json.dumps([asdict(row) for row in rows], indent=1) + "\n")


def merge_results(
    previous: list[Measurement], fresh: list[Measurement], *, ran: list[str]
) -> list[Measurement]:
    """This run's rows, plus earlier rows of the suites it did not run, in report order."""
    kept = [row for row in previous if row.suite not in ran]
    return sorted(kept + fresh, key=lambda row: _order(row.suite))


def write_readme(table: str, *, ran: list[str]) -> None:
    """Rewrite the results block with the merged table."""
    path = BENCH_DIR / "README.md"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    scope = "all suites" if set(ran) >= set(SUITES) else f"suites {', '.join(ran)} (others kept)"
    block = f"{BEGIN}\nLast run {stamp} on {machine_description()}: {scope}.\n\n{table}\n{END}"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def _order(suite: str) -> int:
    return SUITES.index(suite) if suite in SUITES else len(SUITES)


if __name__ == "__main__":
    raise SystemExit(main())
