"""Claims experiment "accept" (M2, M5): accept contention under connection churn, after
libuv's benchmark-multi-accept (bench/exp_accept.cpp). Every client opens a connection
per request, so accepting is the server's work; the lines vary how many threads accept
and how they share the listener:

    multi-accept exclusive   N loops on one listener, EPOLLEXCLUSIVE (one woken)
    multi-accept herd        N loops on one listener, every waiting loop woken
    multi-accept blocking    N threads asleep in accept(), each feeding its own loop
    reuseport                N listeners on one port: N acceptors, no shared queue
    reactor-pool             N reader loops behind ONE acceptor: the control whose
                             acceptor count does not change with N

Per case: accepts/s (the server's accepts over the window), the clients' connect() p99,
the server's voluntary context switches per accept and its futile wake-ups per accept
(a loop woken for a connection another took; from the stats file, over the server's
lifetime). A woken loop that finds the listener already drained inside epoll_wait()
sleeps again unseen by the server: that wake-up shows only as a context switch.
"""

from __future__ import annotations

from . import analysis, gnuplot
from . import units as u
from .charts_style import footer, range_cells
from .claims_evidence import CONFIRMED, DEPENDS, REFUTED, compare, server_cpus, show
from .report_markdown import table, val

NAME = "accept"
TITLE = "Accept contention: acceptor threads under connection churn"

# (pattern, variant's mode) -> label, in the order of the table and the charts' keys.
LINES = {
    ("multi-accept", "exclusive"): "multi-accept exclusive",
    ("multi-accept", "herd"): "multi-accept herd",
    ("multi-accept", "blocking"): "multi-accept blocking",
    ("reuseport", "sharded"): "reuseport",
    ("reactor-pool", "one-acceptor"): "reactor-pool (1 acceptor)",
}
# The lines whose acceptors share one listening socket: the ones M5 is about.
SHARED = [k for k in LINES if k[0] == "multi-accept"]
# The lines whose acceptor count is the thread count: the ones M2 is about.
SCALED = [k for k in LINES if k[0] != "reactor-pool"]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#7f7f7f"]


def line_of(c) -> tuple | None:
    """(pattern, mode) of a case, from its variant ("herd-t8")."""
    mode, _, _ = str(c.extra.get("variant") or "").rpartition("-t")
    key = (c.pattern, mode)
    return key if key in LINES else None


def threads_of(c) -> int | None:
    t = c.extra.get("threads")
    if isinstance(t, int) and t > 0:
        return t
    tail = str(c.extra.get("variant") or "").rpartition("-t")[2]
    return int(tail) if tail.isdigit() else None


def lines(cases) -> dict:
    """{(pattern, mode): {threads: case}} in LINES order, lines with no case left out."""
    out: dict = {k: {} for k in LINES}
    for c in cases:
        key, t = line_of(c), threads_of(c)
        if key and t:
            out[key][t] = c
    return {k: dict(sorted(v.items())) for k, v in out.items() if v}


def _cmp(a, b, counter, key, ta, tb, fmt=u.compact_rate):
    """compare() (the noise rule) with the cases named by line and thread count."""
    d = analysis.differs(a, b, counter)
    text = f"{LINES[key]}: t{ta} {show(a, counter, fmt)} vs t{tb} {show(b, counter, fmt)}"
    if d is None:
        return None, text
    if not d.differ:
        return d, "no measurable difference: " + text
    if not d.tested:
        text += " (5% threshold, one repetition: untested)"
    return d, text


# --- charts ----------------------------------------------------------------------------


def chart(report, ls, counter: str, name: str, title: str, ylabel: str) -> str:
    """One line per line of cases: `counter` against threads, log2 x axis, the bar the
    min-max over the repetitions."""
    body, plots = [], []
    threads = sorted({t for per in ls.values() for t in per})
    for i, (key, per) in enumerate(ls.items()):
        rows = [(t, *range_cells(c.measure(counter))) for t, c in per.items()]
        if not any(r[1] is not None for r in rows):
            continue
        body.append(gnuplot.datablock(f"l{i}", rows))
        colour = COLOURS[list(LINES).index(key) % len(COLOURS)]
        plots.append(
            f"$l{i} using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 1.1 lc rgb '{colour}' "
            f"title {gnuplot.quote(LINES[key])}"
        )
    if not plots or not threads:
        return ""
    tics = ", ".join(f"'{t}' {t}" for t in threads)
    body.append(
        f"set title {gnuplot.quote(title)}\n"
        "set xlabel 'threads (--threads: acceptor loops; reactor-pool: reader loops)'\n"
        f"set ylabel {gnuplot.quote(ylabel)}\n"
        f"set logscale x 2\nset xtics ({tics})\n"
        f"set xrange [{threads[0] / 1.5}:{threads[-1] * 1.5}]\nset yrange [0:*]\nset grid\n"
        "set key outside right top vertical Left reverse samplen 2 spacing 1.1\nset bmargin 5\n"
        + footer(report.patterns, {k[0] for k in ls}, "claims experiment: accept")
        + "plot "
        + ", ".join(plots)
        + "\n"
    )
    return report.chart(gnuplot.Chart(name, title, "".join(body), 960, 540))


# --- the section -----------------------------------------------------------------------


def rows(report, ls) -> list:
    out = []
    for key, per in ls.items():
        for t, c in per.items():
            out.append(
                [
                    LINES[key],
                    str(t),
                    "1" if key[0] == "reactor-pool" else str(t),
                    report.flag(c, val(c, "accepts_per_s", u.compact_rate)),
                    val(c, "connect_p99_us", u.plain),
                    val(c, "vcsw_per_accept", u.plain),
                    val(c, "futile_per_accept", u.plain),
                    val(c, "jain_accepts", u.index),
                ]
            )
    return out


def section(report, cases) -> str:
    ls = lines(cases)
    if not ls:
        return ""
    n_cpus, _ = server_cpus(report.run)
    cpus = f"{n_cpus} CPU{'s' if n_cpus != 1 else ''}" if n_cpus else "an unknown number of CPUs"
    return (
        f"### {TITLE} (M2, M5)\n\n"
        "Every client opens a connection per request (workload churn, 32 clients, so the accept "
        "queue holds up to 32 connections, one for each of 32 acceptors), so accepting is the "
        "server's work. server-multi-accept runs N loops on one listener in each --accept-mode: "
        "exclusive (EPOLLEXCLUSIVE wakes one loop per connection), herd (every waiting loop "
        "wakes) and blocking (N threads asleep in accept(), each feeding its own loop: 2N "
        "threads). reuseport gives each of its N loops a listener of its own (N acceptors, no "
        "shared queue). reactor-pool's --threads is its reader loops: it always has one "
        f"acceptor, so its line is the control. The server ran on {cpus} here: threads beyond "
        "that take turns, they do not accept in parallel.\n\n"
        "**accepts/s** is the server's own accept count over the window; **connect p99** the "
        "clients' connect() to established, in microseconds; **vcsw/accept** the server's "
        "voluntary context switches per accept over the window; **futile/accept** the wake-ups "
        "that reached accept() and found the connection taken, over the server's lifetime "
        "(warm-up, window and drain, all under the same churn: the snapshots do not carry them). "
        "A loop woken for a connection that the kernel sees is gone before epoll_wait() returns "
        "sleeps again unseen: that part of the herd shows only in vcsw/accept. Median "
        "[min-max] over the repetitions.\n\n"
        + chart(
            report,
            ls,
            "accepts_per_s",
            "claims-accept-rate",
            "Accepts/s vs threads, a connection per request",
            "accepts/s (server, window)",
        )
        + "\n\n"
        + chart(
            report,
            ls,
            "futile_per_accept",
            "claims-accept-futile",
            "Futile wake-ups per accept vs threads "
            "(0 where no listener has two waiters: blocking, reuseport, reactor-pool)",
            "futile wake-ups per accept (server lifetime)",
        )
        + "\n\n"
        + chart(
            report,
            ls,
            "vcsw_per_accept",
            "claims-accept-vcsw",
            "Voluntary context switches per accept vs threads",
            "voluntary context switches per accept (window)",
        )
        + "\n\n"
        + table(
            [
                "line",
                "threads",
                "acceptors",
                "accepts/s",
                "connect p99 us",
                "vcsw/accept",
                "futile/accept",
                "Jain (accepts)",
            ],
            rows(report, ls),
            align="llrrrrrr",
        )
        + report.legend()
        + "\n"
    )


# --- the rules -------------------------------------------------------------------------


def cpu_note(run) -> str:
    n, _ = server_cpus(run)
    if n is None:
        return "the server's CPUs are not recorded"
    return f"the server had {n} CPU{'s' if n != 1 else ''}" + (
        ": more acceptor threads take turns on it, they cannot accept in parallel" if n == 1 else ""
    )


def m2(run, cases):
    """Does a second acceptor raise accepts/s? Per line whose acceptors grow with N: the
    1-thread case against the 2-thread case by the noise rule (the claim's first step;
    the best of the higher counts would pick the luckiest draw of several). Confirmed
    when every such line rises, refuted when none does, depends otherwise. The control
    (reactor-pool, one acceptor) is quoted beside: a rise it shows too is not the
    acceptors'."""
    ls = lines(cases)
    rises, texts = [], []
    for key in SCALED:
        per = ls.get(key, {})
        if 1 not in per or 2 not in per:
            continue
        d, text = _cmp(per[1], per[2], "accepts_per_s", key, 1, 2)
        if d is None:
            continue
        rises.append(bool(d.differ and d.sign > 0))
        texts.append(text)
    if not rises:
        return None
    verdict = CONFIRMED if all(rises) else (REFUTED if not any(rises) else DEPENDS)
    control = ls.get(("reactor-pool", "one-acceptor"), {})
    if 1 in control and 2 in control:
        _, text = _cmp(
            control[1], control[2], "accepts_per_s", ("reactor-pool", "one-acceptor"), 1, 2
        )
        texts.append("control, one acceptor throughout: " + text)
    return verdict, f"{cpu_note(run)}; accepts/s, 1 vs 2 threads: " + "; ".join(texts)


def wakeups_rise(a, b) -> list[str]:
    """The wake-up figures higher in b than in a beyond the noise."""
    out = []
    for counter in ("futile_per_accept", "vcsw_per_accept"):
        d, _ = compare(a, b, counter, u.plain)
        if d is not None and d.differ and d.sign > 0:
            out.append(counter)
    return out


def m5(run, cases):
    """Do too many acceptors on one socket lower accepts/s? Per shared-listener mode: its
    peak below the highest thread count against the highest count. Confirmed when every
    mode drops beyond the noise with more wake-ups per accept (futile or voluntary context
    switches) at the top while reuseport, N acceptors with no shared socket, does not;
    depends when some drop, when they drop with no more wake-ups (not contention then) or
    when reuseport drops too (the thread count, not the socket); refuted when none drops."""
    ls = lines(cases)
    drops, contended, texts = [], [], []
    control_drops = False
    for key in SHARED + [("reuseport", "sharded")]:
        per = ls.get(key, {})
        if len(per) < 2:
            continue
        top = max(per)
        below = {t: c for t, c in per.items() if t != top and c.c("accepts_per_s") is not None}
        if not below:
            continue
        peak = max(below, key=lambda t: below[t].c("accepts_per_s"))
        d, text = _cmp(per[peak], per[top], "accepts_per_s", key, peak, top)
        if d is None:
            continue
        dropped = bool(d.differ and d.sign < 0)
        rise = wakeups_rise(per[peak], per[top])
        text += (
            f"; futile/accept {val(per[peak], 'futile_per_accept', u.plain)} -> "
            f"{val(per[top], 'futile_per_accept', u.plain)}, vcsw/accept "
            f"{val(per[peak], 'vcsw_per_accept', u.plain)} -> "
            f"{val(per[top], 'vcsw_per_accept', u.plain)}"
        )
        if key[0] != "multi-accept":
            control_drops = dropped
            texts.append("control, no shared socket: " + text)
            continue
        drops.append(dropped)
        contended.append(dropped and bool(rise))
        texts.append(text)
    if not drops:
        return None
    if not any(drops):
        verdict = REFUTED
    elif all(contended) and not control_drops:
        verdict = CONFIRMED
    else:
        verdict = DEPENDS
    if control_drops:
        texts.append(
            "reuseport drops too with no socket to contend for: the drop comes with the "
            "thread count, not only with contention for the socket"
        )
    return verdict, f"{cpu_note(run)}; accepts/s, peak vs most threads: " + "; ".join(texts)


RULES = {"M2": m2, "M5": m5}

__all__ = ["NAME", "TITLE", "RULES", "section"]
