"""The scaling section of REPORT.md (the scaling profile, bench/README.md "The scaling
profile"): each pattern's throughput as its server gets 1, 2, 4, ... CPUs, against the
linear ideal (its own 1-CPU rate times the CPUs), and the rate per server CPU.

On a machine that can give the server only one CPU the profile has one point per
pattern; the section then shows that point and says what the curve would show on a
bigger machine, and why this one cannot draw it.

section(report) is called from Report.build (report.py).
"""

from __future__ import annotations

import re

from . import units as u
from .charts_style import plot_tail, range_cells, range_line
from .gnuplot import Chart, datablock, quote
from .report_markdown import table
from .rundir import num, pattern_key

WORKLOAD_ORDER = ("tiny", "churn", "cpu")
# Below this share of the linear ideal at the top point, a pattern "stops scaling".
GOOD_EFFICIENCY = 0.7


def server_cpus(case) -> int | None:
    """The case's server CPU count: the case file's server_cpus, else its name's cpusN."""
    n = num(case.extra.get("server_cpus"))
    if n is None:
        m = re.search(r"/cpus(\d+)/", case.name)
        n = int(m.group(1)) if m else None
    return int(n) if n is not None and n >= 1 else None


def series(cases) -> dict:
    """{workload: {pattern: {cpus: case}}} over the scaling cases with a CPU count."""
    out: dict = {}
    for c in cases:
        n = server_cpus(c)
        if n is None:
            continue
        out.setdefault(c.workload, {}).setdefault(c.pattern, {})[n] = c
    return out


def workload_key(w: str):
    return (WORKLOAD_ORDER.index(w) if w in WORKLOAD_ORDER else len(WORKLOAD_ORDER), w)


def efficiency(points: dict) -> float | None:
    """The top point's rate over the linear ideal from the 1-CPU point."""
    top = max(points)
    one, last = points.get(1), points[top]
    if top == 1 or one is None or not one.c("rps") or last.c("rps") is None:
        return None
    return last.c("rps") / (top * one.c("rps"))


def chart(name, workload, per_pattern, run_patterns, pal, per_cpu: bool) -> Chart | None:
    """req/s (or req/s per server CPU) against server CPUs, one line per pattern, each
    with its linear ideal dashed in the same colour."""
    counts = sorted({n for pts in per_pattern.values() for n in pts})
    if len(counts) < 2:
        return None
    body, plots, shown = [], [], []
    for i, pattern in enumerate(sorted(per_pattern, key=pattern_key)):
        pts = per_pattern[pattern]
        rows = []
        for n in sorted(pts):
            med, lo, hi = range_cells(pts[n].measure("rps"))
            scale = n if per_cpu else 1
            rows.append((n, *(None if v is None else v / scale for v in (med, lo, hi))))
        if not any(r[1] is not None for r in rows):
            continue
        shown.append(pattern)
        body.append(datablock(f"p{i}", rows))
        plots.append(range_line(f"p{i}", pattern, pal))
        one = pts.get(1)
        if one is not None and one.c("rps"):
            r1 = one.c("rps")
            ideal = [(n, r1 if per_cpu else r1 * n) for n in counts]
            body.append(datablock(f"i{i}", ideal))
            plots.append(f"$i{i} using 1:2 with lines dt 2 lw 1.5 lc rgb '{pal(pattern)}' notitle")
    if not plots:
        return None
    tics = ", ".join(f"'{n}' {n}" for n in counts)
    what = "requests/s per server CPU" if per_cpu else "requests/s"
    title = (
        f"{'Rate per server CPU' if per_cpu else 'Throughput'} vs server CPUs: workload "
        f"{workload} (dashed: linear ideal from 1 CPU)"
    )
    body.append(
        f"""
set title {quote(title)}
set xlabel 'server CPUs'
set ylabel '{what} (median, bar: min-max of the repetitions)'
set logscale x 2
set xtics ({tics})
set xrange [{counts[0] / 1.4}:{counts[-1] * 1.4}]
set yrange [0:*]
set format y '%.0f'
set grid
{plot_tail(run_patterns, shown, plots)}"""
    )
    return Chart(name, title, "".join(body), 960, 540)


def small_machine_text(report, counts) -> str:
    """What a bigger machine would show, and why this one cannot."""
    cpus = report.run.run.get("server_cpus") or "?"
    client = report.run.run.get("client_cpus") or "?"
    return (
        f"**One point per pattern.** The placement gave the server CPU(s) {cpus} and the "
        f"generator CPU(s) {client}, so the server ran on "
        f"{' and '.join(str(n) for n in counts)} CPU(s) only: the numbers above are where "
        "each curve starts, not a curve. A second server CPU would have to come from the "
        "generator, which would then compete with the server for it, and the curve would "
        "measure that competition instead of the pattern. On a machine with at least 4 "
        "physical cores the profile runs 1, 2, 4, ... server CPUs up to half the cores and "
        "charts req/s against server CPUs with the linear ideal dashed: single stays flat "
        "(one thread, whatever the CPUs); the loop patterns (multi-accept, reuseport, "
        "reactor-pool) should climb near the ideal on tiny and cpu until the generator or "
        "the network stack runs out; churn separates them by their accept path (one shared "
        "listener against one listener per loop with SO_REUSEPORT); worker-queue bends "
        "below the ideal where its one queue's lock and hand-off become the cost.\n"
    )


def section(report) -> str:
    cases = report.run.of_kind("scaling")
    by_workload = series(cases)
    if not by_workload:
        return ""
    counts = sorted({n for pats in by_workload.values() for pts in pats.values() for n in pts})
    out = [
        "## Scaling: throughput as the server gets more CPUs\n",
        "The scaling profile runs every pattern that serves connections concurrently on the "
        "first 1, 2, 4, ... of the placement's server CPUs, with one loop per CPU for the "
        "loop patterns and two workers per CPU (at least 8) for worker-queue; tiny and churn "
        "at 256 connections, cpu at 64. **Efficiency** is the rate at the most CPUs over the "
        "linear ideal, the 1-CPU rate times the CPUs (1.0: every CPU added its full share).\n",
    ]
    rows = []
    for workload in sorted(by_workload, key=workload_key):
        for pattern in sorted(by_workload[workload], key=pattern_key):
            pts = by_workload[workload][pattern]
            cells = [
                report.flag(pts[n], u.measure(u.compact_rate, pts[n].measure("rps")))
                if n in pts
                else u.DASH
                for n in counts
            ]
            rows.append([workload, pattern, *cells, u.plain(efficiency(pts))])
    headers = ["workload", "pattern", *[f"{n} CPU{'s' if n > 1 else ''}" for n in counts]]
    out.append(
        table(headers + ["efficiency"], rows, "ll" + "r" * (len(counts) + 1)) + report.legend()
    )
    if len(counts) < 2:
        out.append(small_machine_text(report, counts))
        report.say(
            9,
            "**Scaling:** this machine gave the server one CPU, so the scaling profile has "
            "one point per pattern; the curve needs a machine with 4 or more physical cores.",
        )
    else:
        for workload in sorted(by_workload, key=workload_key):
            pats = by_workload[workload]
            for per_cpu in (False, True):
                suffix = "-per-cpu" if per_cpu else ""
                out.append(
                    report.chart(
                        chart(
                            f"scaling-{workload}{suffix}",
                            workload,
                            pats,
                            report.patterns,
                            report.pal,
                            per_cpu,
                        )
                    )
                )
            read_workload(report, workload, pats)
    return "\n".join(out) + "\n"


def read_workload(report, workload, pats) -> None:
    """A Reading bullet: which pattern came nearest the ideal, which fell furthest."""
    eff = {p: e for p, pts in pats.items() if (e := efficiency(pts)) is not None}
    if not eff:
        return
    best = max(eff, key=eff.get)
    worst = min(eff, key=eff.get)
    top = max(max(pts) for pts in pats.values())
    text = (
        f"**Scaling, {workload}:** from 1 to {top} server CPUs {best} kept "
        f"{u.percent(eff[best])} of the linear ideal"
    )
    if worst != best:
        verb = "stopped scaling at" if eff[worst] < GOOD_EFFICIENCY else "kept"
        text += f", {worst} {verb} {u.percent(eff[worst])}"
    report.say(9, text + ".")
