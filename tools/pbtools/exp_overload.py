"""Claims experiment "overload" (P4, P5): what a thread per connection costs as the
clients grow, and what a bound on the threads changes (bench/exp_overload.cpp).

Part A ("idle"): the idle-heavy workload (many keep-alive connections sharing an
open-loop 2,000 req/s) at 1,024, 4,096 and 8,192 connections on server-thread-per-conn
as shipped, with --max-threads (the acceptor closes every connection past the bound:
those clients are refused), and on server-worker-queue and server-single as controls.
Part B ("busy"): 256 closed-loop cpu connections keep the server busy while a probe
opens a new connection every 25 ms and times connect() to its first reply.

A point the machine cannot run (descriptor limit, memory, ephemeral ports) is skipped
by the harness with its reason, which the section lists.
"""

from __future__ import annotations

import re

from . import gnuplot
from . import units as u
from .charts_style import bar_with_range, footer, range_cells
from .claims_evidence import CONFIRMED, DEPENDS, REFUTED, compare
from .report_markdown import table, val
from .rundir import pattern_key

NAME = "overload"
TITLE = "A thread per connection under many clients"

# Threads a thread-per-conn server has besides its connection threads (the main
# thread, the harness's snapshot signal): "peak threads <= bound + this" is bounded.
EXTRA_THREADS = 8
# Threads "follow the connections" when the peak reaches this share of them.
FOLLOWS = 0.9
# Memory grows "more than the controls" when its growth per connection is at least
# this many times theirs.
RSS_FACTOR = 2.0


# --- the cases ------------------------------------------------------------------------


def series_name(c) -> str:
    """How the section names a line: the server, and its variant past the workload's."""
    v = c.extra.get("variant") or ""
    if v.startswith("idle-max"):
        return f"{c.pattern} --max-threads {v[len('idle-max'):]}"
    return c.pattern


def bound_of(c) -> int | None:
    """The --max-threads a case ran with, from its server_args; None without one."""
    args = [str(a) for a in c.extra.get("server_args") or []]
    if "--max-threads" in args[:-1]:
        try:
            return int(args[args.index("--max-threads") + 1])
        except ValueError:
            return None
    return None


def idle(cases) -> dict[str, list]:
    """{series name: its Part A cases by connections}, servers in pattern order."""
    out: dict[str, list] = {}
    for c in sorted(
        (c for c in cases if str(c.extra.get("variant") or "").startswith("idle")),
        key=lambda c: (pattern_key(c.pattern), bound_of(c) is not None, c.connections or 0),
    ):
        out.setdefault(series_name(c), []).append(c)
    return out


def busy(cases) -> list:
    return sorted(
        (c for c in cases if c.extra.get("variant") == "busy"), key=lambda c: pattern_key(c.pattern)
    )


def skipped(report) -> list[tuple[str, str]]:
    """[(case name, reason)] of this experiment's points the harness did not run."""
    return [
        (name, str(err or ""))
        for name, _, err in report.run.gbench_only
        if name.startswith(f"claims/{NAME}/") and err
    ]


def unbounded_tpc(cases) -> list:
    return idle(cases).get("thread-per-conn", [])


def bounded_tpc(cases) -> list:
    return [c for c in cases if c.pattern == "thread-per-conn" and bound_of(c) is not None]


def controls(cases) -> dict[str, list]:
    return {k: v for k, v in idle(cases).items() if not k.startswith("thread-per-conn")}


# --- the section ----------------------------------------------------------------------


def served(c) -> bool:
    """Some of its connections came up: its p99 describes them (none: the harness's 0)."""
    return (c.c("connections_up") if c.c("connections_up") is not None else 1) > 0


def refused_cell(report, c) -> str:
    r = c.c("refused")
    if r is None:
        return u.DASH
    return report.flag(c, f"{u.count(r)} of {u.count(c.connections)}")


def probe_cell(c) -> str:
    n, refused, late = c.c("probes"), c.c("probe_refused"), c.c("probe_timeouts")
    if n is None:
        return u.DASH
    text = f"{u.count(n)} replied"
    if refused:
        text += f", {u.count(refused)} refused"
    if late:
        text += f", {u.count(late)} timed out"
    return text


def idle_table(report, cases) -> str:
    rows = []
    for name, cs in idle(cases).items():
        for c in cs:
            rows.append(
                [
                    name,
                    u.count(c.connections),
                    refused_cell(report, c),
                    val(c, "peak_threads", u.count),
                    val(c, "peak_rss_kb", u.memory_kb),
                    report.flag(c, val(c, "p99_us", u.latency)) if served(c) else u.DASH,
                    val(c, "errors", u.count),
                    val(c, "bringup_s", u.plain),
                    probe_cell(c),
                ]
            )
    for name, reason in skipped(report):
        rows.append([name, u.DASH, reason, u.DASH, u.DASH, u.DASH, u.DASH, u.DASH, u.DASH])
    return (
        table(
            [
                "server",
                "connections",
                "never came up",
                "peak threads",
                "peak RSS",
                "p99 (connections up)",
                "errors",
                "bring-up s",
                "newcomers (probe)",
            ],
            rows,
            "lrrrrrrrl",
        )
        + report.legend()
    )


def busy_table(report, cases) -> str:
    rows = []
    for c in busy(cases):
        rows.append(
            [
                c.pattern,
                u.count(c.connections),
                report.flag(c, val(c, "probe_p50_us", u.latency)),
                val(c, "probe_p99_us", u.latency),
                val(c, "probe_max_us", u.latency),
                probe_cell(c),
                val(c, "accept_queue_max", u.count),
                val(c, "p99_us", u.latency),
                val(c, "peak_threads", u.count),
            ]
        )
    return (
        table(
            [
                "server",
                "busy connections",
                "first reply p50",
                "first reply p99",
                "first reply max",
                "newcomers",
                "accept queue max",
                "p99 of the busy",
                "peak threads",
            ],
            rows,
            "lrrrrlrrr",
        )
        + report.legend()
    )


def growth_chart(report, cases) -> str:
    """Peak threads (left) and peak RSS (right) against the connections, a line per
    server and variant, log-log: a thread per connection is the diagonal."""
    series = idle(cases)
    if not series:
        return ""
    blocks, threads_plots, rss_plots = [], [], []
    for i, (name, cs) in enumerate(series.items()):
        rows = [(c.connections, c.c("peak_threads"), c.c("peak_rss_kb")) for c in cs]
        blocks.append(gnuplot.datablock(f"s{i}", rows))
        colour = gnuplot.colour(i)
        style = f"with linespoints lw 2 pt 7 lc rgb '{colour}' title {gnuplot.quote(name)}"
        threads_plots.append(f"$s{i} using 1:2 {style}")
        rss_plots.append(f"$s{i} using 1:($3/1024) {style}")
    shown = {c.pattern for cs in series.values() for c in cs}
    body = (
        "".join(blocks)
        + "set multiplot layout 1,2 title 'Idle-heavy: threads and memory against the clients'\n"
        + "set logscale xy 2\nset grid\nset xlabel 'connections'\nset bmargin 6\n"
        + "set key top left font ',9'\n"
        + footer(report.patterns, shown, "claims experiment: overload")
        + "set title 'peak threads'\nset ylabel 'threads'\n"
        + "plot "
        + ", ".join(threads_plots)
        + "\nunset label 990\nset title 'peak RSS'\nset ylabel 'MiB'\n"
        + "plot "
        + ", ".join(rss_plots)
        + "\nunset multiplot\n"
    )
    return report.chart(
        gnuplot.Chart(
            "claims-overload-growth",
            "Peak threads and RSS against connections",
            body,
            width=1100,
            height=480,
        )
    )


def probe_chart(report, cases) -> str:
    """The newcomer's connect-to-first-reply p99 (bar, range over the repetitions) per server."""
    bs = [c for c in busy(cases) if c.measure("probe_p99_us") is not None]
    if not bs:
        return ""
    rows, tics = [], []
    for i, c in enumerate(bs):
        median, lo, hi = range_cells(c.measure("probe_p99_us"))
        rows.append((i, median / 1000, 0.6, lo / 1000, hi / 1000))
        tics.append(f"{gnuplot.quote(c.pattern)} {i}")
    body = (
        gnuplot.datablock("p99", rows)
        + "set title 'A new client while 256 connections keep the server busy: "
        + "connect() to first reply, p99'\n"
        + "set ylabel 'ms'\nset yrange [0:*]\nset grid ytics\n"
        + f"set xtics ({', '.join(tics)})\nset xrange [-0.7:{len(bs) - 0.3}]\n"
        + "set key outside right top vertical\nset bmargin 5\n"
        + footer(report.patterns, {c.pattern for c in bs}, "claims experiment: overload")
        + "plot "
        + ", ".join(bar_with_range("p99", "#d62728", "first reply p99"))
        + "\n"
    )
    return report.chart(
        gnuplot.Chart("claims-overload-probe", "A newcomer's first-reply p99 per server", body)
    )


def section(report, cases) -> str:
    if not idle(cases) and not busy(cases) and not skipped(report):
        return ""
    bounds = sorted({b for b in (bound_of(c) for c in cases) if b})
    bound_text = ", ".join(str(b) for b in bounds) or "N"
    out = [
        f"### {TITLE} (P4, P5)\n",
        "**Idle-heavy** (Part A): many keep-alive connections sharing an open-loop 2,000 req/s, "
        "so most of them wait idle; server-thread-per-conn as shipped, with "
        f"`--max-threads {bound_text}`, and server-worker-queue and server-single as controls. "
        "At the bound the thread-per-conn acceptor closes each new connection at once and counts "
        "it (thread_cap): those clients are **refused**, not queued. **Never came up**: connections "
        "without a first reply within the loadgen's 3 s bring-up (refused at the bound, or not served "
        "in time without one). The p99 is over the connections that came up; "
        "peak RSS is the server's VmHWM. Median [min-max] over the repetitions. **Newcomers**: "
        "a probe opened a new connection every 25 ms through the window.\n",
        growth_chart(report, cases),
        "",
        idle_table(report, cases),
    ]
    if busy(cases):
        out += [
            "**Busy** (Part B): 256 closed-loop connections of 50 us CPU requests keep every "
            "thread busy; a newcomer connects every 25 ms, sends one 64-byte request and is timed "
            "from connect() to its whole reply. The accept queue is the listener's deepest "
            "backlog sampled in the window.\n",
            probe_chart(report, cases),
            "",
            busy_table(report, cases),
        ]
    return "\n".join(out) + "\n"


# --- the rules ------------------------------------------------------------------------


def ends(cs):
    """The smallest and largest connection counts of a series (None when under two)."""
    cs = [c for c in cs if c.connections]
    if len(cs) < 2:
        return None
    cs = sorted(cs, key=lambda c: c.connections)
    return cs[0], cs[-1]


def follows(c) -> bool:
    """Its peak threads reached the connections that came up (a thread each)."""
    t, up = c.c("peak_threads"), c.c("connections_up") or c.connections
    return t is not None and up is not None and t >= FOLLOWS * up


def rss_slope(lo, hi) -> float | None:
    """KiB of peak RSS per added connection from lo to hi."""
    a, b = lo.c("peak_rss_kb"), hi.c("peak_rss_kb")
    if a is None or b is None or hi.connections == lo.connections:
        return None
    return (b - a) / (hi.connections - lo.connections)


def growth_text(name, lo, hi) -> str:
    return (
        f"{name} {u.count(lo.connections)} → {u.count(hi.connections)} connections: threads "
        f"{val(lo, 'peak_threads', u.count)} → {val(hi, 'peak_threads', u.count)}, RSS "
        f"{val(lo, 'peak_rss_kb', u.memory_kb)} → {val(hi, 'peak_rss_kb', u.memory_kb)}"
    )


def p4(run, cases):
    """Confirmed when thread-per-conn's threads follow the connections and its memory grows
    beyond the noise and more than twice as fast per connection as every control's; depends
    when the threads follow but the memory does not outgrow the controls'; refuted when the
    threads do not follow the connections."""
    e = ends(unbounded_tpc(cases))
    if e is None:
        return None
    lo, hi = e
    texts = [growth_text("thread-per-conn", lo, hi)]
    slope = rss_slope(lo, hi)
    control_slopes = []
    for name, cs in controls(cases).items():
        ce = ends(cs)
        if ce is None:
            continue
        texts.append(growth_text(name, *ce))
        s = rss_slope(*ce)
        if s is not None:
            control_slopes.append(s)
    if slope is not None:
        texts.append(
            f"RSS per added connection: thread-per-conn {u.plain(slope)} KiB vs controls "
            + (", ".join(f"{u.plain(s)} KiB" for s in control_slopes) or "none measured")
        )
    if not (follows(lo) and follows(hi)):
        return REFUTED, "threads do not follow the connections: " + "; ".join(texts)
    d, _ = compare(lo, hi, "peak_rss_kb", u.memory_kb)
    grew = d is not None and d.differ and d.sign > 0
    outgrows = slope is not None and all(slope > RSS_FACTOR * max(s, 0) for s in control_slopes)
    verdict = CONFIRMED if grew and outgrows else DEPENDS
    return verdict, "; ".join(texts)


def degraded(lo, hi) -> tuple[bool, str]:
    """Whether a series got worse from its smallest to its largest count: p99 beyond the
    noise, or errors, refused clients or newcomers refused or timed out appearing."""
    d, text = (None, "not measured: no connection came up")
    if served(lo) and served(hi):
        d, text = compare(lo, hi, "p99_us", u.latency)
    worse = bool(d is not None and d.differ and d.sign > 0)
    bad = [
        k
        for k in ("errors", "refused", "probe_refused", "probe_timeouts")
        if (hi.c(k) or 0) > (lo.c(k) or 0)
    ]
    parts = [f"p99 {text}"] + [
        f"{WHAT.get(k, k)} {u.count(hi.c(k))} at {u.count(hi.connections)}" for k in bad
    ]
    return worse or bool(bad), "; ".join(parts)


# How the evidence names the failures it counts.
WHAT = {"refused": "connections that never came up", "probe_refused": "newcomers refused"}


def p99_ratio(lo, hi) -> float | None:
    if not (served(lo) and served(hi)):
        return None
    a, b = lo.c("p99_us"), hi.c("p99_us")
    return b / a if a and b is not None else None


def bounded_text(cases) -> str:
    parts = []
    for c in sorted(bounded_tpc(cases), key=lambda c: c.connections or 0):
        parts.append(
            f"--max-threads {bound_of(c)} at {u.count(c.connections)}: threads "
            f"{val(c, 'peak_threads', u.count)}, refused {u.count(c.c('refused'))}"
        )
    if not parts:
        return "no --max-threads cases"
    ok = all((c.c("peak_threads") or 0) <= bound_of(c) + EXTRA_THREADS for c in bounded_tpc(cases))
    return ("bounded: " if ok else "NOT bounded: ") + "; ".join(parts)


def p5(run, cases):
    """Confirmed when, without --max-threads, thread-per-conn's threads follow the clients
    and it degrades from the smallest to the largest count (p99 beyond the noise and more
    than every control's, or errors, refused clients or refused newcomers appear) ; depends
    when the threads follow but nothing degrades at these counts; refuted when the threads
    do not follow the clients. The --max-threads cases are quoted: the bound holds or not."""
    e = ends(unbounded_tpc(cases))
    if e is None:
        return None
    lo, hi = e
    texts = [
        f"without a bound threads {val(lo, 'peak_threads', u.count)} at {u.count(lo.connections)} "
        f"→ {val(hi, 'peak_threads', u.count)} at {u.count(hi.connections)}"
    ]
    if not (follows(lo) and follows(hi)):
        return REFUTED, "threads do not follow the clients: " + "; ".join(
            texts + [bounded_text(cases)]
        )
    worse, why = degraded(lo, hi)
    texts.append(why)
    mine = p99_ratio(lo, hi)
    for name, cs in controls(cases).items():
        ce = ends(cs)
        if ce is None:
            continue
        r = p99_ratio(*ce)
        texts.append(f"{name} p99 {u.ratio(r)} over the same counts")
        # p99 alone counts only when it grew more than the control's: the same growth
        # there is the machine's, not the threads'.
        if r is not None and mine is not None and mine <= r and not _hard_failures(lo, hi):
            worse = False
    texts.append(bounded_text(cases))
    return (CONFIRMED if worse else DEPENDS), "; ".join(texts)


def _hard_failures(lo, hi) -> bool:
    return any(
        (hi.c(k) or 0) > (lo.c(k) or 0)
        for k in ("errors", "refused", "probe_refused", "probe_timeouts")
    )


RULES = {"P4": p4, "P5": p5}

__all__ = ["NAME", "TITLE", "RULES", "section"]
