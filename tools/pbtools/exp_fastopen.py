"""Claims experiment "fastopen" (C2): TCP Fast Open on a connection per request
(bench/exp_fastopen.cpp). server-single and the load generator sit in two network
namespaces joined by a veth pair, with net.ipv4.tcp_fastopen=3 set in both (the
host's setting untouched); TFO is on both ends (loadgen --fastopen:
TCP_FASTOPEN_CONNECT; server --fastopen: TCP_FASTOPEN on the listener) or on neither,
at 1 and 16 connections.

The figure that can show the round trip TFO saves is connect() to the reply's first
byte; with TFO connect() returns at once, so connect latency is the syscall's there.
The kernel's TcpExt counters of each namespace (TCPFastOpenActive on the client's,
TCPFastOpenPassive on the server's) over the window say whether the SYNs carried the
requests. A client needs one ordinary handshake to get the server's cookie: the
warm-up's first connection does it.
"""

from __future__ import annotations

from . import analysis, gnuplot
from . import units as u
from .charts_style import bar_with_range, footer, range_cells
from .claims_evidence import CONFIRMED, DEPENDS, NOT_MEASURABLE, REFUTED
from .report_markdown import table, val

NAME = "fastopen"
TITLE = "TCP Fast Open on a connection per request"


def skip_reason(cases) -> str | None:
    """Why the cases did not run (no namespaces), when none of them did."""
    reasons = [(c.experiment or {}).get("skipped") for c in cases]
    if reasons and all(reasons):
        return str(reasons[0])
    return None


def pairs(cases) -> list:
    """[(connections, TFO off case, TFO on case)], both present and measured."""
    by = {
        (c.connections, c.extra.get("variant")): c
        for c in cases
        if c.c("first_byte_p50_us") is not None
    }
    out = []
    for n in sorted({n for n, _ in by}):
        off, on = by.get((n, "tfo-off")), by.get((n, "tfo-on"))
        if off and on:
            out.append((n, off, on))
    return out


def used(c) -> bool:
    """Did the kernel count SYNs that carried data, on both ends?"""
    a, p = c.c("tfo_active"), c.c("tfo_passive")
    return a is not None and p is not None and a > 0 and p > 0


def sysctl_text(cases) -> str:
    for c in cases:
        s = (c.experiment or {}).get("sysctl")
        if s:
            return str(s)
    return "net.ipv4.tcp_fastopen=3 in both namespaces"


def chart(report, ps) -> str:
    """First-byte p50 and p99, TFO off beside on, at each connection count."""
    blocks, plots, tics = [], [], []
    series = [
        ("off50", "first_byte_p50_us", False, "#ff7f0e", "p50, TFO off"),
        ("on50", "first_byte_p50_us", True, "#1f77b4", "p50, TFO on"),
        ("off99", "first_byte_p99_us", False, "#ffbb78", "p99, TFO off"),
        ("on99", "first_byte_p99_us", True, "#aec7e8", "p99, TFO on"),
    ]
    rows = {name: [] for name, *_ in series}
    for i, (n, off, on) in enumerate(ps):
        x = 5 * i
        tics.append(f"{gnuplot.quote(f'c{n}')} {x + 1.5}")
        for j, (name, counter, tfo, _, _) in enumerate(series):
            m = (on if tfo else off).measure(counter)
            if m is not None:
                median, lo, hi = range_cells(m, log=True)
                rows[name].append((x + j, median, 0.9, lo, hi))
    for name, _, _, colour, title in series:
        if rows[name]:
            blocks.append(gnuplot.datablock(name, rows[name]))
            plots += bar_with_range(name, colour, title)
    if not plots:
        return ""
    body = (
        "".join(blocks)
        + "set title 'connect() to first reply byte, TCP Fast Open off vs on'\n"
        + "set ylabel 'microseconds (log)'\nset logscale y 10\nset yrange [1:*]\nset grid ytics\n"
        + f"set xtics ({', '.join(tics)})\nset xrange [-1:{5 * len(ps) - 1}]\n"
        + "set key outside right top vertical\nset bmargin 5\n"
        + footer(report.patterns, {"single"}, "claims experiment: fastopen (server-single)")
        + "plot "
        + ", ".join(plots)
        + "\n"
    )
    return report.chart(
        gnuplot.Chart("claims-fastopen", "First-byte latency with and without TFO", body)
    )


def section(report, cases) -> str:
    ps = pairs(cases)
    if not ps:
        why = skip_reason(cases)
        return f"### {TITLE} (C2)\n\nNot measured: {why}.\n" if why else ""
    rows = []
    for n, off, on in ps:
        for tfo, c in (("off", off), ("on", on)):
            rows.append(
                [
                    f"c{n}",
                    tfo,
                    report.flag(c, val(c, "first_byte_p50_us", u.plain)),
                    val(c, "first_byte_p99_us", u.plain),
                    val(c, "connect_p50_us", u.plain) + " / " + val(c, "connect_p99_us", u.plain),
                    val(c, "rps", u.rate),
                    val(c, "tfo_active", u.count),
                    val(c, "tfo_passive", u.count),
                ]
            )
    return (
        f"### {TITLE} (C2)\n\n"
        "A connect, one 64-byte request and a close per request against server-single, the "
        "server and the client in two network namespaces joined by a veth pair, "
        f"{sysctl_text(cases)}. TFO on: TCP_FASTOPEN_CONNECT on the client, TCP_FASTOPEN on "
        "the listener. Latencies are microseconds, median [min-max] over the repetitions; "
        "with TFO connect() returns at once (its latency is the syscall's), so the first "
        "reply byte is the figure to compare. TCPFastOpenActive (client namespace) and "
        "TCPFastOpenPassive (server namespace) count, over the window, the connections whose "
        "SYN carried the request; the warm-up's first connection fetched the cookie. On a "
        "veth link the round trip TFO saves is tens of microseconds.\n\n"
        + chart(report, ps)
        + "\n\n"
        + table(
            [
                "connections",
                "TFO",
                "first byte p50 us",
                "first byte p99 us",
                "connect p50 / p99 us",
                "req/s",
                "TCPFastOpenActive",
                "TCPFastOpenPassive",
            ],
            rows,
            align="llrrrrrr",
        )
        + "\n"
    )


def show(c) -> str:
    return u.measure(u.plain, c.measure("first_byte_p50_us"))


def c2(run, cases):
    """Confirmed when TFO's first-byte p50 is lower than without it beyond the noise at
    every connection count AND the kernel counted SYNs with data (Active and Passive > 0
    with TFO, 0 without); depends when lower at some counts only; refuted (no measurable
    difference) when at none. Not measurable when TFO was not used or namespaces were
    missing. The saving is one round trip, microseconds on a veth link: said so."""
    ps = pairs(cases)
    if not ps:
        why = skip_reason(cases)
        return (NOT_MEASURABLE, f"fastopen did not run: {why}") if why else None
    unused = [f"c{n}" for n, _, on in ps if not used(on)]
    if unused:
        return NOT_MEASURABLE, (
            "TFO was not used (TCPFastOpenActive/Passive 0 with --fastopen) at " + ", ".join(unused)
        )
    leaked = [f"c{n}" for n, off, _ in ps if (off.c("tfo_passive") or 0) > 0]
    lower, texts = [], []
    for n, off, on in ps:
        d = analysis.differs(on, off, "first_byte_p50_us")
        if d is None:
            continue
        lower.append(bool(d.differ and d.sign > 0))
        saved = off.c("first_byte_p50_us") - on.c("first_byte_p50_us")
        texts.append(
            f"c{n}: first byte p50 TFO on {show(on)} us vs off {show(off)} us"
            + ("" if d.differ else " (ranges overlap: no measurable difference)")
            + f", {saved:.0f} us apart; TCPFastOpenPassive {u.count(on.c('tfo_passive'))} with TFO"
        )
    if not lower:
        return None
    verdict = CONFIRMED if all(lower) else (REFUTED if not any(lower) else DEPENDS)
    evidence = "; ".join(texts) + (
        ". On this veth link a round trip is tens of microseconds, so one saved round trip "
        "is that much"
    )
    if leaked:
        evidence += "; TFO counted without --fastopen at " + ", ".join(leaked)
    return verdict, evidence


RULES = {"C2": c2}

__all__ = ["NAME", "TITLE", "RULES", "section"]
