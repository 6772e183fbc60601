"""The report's charts, as gnuplot scripts (see gnuplot.py for rendering).

Every builder returns a Chart, or None when the run has nothing for it. Every
chart ends with a footer naming all patterns of the run and those it has no data
for, so a reader never has to guess whether a missing line means "not measured"
or "off the scale".
"""

from __future__ import annotations

import math

from . import analysis
from .gnuplot import BASELINE_COLOUR, PALETTE, Chart, datablock, log_latency_tics, quote, ticlabel
from .rundir import (
    PATTERN_ORDER,
    WRITE_ORDER,
    Case,
    dig,
    jain,
    maxmin,
    num,
    pattern_key,
    thread_values,
)

# Thread-per-conn under churn can leave one stats entry per connection: past this
# many bars a group shows evenly spaced order statistics of the sorted values.
MAX_BARS_PER_GROUP = 200
STALL_US = 30_000.0


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
    text = "patterns in this run: " + (", ".join(run_patterns) or "none")
    if missing and not note:
        text += "  |  no data here: " + ", ".join(missing)
    if note:
        text += "  |  " + note
    return (
        f"set label 990 {quote(text)} at screen 0.01, screen 0.018 left "
        "font ',9' textcolor rgb '#555555'\n"
    )


def _span_log(values) -> bool:
    vs = [v for v in values if v and v > 0]
    return bool(vs) and max(vs) / min(vs) >= 10


def _latency_range(values):
    vs = [v for v in values if v is not None and v > 0]
    if not vs:
        return 1.0, 1000.0
    lo, hi = min(vs), max(vs)
    # Whole decades, widened by 1%: gnuplot drops a tic that sits exactly on the
    # end of a log axis.
    return 0.99 * 10 ** math.floor(math.log10(lo)), 1.01 * 10 ** math.ceil(math.log10(hi) + 1e-9)


def _pos(v):
    """A value drawable on a log axis, else None."""
    return v if v is not None and v > 0 else None


def _mrow(m, log=False):
    """(median, lo, hi) of an analysis.Measure for a yerrorbars column triple; None
    cells for a missing one (gnuplot skips NaN). With one repetition lo = hi = median:
    the bar has no length."""
    if m is None:
        return (None, None, None)
    if log:
        return (_pos(m.value), _pos(m.lo) or _pos(m.value), _pos(m.hi))
    return (m.value, m.lo, m.hi)


# Every key sits outside the plot area, so a legend never covers a point.
KEY_OUTSIDE = "set key outside right top vertical Left reverse samplen 2 spacing 1.1"


# Point symbols of the verdicts, the same shapes as the marks in REPORT.md's tables
# (report.py): open diamond = generator busy (generator-bound), open triangle =
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


def generator_bound_points(rows, name="gen"):
    """A datablock and plot clause drawing an open diamond on each generator-bound point."""
    if not rows:
        return [], []
    return (
        [datablock(name, rows)],
        [
            f"${name} using 1:2 with points pt 12 ps 2.8 lw 2 lc rgb 'black' title {quote(GEN_BOUND_TITLE)}"
        ],
    )


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
            ((c.connections, *_mrow(c.measure("rps"))) for c in cs if c.connections),
            key=lambda r: r[0],
        )
        if not any(r[1] is not None for r in rows):
            continue
        shown.append(pattern)
        body.append(datablock(f"p{i}", rows))
        # The line joins the medians; the bar is the [min-max] over the repetitions.
        plots.append(
            f"$p{i} using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 1.2 lc rgb '{pal(pattern)}' "
            f"title {quote(pattern)}"
        )
    if not plots:
        return None
    errs = [(c.connections, c.c("rps")) for c in cases if c.has_errors and c.c("rps") is not None]
    if errs:
        body.append(datablock("err", errs))
        plots.append(
            "$err using 1:2 with points pt 2 ps 2.5 lw 2 lc rgb 'black' title 'case had errors'"
        )
    b, p = generator_bound_points(
        [
            (c.connections, c.c("rps"))
            for c in cases
            if c.generator_bound and c.connections and c.c("rps") is not None
        ]
    )
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
{KEY_OUTSIDE}
set bmargin 5
{footer(run_patterns, shown)}
plot {', '.join(plots)}
"""
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
        body.append(datablock(f"b{j}", [(x, v, 0.8 / m, *_mrow(c.measure("rps"))[1:])]))
        plots.append(
            f"$b{j} using 1:2:3 with boxes fs solid 0.85 border lc rgb '#333333' "
            f"lc rgb '{pal(p)}' title {quote(p)}"
        )
        plots.append(f"$b{j} using 1:2:4:5 with yerrorbars pt 7 ps 0 lw 1.5 lc rgb 'black' notitle")
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
{KEY_OUTSIDE}
set bmargin 5
{chr(10).join(labels)}
{footer(run_patterns, patterns)}
plot {', '.join(plots)}
"""
    )
    return Chart(name, f"Throughput, {workload}", "".join(body), 960, 540)


# --- latency percentile spectrum -------------------------------------------------

SPECTRUM_TICS = [
    ("0%", 1),
    ("50%", 2),
    ("90%", 10),
    ("99%", 100),
    ("99.9%", 1e3),
    ("99.99%", 1e4),
    ("99.999%", 1e5),
    ("99.9999%", 1e6),
]


def spectrum_points(case: Case):
    """(x = 1/(1-p), latency) from the histogram; from the summary percentiles when
    the record has no histogram (drawn with points so it looks as sparse as it is)."""
    h = case.histogram()
    if h:
        return [(x, _pos(float(v))) for x, v in h.spectrum()], True
    pts = []
    count = num((case.loadgen or {}).get("requests")) or math.inf
    for p, key in [
        (50, "p50"),
        (90, "p90"),
        (99, "p99"),
        (99.9, "p99.9"),
        (99.99, "p99.99"),
        (99.999, "p99.999"),
    ]:
        x = 1 / (1 - p / 100)
        v = case.latency(key)
        if v is not None and x <= count:
            pts.append((x, _pos(v)))
    return pts, False


def spectrum(
    name: str,
    title_what: str,
    cases: list[Case],
    baseline: Case | None,
    run_patterns,
    pal,
    note: str = "",
) -> Chart | None:
    """note: a line under the title (the closed-loop caveat)."""
    body, plots, shown, ys, xmax = [], [], [], [], 100.0
    series = [
        (c.pattern, c, pal(c.pattern), "lw 2", c.pattern)
        for c in sorted(cases, key=lambda c: pattern_key(c.pattern))
    ]
    if baseline is not None:
        series.append(
            (
                "baseline",
                baseline,
                BASELINE_COLOUR,
                "lw 2 dt 2",
                f"loopback baseline ({baseline.pattern}, {baseline.connections or 1} conn)",
            )
        )
    for i, (pattern, case, col, style, title) in enumerate(series):
        pts, dense = spectrum_points(case)
        if not any(y is not None for _, y in pts):
            continue
        if pattern != "baseline":
            shown.append(pattern)
        ys += [y for _, y in pts if y is not None]
        xmax = max(xmax, max(x for x, _ in pts))
        body.append(datablock(f"s{i}", pts))
        how = "lines" if dense else "linespoints pt 7"
        plots.append(f"$s{i} using 1:2 with {how} {style} lc rgb '{col}' title {quote(title)}")
    b, p = generator_bound_points(
        [
            (100.0, _pos(c.latency("p99")))
            for c in cases
            if c.generator_bound and _pos(c.latency("p99"))
        ]
    )
    body += b
    plots += [x.replace(quote(GEN_BOUND_TITLE), quote("◇ generator-bound (at its p99)")) for x in p]
    if not shown:
        return None
    xmax = 10 ** math.ceil(math.log10(xmax) - 1e-9)
    lo, hi = _latency_range(ys)
    xtics = ", ".join(f"{ticlabel(label)} {x:g}" for label, x in SPECTRUM_TICS if x <= xmax)
    body.append(
        f"""
set title {quote("Latency by percentile: " + title_what + "".join(chr(10) + part for part in note.split("; ") if part))}
set xlabel 'percentile (log scale of 1/(1-p))'
set ylabel 'latency'
set logscale x 10
set logscale y 10
set xrange [1:{xmax:g}]
set yrange [{lo:g}:{hi:g}]
set xtics ({xtics})
set ytics {log_latency_tics(lo, hi)}
set mytics 10
set grid xtics ytics mytics
{KEY_OUTSIDE}
set bmargin 5
{footer(run_patterns, shown)}
plot {', '.join(plots)}
"""
    )
    return Chart(name, "Latency percentile spectrum, " + title_what, "".join(body), 1100, 580)


# --- p99 vs offered load -----------------------------------------------------------


def sweep(
    name: str, workload: str, protocol: str, cases: list[Case], knees: dict, run_patterns, pal
) -> Chart | None:
    """p99 (median, with the repetitions' min-max as a bar) vs offered rate, one line
    per pattern; the workload's latency objective dashed; each knee circled."""
    body, plots, shown, ys, xs = [], [], [], [], []
    objective = analysis.knee_objective_us(workload)
    per = analysis.group(cases, "pattern")
    knee_labels = 0
    for i, ((pattern,), cs) in enumerate(per.items()):
        rows = sorted(
            (c.offered_rps, *_mrow(c.measure("p99"), log=True)) for c in cs if c.offered_rps
        )
        if not any(r[1] is not None for r in rows):
            continue
        shown.append(pattern)
        xs += [r[0] for r in rows]
        ys += [v for r in rows for v in r[1:] if v is not None]
        body.append(datablock(f"w{i}", rows))
        col = pal(pattern)
        plots.append(
            f"$w{i} using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '{col}' title {quote(pattern)}"
        )
        k = knees.get(pattern)
        if k and k.rate is not None and k.p99 is not None:
            label = f"knee {k.rate:,.0f}" + ("+" if k.lower_bound else "")
            body.append(datablock(f"k{i}", [(k.rate, k.p99, label)]))
            plots.append(f"$k{i} using 1:2 with points pt 6 ps 3.5 lw 2.5 lc rgb '{col}' notitle")
            # Stacked, so two knees at one rate do not print over each other.
            plots.append(
                f"$k{i} using 1:2:3 with labels offset 0,{1.6 + 1.1 * knee_labels:g} font ',9' "
                f"textcolor rgb '{col}' notitle"
            )
            knee_labels += 1
    if not shown:
        return None
    errs = [
        (c.offered_rps, _pos(c.latency("p99"))) for c in cases if c.has_errors and c.offered_rps
    ]
    if errs:
        body.append(datablock("err", errs))
        plots.append(
            "$err using 1:2 with points pt 2 ps 2.5 lw 2 lc rgb 'black' title 'case had errors'"
        )
    # Three different verdicts: the server at its limit (a finding), and the generator
    # sending late or out of CPU (the point describes the generator). A point gets the
    # mark of every verdict any of its repetitions had.
    for kind, block, pt, title in VERDICT_POINTS:
        pts = [
            (c.offered_rps, _pos(c.latency("p99")))
            for c in cases
            if c.offered_rps
            and _pos(c.latency("p99"))
            and (verdict_kind(c) == kind or kind in c.rep_verdicts())
        ]
        if pts:
            body.append(datablock(block, pts))
            plots.append(
                f"${block} using 1:2 with points pt {pt} ps 2.8 lw 2 lc rgb 'black' title {quote(title)}"
            )
    lo, hi = _latency_range(ys + [objective])
    xlog = _span_log(xs)
    xr = f"[{min(xs) / 1.5:g}:{max(xs) * 1.5:g}]" if xlog else f"[0:{max(xs) * 1.08:g}]"
    xmin, xmax = (min(xs) / 1.5, max(xs) * 1.5) if xlog else (0, max(xs) * 1.08)
    body.append(datablock("obj", [(xmin, objective), (xmax, objective)]))
    plots.append(
        f"$obj using 1:2 with lines dt 2 lw 1.5 lc rgb '#555555' "
        f"title {quote(f'objective: p99 ≤ {_us_text(objective)}')}"
    )
    plots.append(
        "NaN with points pt 6 ps 2 lw 2 lc rgb 'black' "
        f"title {quote('knee: highest rate meeting the objective (+: may be higher)')}"
    )
    body.append(
        f"""
set title {quote(f"p99 latency vs offered load (open loop): workload {workload} ({protocol})")}
set xlabel 'offered load, requests/s{" (log scale)" if xlog else ""}'
set ylabel 'p99 latency (coordinated-omission corrected; median, bar: min-max)'
{"set logscale x 10" if xlog else "unset logscale x"}
set logscale y 10
set xrange {xr}
set yrange [{lo:g}:{hi * 10:g}]
set ytics {log_latency_tics(lo, hi * 10)}
set format x '%.0f'
set grid
{KEY_OUTSIDE}
set bmargin 5
{footer(run_patterns, shown)}
plot {', '.join(plots)}
"""
    )
    return Chart(name, f"p99 vs offered load, {workload}", "".join(body), 1150, 580)


def _us_text(us: float) -> str:
    return f"{us / 1000:g} ms" if us >= 1000 else f"{us:g} us"


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
            plots.append(
                f"${prefix}{j} using 1:2:3 with boxes fs solid 0.85 border lc rgb '#333333' "
                f"lc rgb '{pal(p)}' title {quote(p)}"
            )
            plots.append(
                f"${prefix}{j} using 1:2:4:5 with yerrorbars pt 7 ps 0 lw 1.5 lc rgb 'black' notitle"
            )
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


# --- Nagle ----------------------------------------------------------------------------


def nagle_order(c: Case):
    wp = c.write_pattern or ""
    return (
        c.client_nodelay is not False,
        c.server_nodelay is not False,
        WRITE_ORDER.index(wp) if wp in WRITE_ORDER else len(WRITE_ORDER),
        wp,
        bool(c.quickack),
        c.id,
    )


def nagle(name: str, cases: list[Case], run_patterns, pal) -> Chart | None:
    cases = sorted(cases, key=nagle_order)
    if not cases:
        return None
    n = len(cases)
    lat_rows, seg_rows, stall_rows = [], [], []
    ys = []
    for i, c in enumerate(cases):
        p50, p99 = _pos(c.latency("p50")), _pos(c.latency("p99"))
        ys += [v for v in (p50, p99) if v is not None]
        lat_rows.append((i, p50, p99))
        frac = c.c("stall_fraction")
        stalls = c.c("stalls")
        if frac is not None or stalls is not None or c.generator_bound:
            text = (
                f"stalls {100 * frac:.0f}%"
                if frac is not None
                else f"stalls {stalls:.0f}"
                if stalls is not None
                else ""
            )
            text += "  ◇ generator-bound" if c.generator_bound else ""
            stall_rows.append((p99 or p50 or 1, i, text))
        seg_rows.append(
            (
                i,
                c.c("segs_out_per_req"),
                c.c("segs_in_per_req"),
                c.c("srv_segs_out_per_req"),
                c.c("srv_segs_in_per_req"),
            )
        )
    lo, hi = _latency_range(ys + [STALL_US])
    hi = max(hi, 1e5)
    tics = ", ".join(f"{ticlabel(c.nagle_label)} {i}" for i, c in enumerate(cases))
    patterns = sorted({c.pattern for c in cases}, key=pattern_key)
    seg_series = [
        (2, "client out", "#1f77b4", -0.27),
        (3, "client in", "#aec7e8", -0.09),
        (4, "server out", "#ff7f0e", 0.09),
        (5, "server in", "#ffbb78", 0.27),
    ]
    seg_plots = [
        f"$seg using (${col}/2):($1+{off}):(0):(${col}):($1+{off}-0.08):($1+{off}+0.08) "
        f"with boxxyerror fs solid 0.9 noborder lc rgb '{colr}' title {quote(title)}"
        for col, title, colr, off in seg_series
    ]
    segmax = max([v for r in seg_rows for v in r[1:] if v is not None] + [1.0])
    height = max(420, 120 + 30 * n)
    body = [datablock("lat", lat_rows), datablock("seg", seg_rows)]
    if stall_rows:
        body.append(datablock("stall", stall_rows))
    stall_plot = (
        ", $stall using 1:2:3 with labels left offset 1.2,0 font ',8' notitle" if stall_rows else ""
    )
    body.append(
        f"""
set multiplot title {quote("TCP_NODELAY x write pattern x TCP_QUICKACK: server " + ", ".join(patterns) + ", frame protocol")}
set lmargin at screen 0.28
set rmargin at screen 0.66
set tmargin at screen {1 - 60 / height:.4f}
set bmargin at screen {95 / height:.4f}
set title 'latency per exchange (p50 dot, p99 triangle)'
set logscale x 10
set xrange [{lo:g}:{hi * 10:g}]
set xtics {log_latency_tics(lo, hi * 10)}
set yrange [{n - 0.5}:-0.5]
set ytics ({tics}) font ',9'
set grid xtics
set object 1 rect from {STALL_US:g}, graph 0 to graph 1, graph 1 behind fc rgb '#fbd5d5' fs solid 1.0 noborder
set label 2 'stalls: 30 ms and more' at {STALL_US * 1.1:g}, graph 0.03 left font ',9' textcolor rgb '#a02020'
set key at screen 0.66, screen {45 / height:.4f} horizontal font ',9'
{footer(run_patterns, patterns, 'this experiment runs on ' + ', '.join(patterns))}
plot $lat using 2:1:($3-$2):(0) with vectors nohead lw 2 lc rgb '#888888' notitle, \\
     $lat using 2:1 with points pt 7 ps 1.2 lc rgb '#d62728' title 'p50', \\
     $lat using 3:1 with points pt 9 ps 1.3 lc rgb '#7a0000' title 'p99'{stall_plot}
unset object 1
unset label
unset logscale x
set lmargin at screen 0.70
set rmargin at screen 0.98
set title 'segments per request (TCP_INFO)'
set xrange [0:{segmax * 1.15:g}]
set xtics auto
set format y ''
set ytics ({', '.join(f"'' {i}" for i in range(n))})
set key at screen 0.98, screen {45 / height:.4f} horizontal font ',9'
plot {', '.join(seg_plots)}
unset multiplot
"""
    )
    return Chart(name, "Nagle matrix", "".join(body), 1200, height)


def nagle_upside(name: str, cases: list[Case], run_patterns, pal) -> Chart | None:
    cases = sorted(cases, key=lambda c: (c.client_nodelay is not False, c.id))
    if not cases:
        return None
    labels = []
    for c in cases:
        nd = "?" if c.client_nodelay is None else ("on" if c.client_nodelay else "off")
        labels.append(
            f"client nodelay {nd}"
            + (f" ({c.write_pattern})" if c.write_pattern else "")
            + (" ◇ generator-bound" if c.generator_bound else "")
        )
    rows = [(i, c.c("segs_out_per_req"), c.c("rps"), c.latency("p50")) for i, c in enumerate(cases)]
    n = len(cases)
    tics = ", ".join(f"{ticlabel(t)} {i}" for i, t in enumerate(labels))
    patterns = sorted({c.pattern for c in cases}, key=pattern_key)
    height = max(360, 160 + 50 * n)
    seg_max = max([r[1] for r in rows if r[1] is not None] + [1.0])
    rps_max = max([r[2] for r in rows if r[2] is not None] + [1.0])
    body = [
        datablock("up", rows),
        f"""
set multiplot title {quote("Nagle's upside: one request sent as many small writes (server " + ", ".join(patterns) + ")")}
set lmargin at screen 0.22
set rmargin at screen 0.58
set tmargin at screen {1 - 60 / height:.4f}
set bmargin at screen {70 / height:.4f}
set yrange [{n - 0.5}:-0.5]
set ytics ({tics})
set grid xtics
set title 'client segments out per request'
set xrange [0:{seg_max * 1.2:g}]
set style fill solid 0.85 noborder
{footer(run_patterns, patterns, 'this experiment runs on ' + ', '.join(patterns))}
plot $up using ($2/2):1:(0):2:($1-0.3):($1+0.3) with boxxyerror lc rgb '#1f77b4' notitle, \\
     $up using 2:1:(sprintf('%.1f', $2)) with labels left offset 0.5,0 font ',9' notitle
unset label
set lmargin at screen 0.64
set rmargin at screen 0.97
set title 'throughput, requests/s'
set xrange [0:{rps_max * 1.3:g}]
set format y ''
set ytics ({', '.join(f"'' {i}" for i in range(n))})
plot $up using ($3/2):1:(0):3:($1-0.3):($1+0.3) with boxxyerror lc rgb '#2ca02c' notitle, \\
     $up using 3:1:(sprintf('%.0f', $3)) with labels left offset 0.5,0 font ',9' notitle
unset multiplot
""",
    ]
    return Chart(name, "Nagle's upside", "".join(body), 1000, height)
