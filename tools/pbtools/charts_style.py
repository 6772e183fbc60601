"""What every chart of charts.py shares: a pattern's colour, the footer naming the
run's patterns, the key's place, the marks drawn on points (errors, verdicts,
generator-bound), bars with their range over the repetitions, and the axis ranges."""

from __future__ import annotations

import math

from .gnuplot import PALETTE, datablock, quote
from .rundir import PATTERN_ORDER, Case, label


# Every key sits outside the plot area, so a legend never covers a point.
KEY_OUTSIDE = "set key outside right top vertical Left reverse samplen 2 spacing 1.1"


class Palette:
    def __init__(self, patterns):
        extra = [p for p in patterns if p not in PATTERN_ORDER]
        self._map = {p: PALETTE[i] for i, p in enumerate(PATTERN_ORDER)}
        for i, p in enumerate(extra):
            self._map[p] = PALETTE[(len(PATTERN_ORDER) + i) % len(PALETTE)]

    def __call__(self, pattern: str) -> str:
        return self._map.get(pattern, PALETTE[-1])


def footer(run_patterns, shown, note: str = "") -> str:
    """The line at the bottom of every chart. `note`, when given, replaces the list
    of patterns without data (for experiments that run on one pattern by design)."""
    missing = [p for p in run_patterns if p not in shown]
    text = "patterns in this run: " + (", ".join(label(p) for p in run_patterns) or "none")
    if missing and not note:
        text += "  |  no data here: " + ", ".join(label(p) for p in missing)
    if note:
        text += "  |  " + note
    return (
        f"set label 990 {quote(text)} at screen 0.01, screen 0.018 left "
        "font ',9' textcolor rgb '#555555'\n"
    )


def plot_tail(run_patterns, shown, plots, labels=None) -> str:
    """The end of a one-panel chart's script: the key outside the plot, room for the
    footer below it, the `set label` lines when given, the footer and the plot command."""
    middle = "" if labels is None else "\n".join(labels) + "\n"
    return (
        f"{KEY_OUTSIDE}\nset bmargin 5\n{middle}{footer(run_patterns, shown)}\n"
        f"plot {', '.join(plots)}\n"
    )


def spans_decade(values) -> bool:
    """The positive values span a factor of ten or more: their axis wants a log scale."""
    vs = [v for v in values if v and v > 0]
    return bool(vs) and max(vs) / min(vs) >= 10


def latency_range(values):
    vs = [v for v in values if v is not None and v > 0]
    if not vs:
        return 1.0, 1000.0
    lo, hi = min(vs), max(vs)
    # Whole decades, widened by 1%: gnuplot drops a tic that sits exactly on the
    # end of a log axis.
    return 0.99 * 10 ** math.floor(math.log10(lo)), 1.01 * 10 ** math.ceil(math.log10(hi) + 1e-9)


def positive(v):
    """A value drawable on a log axis, else None."""
    return v if v is not None and v > 0 else None


def range_cells(m, log=False):
    """(median, lo, hi) of an analysis.Measure for a yerrorbars column triple; None
    cells for a missing one (gnuplot skips NaN). With one repetition lo = hi = median:
    the bar has no length."""
    if m is None:
        return (None, None, None)
    if log:
        return (positive(m.value), positive(m.lo) or positive(m.value), positive(m.hi))
    return (m.value, m.lo, m.hi)


def range_line(block: str, pattern: str, pal) -> str:
    """The plot clause of one pattern's series from datablock `block` (x, median, lo,
    hi): the line joins the medians, the bar is the [min-max] over the repetitions."""
    return (
        f"${block} using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 1.2 lc rgb '{pal(pattern)}' "
        f"title {quote(label(pattern))}"
    )


# Point symbols of the verdicts, the same shapes as the marks in REPORT.md's tables
# (report_markdown.py): open diamond = generator busy (generator-bound), open triangle =
# generator late, open square = server saturated.
VERDICT_POINTS = [
    ("server-saturated", "sat", 4, "□ server saturated (achieved < 99% of offered, sends on time)"),
    ("generator-late", "late", 8, "△ generator late (p99 send lateness over the bound)"),
    ("generator-busy", "busy", 12, "◇ generator busy (a generator thread > 90% busy)"),
]
GEN_BOUND_TITLE = "◇ generator-bound"


def verdict_kind(c: Case) -> str:
    """The case's verdict, with a generator-bound case always "generator-busy"."""
    return "generator-busy" if c.generator_bound else c.verdict()[0]


def generator_bound_points(rows, name="gen", title=GEN_BOUND_TITLE):
    """A datablock and plot clause drawing an open diamond on each generator-bound point."""
    return mark_points(name, rows, 12, 2.8, quote(title))


def error_points(rows):
    """A datablock and plot clause drawing a cross on each point of a case that had errors."""
    return mark_points("err", rows, 2, 2.5, "'case had errors'")


def mark_points(name, rows, pt, ps, title):
    """A datablock and plot clause drawing black point type pt on each (x, y) of rows;
    title is already gnuplot text (quoted). Nothing when rows is empty."""
    if not rows:
        return [], []
    return (
        [datablock(name, rows)],
        [f"${name} using 1:2 with points pt {pt} ps {ps} lw 2 lc rgb 'black' title {title}"],
    )


def bar_with_range(block: str, colour: str, title: str) -> list[str]:
    """Plot clauses of the bars of datablock $block, rows (x, median, width, lo, hi): a
    filled box in colour, and a black range bar from lo to hi on top."""
    return [
        f"${block} using 1:2:3 with boxes fs solid 0.85 border lc rgb '#333333' "
        f"lc rgb '{colour}' title {quote(title)}",
        f"${block} using 1:2:4:5 with yerrorbars pt 7 ps 0 lw 1.5 lc rgb 'black' notitle",
    ]
