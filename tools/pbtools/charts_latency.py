"""The latency charts: the percentile spectrum of a workload's cases (closed loop) and
p99 against offered load with each pattern's knee (open-loop sweep)."""

from __future__ import annotations

import math

from . import analysis
from .charts_style import (
    VERDICT_POINTS,
    error_points,
    generator_bound_points,
    latency_range,
    mark_points,
    plot_tail,
    positive,
    range_cells,
    spans_decade,
    verdict_kind,
)
from .gnuplot import BASELINE_COLOUR, Chart, datablock, log_latency_tics, quote, ticlabel
from .rundir import Case, num, pattern_key

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
        return [(x, positive(float(v))) for x, v in h.spectrum()], True
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
            pts.append((x, positive(v)))
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
            (100.0, positive(c.latency("p99")))
            for c in cases
            if c.generator_bound and positive(c.latency("p99"))
        ],
        title="◇ generator-bound (at its p99)",
    )
    body += b
    plots += p
    if not shown:
        return None
    xmax = 10 ** math.ceil(math.log10(xmax) - 1e-9)
    lo, hi = latency_range(ys)
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
{plot_tail(run_patterns, shown, plots)}"""
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
            (c.offered_rps, *range_cells(c.measure("p99"), log=True)) for c in cs if c.offered_rps
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
    b, p = error_points(
        [
            (c.offered_rps, positive(c.latency("p99")))
            for c in cases
            if c.has_errors and c.offered_rps
        ]
    )
    body += b
    plots += p
    # Three different verdicts: the server at its limit (a finding), and the generator
    # sending late or out of CPU (the point describes the generator). A point gets the
    # mark of every verdict any of its repetitions had.
    for kind, block, pt, title in VERDICT_POINTS:
        pts = [
            (c.offered_rps, positive(c.latency("p99")))
            for c in cases
            if c.offered_rps
            and positive(c.latency("p99"))
            and (verdict_kind(c) == kind or kind in c.rep_verdicts())
        ]
        b, p = mark_points(block, pts, pt, 2.8, quote(title))
        body += b
        plots += p
    lo, hi = latency_range(ys + [objective])
    xlog = spans_decade(xs)
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
{plot_tail(run_patterns, shown, plots)}"""
    )
    return Chart(name, f"p99 vs offered load, {workload}", "".join(body), 1150, 580)


def _us_text(us: float) -> str:
    return f"{us / 1000:g} ms" if us >= 1000 else f"{us:g} us"
