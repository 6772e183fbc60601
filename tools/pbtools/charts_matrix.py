"""The charts of the closed-loop matrix: throughput against connections (lines, or bars
at one connection count), grouped bars of the costs per request, and the load spread
across a server's threads."""

from __future__ import annotations

import math

from . import analysis
from .charts_style import (
    KEY_OUTSIDE,
    bar_with_range,
    error_points,
    footer,
    generator_bound_points,
    plot_tail,
    range_cells,
    range_line,
)
from .gnuplot import Chart, datablock, quote, ticlabel
from .rundir import Case, jain, maxmin, pattern_key, thread_values

# Thread-per-conn under churn can leave one stats entry per connection: past this
# many bars a group shows evenly spaced order statistics of the sorted values.
MAX_BARS_PER_GROUP = 200


# --- throughput vs connections ---------------------------------------------------


def throughput(
    name: str, workload: str, protocol: str, cases: list[Case], run_patterns, pal
) -> Chart | None:
    per = analysis.group(cases, "pattern")
    conns = sorted({c.connections for c in cases if c.connections})
    if not conns:
        return None
    if len(conns) == 1:
        return _throughput_bars(name, workload, protocol, conns[0], cases, run_patterns, pal)
    body, plots, shown = [], [], []
    for i, ((pattern,), cs) in enumerate(per.items()):
        rows = sorted(
            ((c.connections, *range_cells(c.measure("rps"))) for c in cs if c.connections),
            key=lambda r: r[0],
        )
        if not any(r[1] is not None for r in rows):
            continue
        shown.append(pattern)
        body.append(datablock(f"p{i}", rows))
        plots.append(range_line(f"p{i}", pattern, pal))
    if not plots:
        return None
    for b, p in (
        error_points(
            [(c.connections, c.c("rps")) for c in cases if c.has_errors and c.c("rps") is not None]
        ),
        generator_bound_points(
            [
                (c.connections, c.c("rps"))
                for c in cases
                if c.generator_bound and c.connections and c.c("rps") is not None
            ]
        ),
    ):
        body += b
        plots += p
    tics = ", ".join(f"'{n}' {n}" for n in conns)
    body.append(
        f"""
set title {quote(f"Throughput vs connections: workload {workload} ({protocol}, closed loop)")}
set xlabel 'connections'
set ylabel 'requests/s (median, bar: min-max of the repetitions)'
set logscale x 2
set xtics ({tics})
set xrange [{conns[0] / 1.6}:{conns[-1] * 1.6}]
set yrange [0:*]
set format y '%.0f'
set grid
{plot_tail(run_patterns, shown, plots)}"""
    )
    return Chart(name, f"Throughput vs connections, {workload}", "".join(body), 960, 540)


def _throughput_bars(name, workload, protocol, n, cases, run_patterns, pal) -> Chart | None:
    """One connection count (idle-heavy): lines would be a pile of dots, so bars,
    each labelled with its rate."""
    by_p = analysis.by_pattern([c for c in cases if c.connections == n])
    patterns = [p for p in run_patterns if p in by_p]
    body, plots, labels = [], [], []
    m = max(len(patterns), 1)
    for j, p in enumerate(patterns):
        c = by_p[p]
        v = c.c("rps")
        if v is None:
            continue
        x = -0.4 + (j + 0.5) * 0.8 / m
        body.append(datablock(f"b{j}", [(x, v, 0.8 / m, *range_cells(c.measure("rps"))[1:])]))
        plots += bar_with_range(f"b{j}", pal(p), p)
        text = (
            f"{v:,.0f}"
            + (" (errors)" if c.has_errors else "")
            + ("\n◇ generator-bound" if c.generator_bound else "")
        )
        labels.append(f"set label {quote(text)} at {x:g}, {v:g} center offset 0,1.2 font ',9'")
    if not plots:
        return None
    body.append(
        f"""
set title {quote(f"Throughput: workload {workload}, {n} connections ({protocol}, closed loop)")}
set ylabel 'requests/s'
set xrange [-0.6:0.6]
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set xtics ({ticlabel(f"{n} connections")} 0) scale 0
set format y '%.0f'
set grid ytics
{plot_tail(run_patterns, patterns, plots, labels)}"""
    )
    return Chart(name, f"Throughput, {workload}", "".join(body), 960, 540)


# --- grouped bars (costs) --------------------------------------------------------


def _bars(categories, patterns, value, pal, prefix, marked=None):
    """Datablocks and plot clauses for clustered bars: category i at x = i, one bar
    per pattern inside it. value(category, pattern) -> analysis.Measure | float | None:
    the bar is the median, a black range bar its [min-max] over the repetitions;
    marked(category, pattern) -> True puts the generator-bound diamond on top."""
    body, plots, shown, gen = [], [], set(), []
    m = max(len(patterns), 1)
    width = 0.8 / m
    for j, p in enumerate(patterns):
        rows = []
        for i, cat in enumerate(categories):
            v = analysis.as_measure(value(cat, p))
            if v is not None:
                x = i - 0.4 + (j + 0.5) * width
                rows.append((x, v.value, width, v.lo, v.hi))
                shown.add(p)
                if marked and marked(cat, p):
                    gen.append((x, v.value))
        if rows:
            body.append(datablock(f"{prefix}{j}", rows))
            plots += bar_with_range(f"{prefix}{j}", pal(p), p)
    b, p = generator_bound_points(gen, f"{prefix}gen")
    return body + b, plots + p, shown


def cost_bars(
    name: str, title: str, panels, categories, run_patterns, pal, marked=None
) -> Chart | None:
    """panels: [(ylabel, value(category, pattern))]; categories: [(label, key)];
    marked(category key, pattern): the case there was generator-bound."""
    patterns = list(run_patterns)
    if not categories or not patterns:
        return None
    tics = ", ".join(f"{ticlabel(label)} {i}" for i, (label, _) in enumerate(categories))
    out, shown_all = [], set()
    multi = len(panels) > 1
    if multi:
        out.append(f"set multiplot layout {len(panels)},1 title {quote(title)}\n")
    for n, (ylabel, fn) in enumerate(panels):
        body, plots, shown = _bars([k for _, k in categories], patterns, fn, pal, f"b{n}_", marked)
        shown_all |= shown
        out += body
        if not plots:
            plots = ["NaN notitle"]
        out.append(
            f"""
{"" if multi else "set title " + quote(title)}
set ylabel {quote(ylabel)}
set lmargin at screen 0.08
set rmargin at screen 0.80
set xrange [-0.6:{len(categories) - 0.4}]
set yrange [0:*]
set xtics ({tics}) scale 0
set grid ytics
set style fill solid 0.85
{KEY_OUTSIDE}
{"set bmargin 5" if n == len(panels) - 1 else "set bmargin 3"}
{"set title " + quote(ylabel) if multi else ""}
plot {', '.join(plots)}
unset label 990
"""
        )
    if not shown_all:
        return None
    # The footer goes on the last panel so it sits at the bottom of the picture.
    last = out[-1]
    out[-1] = last.replace("\nplot ", "\n" + footer(run_patterns, shown_all) + "plot ", 1)
    if multi:
        out.append("unset multiplot\n")
    height = 480 if not multi else 360 * len(panels)
    return Chart(name, title, "".join(out), 1000, height)


# --- load spread across threads ----------------------------------------------------


def _sampled(values):
    """At most MAX_BARS_PER_GROUP values: evenly spaced order statistics when
    there are more (sorted descending), else the values in thread order."""
    if len(values) <= MAX_BARS_PER_GROUP:
        return values, False
    s = sorted(values, reverse=True)
    n = MAX_BARS_PER_GROUP
    return [s[round(i * (len(s) - 1) / (n - 1))] for i in range(n)], True


def spread(name: str, title_what: str, cases: list[Case], run_patterns, pal) -> Chart | None:
    """Per-thread requests and accepts relative to the even share (1.0), one group
    of bars per pattern, Jain's index above each group."""
    cases = [c for c in sorted(cases, key=lambda c: pattern_key(c.pattern)) if c.threads()]
    if not cases:
        return None
    out = [f"set multiplot layout 2,1 title {quote('Load spread across threads: ' + title_what)}\n"]
    shown = set()
    tics = []
    for i, c in enumerate(cases):
        tics.append(f"{ticlabel(c.pattern)} {i}")
    for n, (key, counter, label) in enumerate(
        [("requests", "requests", "requests"), ("accepted", "accepts", "accepts")]
    ):
        body, plots, labels = [], [], []
        ymax = 2.0
        for i, c in enumerate(cases):
            vals = thread_values(c.threads(), key)
            total = sum(vals)
            if not vals or total <= 0:
                labels.append(f"set label {quote('none')} at {i}, graph 0.08 center font ',9'")
                continue
            shown.add(c.pattern)
            mean = total / len(vals)
            shown_vals, sampled = _sampled(vals)
            w = 0.8 / len(shown_vals)
            # 0.9 of the slot: a hairline gap keeps neighbouring threads apart.
            rows = [(i - 0.4 + (j + 0.5) * w, v / mean, 0.9 * w) for j, v in enumerate(shown_vals)]
            ymax = max(ymax, max(r[1] for r in rows) * 1.45)
            body.append(datablock(f"t{n}_{i}", rows))
            # The key lists each pattern once, on the top panel.
            title = f"title {quote(c.pattern)}" if n == 0 else "notitle"
            plots.append(
                f"$t{n}_{i} using 1:2:3 with boxes fs solid 0.85 noborder "
                f"lc rgb '{pal(c.pattern)}' {title}"
            )
            j_idx, na = c.fairness(f"jain_{counter}")
            mm, _ = c.fairness(f"maxmin_{counter}")
            if j_idx is None and not na:
                j_idx = jain(vals)
            if mm is None and not na:
                mm = maxmin(vals)
            # Three short lines: six patterns side by side must not run into each other.
            text = f"Jain {j_idx:.3f}" if j_idx is not None else ("Jain n/a" if na else "Jain –")
            if mm is not None:
                text += f"\nmax/min {'inf' if math.isinf(mm) else f'{mm:.2f}'}"
            text += f"\n{len(vals)} {'threads' if len(vals) != 1 else 'thread'}"
            text += "\n(sorted, sampled)" if sampled else ""
            text += "\n◇ generator-bound" if c.generator_bound else ""
            labels.append(f"set label {quote(text)} at {i}, graph 0.96 center font ',8'")
        if not plots:
            plots = ["NaN notitle"]
        out += body
        out.append(
            f"""
set title {quote(f"{label} per thread / mean over the threads that {'serve requests' if n == 0 else 'accept'}")}
set ylabel 'share / even share'
set lmargin at screen 0.08
set rmargin at screen 0.80
set xrange [-0.6:{len(cases) - 0.4}]
set yrange [0:{ymax:g}]
set xtics ({', '.join(tics)}) scale 0
set grid ytics
{KEY_OUTSIDE}
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb '#555555'
{"set bmargin 5" if n == 1 else "set bmargin 3"}
{chr(10).join(labels)}
{footer(run_patterns, shown) if n == 1 else ""}
plot {', '.join(plots)}
unset label
unset arrow
"""
        )
    out.append("unset multiplot\n")
    if not shown:
        return None
    return Chart(name, "Load spread across threads, " + title_what, "".join(out), 1100, 800)
