"""PNG plots of a benchmark run: latency vs path depth, and latency vs table size.

Drawn from the run's measurements (``python -m benchmarks`` calls ``write_plots``): every row
whose case names a depth (``... depth 8 ...``) or a table size (``... 10,000 routes ...``) and
whose unit is a time becomes a point of its series, and its baseline a point of a dashed series
beside it. A plot with no series in this run (a partial run) is left as it was, so the README's
links never point at an empty chart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Measurement

DEPTH = re.compile(r"\bdepth (\d+)")
TABLE_SIZE = re.compile(r"\b(\d[\d,]*) routes\b")
TO_MS = {"ms": 1.0, "us": 1e-3, "s": 1e3}


@dataclass(frozen=True)
class Figure:
    filename: str
    title: str
    xlabel: str
    pattern: re.Pattern[str]
    suites: frozenset[str]
    log_x: bool


FIGURES = (
    Figure("latency_vs_depth.png", "Lookup latency vs request path depth", "path depth (segments)",
           DEPTH, frozenset({"handler", "lookup"}), log_x=False),
    Figure("latency_vs_table_size.png", "Lookup latency vs routing table size",
           "routes in the table", TABLE_SIZE, frozenset({"scale"}), log_x=True),
)  # fmt: skip

Series = dict[tuple[str, bool], list[tuple[float, float]]]
NUMBER = re.compile(r"\b\d[\d,]*\b")


def series(rows: list[Measurement], figure: Figure) -> Series:
    """(label, is a baseline) -> [(x, milliseconds)], sorted by x."""
    out: Series = defaultdict(list)
    for row in rows:
        match = figure.pattern.search(row.case)
        if row.suite not in figure.suites or match is None or row.unit not in TO_MS:
            continue
        x = float(match.group(1).replace(",", ""))
        family = figure.pattern.sub(lambda m: m[0].replace(m[1], "N"), row.case)
        family = family.replace(" (median)", "")
        out[(f"{row.suite}: {family}", False)].append((x, row.value * TO_MS[row.unit]))
        if row.baseline_value is not None and not figure.pattern.search(row.baseline_label):
            # A baseline measured at each x is a curve; one fixed point of reference is not.
            label = NUMBER.sub("N", row.baseline_label)  # "8 x GetItem" -> "N x GetItem"
            out[(f"{row.suite}: {label}", True)].append((x, row.baseline_value * TO_MS[row.unit]))
    return {label: sorted(points) for label, points in out.items()}


def write_plots(rows: list[Measurement], folder: Path) -> list[Path]:
    """Draw every figure that has data in ``rows``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for figure in FIGURES:
        data = series(rows, figure)
        if not data:
            continue
        fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
        for (label, baseline), points in data.items():
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", linestyle="--" if baseline else "-",
                    label=f"{label} (baseline)" if baseline else label)  # fmt: skip
        ax.set_title(figure.title)
        ax.set_xlabel(figure.xlabel)
        ax.set_ylabel("median latency (ms, log scale)")
        ax.set_yscale("log")
        if figure.log_x:
            ax.set_xscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        path = folder / figure.filename
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
