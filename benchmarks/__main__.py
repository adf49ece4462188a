"""Run every benchmark suite and rewrite the results block of benchmarks/README.md.

``python -m benchmarks`` runs all suites; ``python -m benchmarks core handler`` runs some;
``--quick`` shrinks sizes for a smoke run (used by the tests, and then nothing is written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import re
import sys

from benchmarks.harness import (
    BENCH_DIR,
    TABLE_HEADER_LINES,
    BenchContext,
    Measurement,
    machine_description,
    render_table,
)

# One entry per suite module benchmarks/suite_<name>.py, in report order.
SUITES: list[str] = ["core", "handler", "lookup", "scale", "handles", "lifecycle", "serve", "soak"]

BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


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
    table = render_table(rows)
    print(table)
    if not args.quick:
        write_readme(table, ran=chosen)
        from benchmarks.plots import write_plots

        for path in write_plots(rows, BENCH_DIR / "plots"):
            print(f"plot: {path.relative_to(BENCH_DIR.parent)}", file=sys.stderr)
    return 0


def write_readme(table: str, *, ran: list[str]) -> None:
    """Rewrite the results block; rows of suites not run this time are kept as they were."""
    path = BENCH_DIR / "README.md"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    kept = [row for row in _previous_rows(text) if _suite_of(row) not in ran]
    new_rows = table.splitlines()
    header, fresh = new_rows[:TABLE_HEADER_LINES], new_rows[TABLE_HEADER_LINES:]
    merged = sorted(kept + fresh, key=lambda row: _order(_suite_of(row)))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    scope = "all suites" if set(ran) >= set(SUITES) else f"suites {', '.join(ran)} (others kept)"
    body = "\n".join(header + merged)
    block = f"{BEGIN}\nLast run {stamp} on {machine_description()}: {scope}.\n\n{body}\n{END}"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def _previous_rows(text: str) -> list[str]:
    match = re.search(re.escape(BEGIN) + "(.*?)" + re.escape(END), text, flags=re.S)
    if not match:
        return []
    rows = [line for line in match.group(1).splitlines() if line.startswith("| ")]
    return rows[1:]  # drop the header row (the separator row does not start with "| ")


def _suite_of(row: str) -> str:
    return row.split("|")[1].strip()


def _order(suite: str) -> int:
    return SUITES.index(suite) if suite in SUITES else len(SUITES)


if __name__ == "__main__":
    raise SystemExit(main())
