"""Claims experiment "connection" (C1): what a connection per request costs against
a connection kept open, on the same server and the same 64-byte exchange
(bench/exp_connection.cpp). The cost is the server's CPU per request (its own
accounting) and the latency of the reply; the churn side also shows where its time
goes: connect() to established, and connect() to the reply's first byte.

At 1 connection nothing queues, so the latencies are the exchange's own; at 16 the
loop is closed (latency = connections / throughput) and the generator may be the
bottleneck of the cheap keep-alive case, so only CPU per request is compared there.
"""

from __future__ import annotations

from . import gnuplot
from . import units as u
from .charts_style import bar_with_range, footer, range_cells
from .claims_evidence import CONFIRMED, DEPENDS, REFUTED, compare
from .report_markdown import table, val
from .rundir import pattern_key

NAME = "connection"
TITLE = "A connection per request against a connection kept open"


def pairs(cases) -> list:
    """[(pattern, connections, keep-alive case, churn case)], both sides present."""
    by = {(c.pattern, c.connections, c.workload): c for c in cases}
    out = []
    for p, n in sorted(
        {(c.pattern, c.connections) for c in cases}, key=lambda k: (pattern_key(k[0]), k[1] or 0)
    ):
        keep, churn = by.get((p, n, "tiny")), by.get((p, n, "churn"))
        if keep and churn:
            out.append((p, n, keep, churn))
    return out


def cost_ratio(keep, churn) -> float | None:
    a, b = keep.c("cpu_us_per_req"), churn.c("cpu_us_per_req")
    return b / a if a and b is not None else None


def chart(report, ps) -> str:
    """CPU us per request, keep-alive beside churn, per pattern and connection count."""
    if not ps:
        return ""
    keep_rows, churn_rows, tics = [], [], []
    for i, (p, n, keep, churn) in enumerate(ps):
        x = 3 * i
        tics.append(f"{gnuplot.quote(f'{p} c{n}')} {x + 0.5}")
        for rows, c, dx in ((keep_rows, keep, 0), (churn_rows, churn, 1)):
            m = c.measure("cpu_us_per_req")
            if m is None:
                continue
            median, lo, hi = range_cells(m)
            rows.append((x + dx, median, 0.9, lo, hi))
    body = (
        gnuplot.datablock("keep", keep_rows)
        + gnuplot.datablock("churn", churn_rows)
        + "set title 'Server CPU per request: a connection kept open vs one per request'\n"
        + "set ylabel 'server CPU us per request'\nset yrange [0:*]\nset grid ytics\n"
        + f"set xtics ({', '.join(tics)})\nset xrange [-1:{3 * len(ps) - 1}]\n"
        + "set key outside right top vertical\nset bmargin 5\n"
        + footer(report.patterns, {p for p, *_ in ps}, "claims experiment: connection")
        + "plot "
        + ", ".join(
            bar_with_range("keep", "#1f77b4", "keep-alive (tiny)")
            + bar_with_range("churn", "#d62728", "a connection per request (churn)")
        )
        + "\n"
    )
    return report.chart(
        gnuplot.Chart("claims-connection-cpu", "Server CPU per request, keep-alive vs churn", body)
    )


def section(report, cases) -> str:
    ps = pairs(cases)
    if not ps:
        return ""
    rows = []
    for p, n, keep, churn in ps:
        rows.append(
            [
                f"{p} c{n}",
                report.flag(keep, val(keep, "cpu_us_per_req", u.plain)),
                report.flag(churn, val(churn, "cpu_us_per_req", u.plain)),
                u.ratio(cost_ratio(keep, churn)),
                val(keep, "p50_us", u.plain) + " / " + val(keep, "p99_us", u.plain),
                val(churn, "connect_p50_us", u.plain)
                + " / "
                + val(churn, "connect_p99_us", u.plain),
                val(churn, "first_byte_p50_us", u.plain)
                + " / "
                + val(churn, "first_byte_p99_us", u.plain),
            ]
        )
    return (
        f"### {TITLE} (C1)\n\n"
        "The same server and the same 64-byte exchange over connections kept open (tiny) and "
        "with a connect, one request and a close each time (churn). Server CPU per request is the "
        "server's own accounting over the window; latencies are microseconds, median [min-max] over "
        "the repetitions. At 1 connection nothing queues; at 16 the loop is closed (latency = "
        "connections / throughput), so compare CPU per request there.\n\n"
        + chart(report, ps)
        + "\n\n"
        + table(
            [
                "server, connections",
                "keep-alive CPU us/req",
                "churn CPU us/req",
                "churn / keep-alive",
                "keep-alive p50 / p99 us",
                "churn connect p50 / p99 us",
                "churn first byte p50 / p99 us",
            ],
            rows,
            align="lrrrrrr",
        )
        + "\n"
    )


def c1(run, cases):
    """Confirmed when a connection per request costs the server more CPU per request than
    a kept connection for every pattern and count measured (beyond the noise); depends
    when it does for some and not others; refuted when for none."""
    ps = pairs(cases)
    if not ps:
        return None
    more, texts = [], []
    for p, n, keep, churn in ps:
        d, text = compare(keep, churn, "cpu_us_per_req", u.plain)
        if d is None:
            continue
        more.append(bool(d.differ and d.sign > 0))
        r = cost_ratio(keep, churn)
        texts.append(f"{text} ({u.ratio(r)})" if r else text)
    if not more:
        return None
    verdict = CONFIRMED if all(more) else (REFUTED if not any(more) else DEPENDS)
    return verdict, "server CPU us per request, keep-alive vs churn: " + "; ".join(texts)


RULES = {"C1": c1}

__all__ = ["NAME", "TITLE", "RULES", "section"]
