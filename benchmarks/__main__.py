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
    BenchContext,
    Measurement,
    machine_description,
    render_table,
)

# One entry per suite module benchmarks/suite_<name>.py, in report order.
SUITES: list[str] = ["handles", "core", "handler", "lookup", "lifecycle", "serve"]

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
        write_readme(table, partial=bool(args.suites))
    return 0


def write_readme(table: str, *, partial: bool) -> None:
    path = BENCH_DIR / "README.md"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    scope = "some suites (partial run)" if partial else "all suites"
    block = f"{BEGIN}\nRun {stamp} on {machine_description()}, {scope}.\n\n{table}\n{END}"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
