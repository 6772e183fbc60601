"""Claims experiment "queue" (Q5, Q6): server-worker-queue's hand-off between its one
I/O loop and its workers (bench/exp_queue.cpp), in three parts:

    backpressure  --queue-depth 4 vs the default 1024 at 256 connections: the queue's
                  high-water mark (stats file), p99 and throughput; server-single at the
                  same load is the line without a hand-off
    order         8 requests in flight per connection: replies carrying another
                  in-flight id (reorders) or one answered before (duplicates)
    loss          SIGKILL or SIGTERM half-way through the window: lost = sent - verified,
                  split into in flight at the signal and sent after it; connect errors
                  (reconnects refused afterwards) apart
"""

from __future__ import annotations

from . import gnuplot
from . import units as u
from .charts_style import bar_with_range, range_cells
from .claims_evidence import CONFIRMED, DEPENDS, REFUTED, compare, show
from .report_markdown import table, val

NAME = "queue"
TITLE = "Worker-queue hand-off: backpressure, order and loss"

# variant -> label, in the order of the charts and the table.
DEPTHS = {"depth4": "queue depth 4", "depth1024": "queue depth 1024", "no-handoff": "server-single"}
SIGNALS = {
    "sigkill": "SIGKILL",
    "sigterm": "SIGTERM",
    "sigterm-pipeline8": "SIGTERM, 8 in flight",
}
PIPELINED = "pipeline8"
COLOURS = ["#1f77b4", "#ff7f0e", "#7f7f7f"]


def by_variant(cases) -> dict:
    return {str(c.extra.get("variant") or ""): c for c in cases}


def _m(c, counter):
    """The counter's median, or None."""
    return c.c(counter) if c is not None else None


def _hi(c, counter):
    """The counter's highest value over the repetitions, or None."""
    m = c.measure(counter) if c is not None else None
    return m.hi if m is not None else None


# --- charts ----------------------------------------------------------------------------


def bars(report, name, title, ylabel, items) -> str:
    """One bar per (label, case, counter), the range bar over the repetitions on top."""
    body, plots, tics = [], [], []
    for i, (label, c, counter, colour) in enumerate(items):
        m = c.measure(counter) if c is not None else None
        if m is None:
            continue
        body.append(gnuplot.datablock(f"b{i}", [(i, m.value, 0.6, *range_cells(m)[1:])]))
        plots += bar_with_range(f"b{i}", colour, label)
        tics.append(f"{gnuplot.ticlabel(label)} {i}")
    if not plots:
        return ""
    body.append(
        f"set title {gnuplot.quote(title)}\n"
        f"set ylabel {gnuplot.quote(ylabel)}\n"
        f"set xrange [-0.6:{len(items) - 0.4}]\nset yrange [0:*]\n"
        f"set xtics ({', '.join(tics)}) scale 0\nset grid ytics\nset key off\n"
        "plot " + ", ".join(plots) + "\n"
    )
    return report.chart(gnuplot.Chart(name, title, "".join(body), 800, 420))


def depth_charts(report, v) -> str:
    items = [(DEPTHS[k], v.get(k), "", COLOURS[i]) for i, k in enumerate(DEPTHS)]
    p99 = bars(
        report,
        "claims-queue-p99",
        "p99 at 256 connections by queue depth (server-single: no hand-off)",
        "p99 latency (us)",
        [(lbl, c, "p99_us", col) for lbl, c, _, col in items],
    )
    rps = bars(
        report,
        "claims-queue-rps",
        "Throughput at 256 connections by queue depth (server-single: no hand-off)",
        "requests/s",
        [(lbl, c, "rps", col) for lbl, c, _, col in items],
    )
    return "\n\n".join(x for x in (p99, rps) if x)


LOSS_SERIES = [
    ("lost_in_flight", "lost: in flight at the signal", "#d62728"),
    ("lost_after_signal", "lost: sent after the signal", "#ff9896"),
    ("duplicates", "duplicates", "#2ca02c"),
]


def loss_chart(report, v) -> str:
    """Per signal (a group on the x axis), a bar per LOSS_SERIES counter."""
    signals = [(k, label) for k, label in SIGNALS.items() if v.get(k) is not None]
    if not signals:
        return ""
    width = 0.8 / len(LOSS_SERIES)
    body, plots = [], []
    for s, (counter, title, colour) in enumerate(LOSS_SERIES):
        rows = []
        for g, (k, _) in enumerate(signals):
            m = v[k].measure(counter)
            if m is not None:
                rows.append((g - 0.4 + (s + 0.5) * width, m.value, width, *range_cells(m)[1:]))
        if rows:
            body.append(gnuplot.datablock(f"s{s}", rows))
            plots += bar_with_range(f"s{s}", colour, title)
    if not plots:
        return ""
    tics = ", ".join(f"{gnuplot.ticlabel(label)} {g}" for g, (_, label) in enumerate(signals))
    title = "Requests lost and duplicated, per signal sent half-way through the window"
    body.append(
        f"set title {gnuplot.quote(title)}\n"
        "set ylabel 'requests'\n"
        f"set xrange [-0.6:{len(signals) - 0.4}]\nset yrange [0:*]\n"
        f"set xtics ({tics}) scale 0\nset grid ytics\n"
        "set key outside right top vertical Left reverse samplen 2\n"
        "plot " + ", ".join(plots) + "\n"
    )
    return report.chart(gnuplot.Chart("claims-queue-loss", title, "".join(body), 960, 420))


# --- the section -----------------------------------------------------------------------


def rows(report, v) -> list:
    out = []
    order = list(DEPTHS) + [PIPELINED] + list(SIGNALS)
    for k in order:
        c = v.get(k)
        if c is None:
            continue
        label = DEPTHS.get(k) or SIGNALS.get(k) or "8 in flight per connection"
        out.append(
            [
                label,
                str(c.connections),
                report.flag(c, val(c, "rps", u.compact_rate)),
                val(c, "p99_us", u.plain),
                val(c, "queue_high_water", u.count),
                val(c, "reorders", u.count),
                val(c, "duplicates", u.count),
                val(c, "lost_in_flight", u.count),
                val(c, "lost_after_signal", u.count),
                val(c, "connect_errors", u.count),
            ]
        )
    return out


def section(report, cases) -> str:
    v = by_variant(cases)
    if not v:
        return ""
    return (
        f"### {TITLE} (Q5, Q6)\n\n"
        "server-worker-queue: one I/O loop parses requests and pushes them into a bounded "
        "queue that its workers pop; a connection has one request in the queue or with a "
        "worker at a time. **Backpressure**: with the queue full the loop stops reading that "
        "connection (the client's TCP window pushes back) until a worker frees a slot; "
        "--queue-depth 4 against the default 1024 at 256 connections, server-single at the "
        "same load as the line with no hand-off. **high-water** is the deepest the queue got "
        "(the server's stats file). **Order**: 8 requests in flight per connection; a reply "
        "carrying another in-flight id is a **reorder**, one carrying an id answered before a "
        "**duplicate**. **Loss**: the server is sent SIGKILL or SIGTERM half-way through the "
        "window; **lost in flight** are requests sent before the signal and never answered, "
        "**sent after** those written after it (to a server stopping or gone, answered by a "
        "reset); **connect errors** are the refused reconnects that followed (no request "
        "sent). SIGTERM drains: each connection's request in hand is answered, then the "
        "connection closes, so requests pipelined behind it are dropped. Median [min-max] "
        "over the repetitions.\n\n"
        + depth_charts(report, v)
        + "\n\n"
        + loss_chart(report, v)
        + "\n\n"
        + table(
            [
                "case",
                "conns",
                "req/s",
                "p99 us",
                "high-water",
                "reorders",
                "duplicates",
                "lost in flight",
                "sent after",
                "connect errors",
            ],
            rows(report, v),
            align="lrrrrrrrrr",
        )
        + report.legend()
        + "\n"
    )


# --- the rules -------------------------------------------------------------------------


def q5(run, cases):
    """Does the hand-off add latency and reorder replies? Reorders over every case
    (confirmed when any); with none, the hand-off's p99 (queue depth 1024, 256
    connections) against server-single's at the same load by the noise rule: higher is
    "depends" (latency yes, reordering no), not higher refuted."""
    v = by_variant(cases)
    counted = [c for c in cases if _m(c, "reorders") is not None]
    if not counted:
        return None
    reorders = sum(_hi(c, "reorders") or 0 for c in counted)
    pipe = v.get(PIPELINED)
    order = (
        f"reorders {show(pipe, 'reorders', u.count)} with 8 requests in flight per connection"
        if pipe is not None
        else f"reorders {u.count(reorders)} over {len(counted)} cases"
    )
    if reorders > 0:
        return CONFIRMED, f"{order}; {u.count(reorders)} over every case"
    wq, single = v.get("depth1024"), v.get("no-handoff")
    if wq is None or single is None:
        return REFUTED, f"{order}; no server-single case at the same load for the latency"
    d, text = compare(single, wq, "p99_us", u.plain)
    if d is not None and d.differ and d.sign > 0:
        return DEPENDS, f"adds latency, keeps order: p99 us {text}; {order}"
    return REFUTED, f"no added latency, no reorder: p99 us {text}; {order}"


def q6(run, cases):
    """Does a failing queue lose or duplicate messages? The requests in flight at
    SIGKILL against those at SIGTERM (which drains): duplicates anywhere, or SIGTERM
    losing some, confirm; SIGKILL losing some while SIGTERM loses none is "depends";
    neither losing any refutes."""
    v = by_variant(cases)
    kill, term = v.get("sigkill"), v.get("sigterm")
    if kill is None or term is None:
        return None
    k_lost, t_lost = _m(kill, "lost_in_flight"), _hi(term, "lost_in_flight")
    if k_lost is None or t_lost is None:
        return None
    dups = sum(_hi(c, "duplicates") or 0 for c in cases)
    text = (
        f"SIGKILL lost {show(kill, 'lost_in_flight', u.count)} in flight "
        f"(+{show(kill, 'lost_after_signal', u.count)} sent after it), "
        f"SIGTERM {show(term, 'lost_in_flight', u.count)} in flight "
        f"(+{show(term, 'lost_after_signal', u.count)} sent after it); duplicates {u.count(dups)}"
    )
    piped = v.get("sigterm-pipeline8")
    if piped is not None and _m(piped, "lost_in_flight") is not None:
        text += (
            f"; SIGTERM with 8 in flight per connection lost "
            f"{show(piped, 'lost_in_flight', u.count)} in flight (the drain answers one per "
            "connection and drops the rest)"
        )
    if dups > 0 or t_lost > 0:
        return CONFIRMED, text
    if k_lost > 0:
        return DEPENDS, "depends on how it fails: " + text
    return REFUTED, text


RULES = {"Q5": q5, "Q6": q6}
