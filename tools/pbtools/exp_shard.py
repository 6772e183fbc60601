"""Claims experiment "shard" (R3, R6): two server-reuseport processes (one loop each)
share one port under connection churn (bench/exp_shard.cpp); half-way through the
window one is sent SIGKILL. The client's errors by class, the time until a new
connection is served again (a probe making one verified request on a new connection
every 2 ms), the requests each shard served (stats files; the killed shard writes
none) and replies seen twice. The control runs the same load without the kill.
"""

from __future__ import annotations

from . import gnuplot
from . import units as u
from .charts_style import bar_with_range, footer, range_cells
from .claims_evidence import CONFIRMED, DEPENDS, REFUTED, show
from .report_markdown import table, val

NAME = "shard"
TITLE = "Socket sharding: one of two reuseport shards killed"

VARIANTS = {"kill": "one shard SIGKILLed", "control": "no kill (control)"}
# New connections served again within this after the kill: the survivor took over.
RECOVERY_BOUND_MS = 1000.0


def by_variant(cases) -> dict:
    return {str(c.extra.get("variant") or ""): c for c in cases}


def rows(report, v) -> list:
    out = []
    for k, label in VARIANTS.items():
        c = v.get(k)
        if c is None:
            continue
        out.append(
            [
                label,
                report.flag(c, val(c, "rps", u.compact_rate)),
                val(c, "p99_us", u.plain),
                val(c, "errors_connect", u.count),
                val(c, "errors_reset", u.count),
                val(c, "errors_timeout", u.count),
                val(c, "lost", u.count),
                val(c, "probe_failures_after_kill", u.count),
                val(c, "recovery_ms", u.plain),
                val(c, "survivor_requests", u.count),
                val(c, "killed_requests", u.count),
                val(c, "duplicates", u.count),
            ]
        )
    return out


# The chart's bars: what became of the requests, per case.
SERIES = [
    ("verified", "answered (verified)", "#2ca02c"),
    ("lost", "lost (sent - verified)", "#d62728"),
    ("errors", "client errors", "#ff7f0e"),
]


def chart(report, v) -> str:
    """What became of the requests with one shard killed and without: answered, lost
    and client errors side by side, log y (thousands answered, a handful lost)."""
    present = [(k, label) for k, label in VARIANTS.items() if k in v]
    blocks, plots, tics = [], [], []
    for i, (k, label) in enumerate(present):
        tics.append(f"{gnuplot.quote(label)} {4 * i + 1}")
    for j, (counter, title, colour) in enumerate(SERIES):
        rows = []
        for i, (k, _) in enumerate(present):
            median, lo, hi = range_cells(v[k].measure(counter), log=True)
            rows.append((4 * i + j, median, 0.9, lo, hi))
        blocks.append(gnuplot.datablock(f"s{j}", rows))
        plots += bar_with_range(f"s{j}", colour, title)
    body = (
        "".join(blocks)
        + "set title 'Two reuseport shards under churn: one SIGKILLed half-way, and a control'\n"
        + "set ylabel 'requests (log)'\nset logscale y\nset yrange [0.5:*]\nset grid ytics\n"
        + f"set xtics ({', '.join(tics)})\nset xrange [-1:{4 * len(present) - 1}]\n"
        + "set key outside right top vertical\nset bmargin 5\n"
        + footer(report.patterns, {"reuseport"}, "shard experiment; 0 draws no bar")
        + "plot "
        + ", ".join(plots)
        + "\n"
    )
    return report.chart(gnuplot.Chart("claims-shard", "Requests answered, lost and failed", body))


def section(report, cases) -> str:
    v = by_variant(cases)
    if not v:
        return ""
    return (
        f"### {TITLE} (R3, R6)\n\n"
        "Two server-reuseport processes, one loop each, listen on one port (SO_REUSEPORT "
        "across processes); 16 clients open a connection per request, so the kernel's hash "
        "spreads every new connection over both. Half-way through the window one shard is "
        "sent SIGKILL. **connect / reset / timeout** are the client's errors by class "
        "(reset: the connection failed with its request in flight); **lost** = requests sent "
        "- replies verified; **probe failures** and **recovery ms** come from a probe that "
        "makes one verified request on a new connection every 2 ms: recovery is the time from "
        "the kill to the first probe of the unbroken run of successes that ends the window (0: "
        "no probe failed). **shard A / B requests** are each server's own count (stats file; "
        "B, killed, writes none). The client cannot tell which shard a failed request was on. "
        "Median [min-max] over the repetitions.\n\n"
        + chart(report, v)
        + "\n\n"
        + table(
            [
                "case",
                "req/s",
                "p99 us",
                "connect",
                "reset",
                "timeout",
                "lost",
                "probe failures",
                "recovery ms",
                "shard A requests",
                "shard B requests",
                "duplicates",
            ],
            rows(report, v),
            align="lrrrrrrrrrrr",
        )
        + report.legend()
        + "\n"
    )


# --- the rules -------------------------------------------------------------------------


def r3(run, cases):
    """Does a failure stay in its shard? Confirmed when, after one shard's SIGKILL, the
    survivor served requests and new connections were served again within
    RECOVERY_BOUND_MS in every repetition; refuted when they never were (or the survivor
    served none); depends when recovery took longer."""
    v = by_variant(cases)
    kill = v.get("kill")
    if kill is None or kill.c("probes_after_kill") is None:
        return None
    rec = kill.measure("recovery_ms")
    survivor = kill.c("survivor_requests")
    errors = (
        f"client errors: {show(kill, 'errors_connect', u.count)} connect, "
        f"{show(kill, 'errors_reset', u.count)} reset, "
        f"{show(kill, 'errors_timeout', u.count)} timeout; lost {show(kill, 'lost', u.count)} "
        f"of {show(kill, 'sent', u.count)}"
    )
    control = v.get("control")
    if control is not None:
        errors += f" (control without the kill: {show(control, 'errors', u.count)} errors)"
    if rec is None or not survivor:
        return REFUTED, (
            "new connections were not served again after the kill "
            f"(survivor served {u.count(survivor)}); {errors}"
        )
    text = (
        f"new connections served again {show(kill, 'recovery_ms', u.plain)} ms after the kill "
        f"({show(kill, 'probe_failures_after_kill', u.count)} of "
        f"{show(kill, 'probes_after_kill', u.count)} probes failed); the survivor served "
        f"{show(kill, 'survivor_requests', u.count)}; {errors}"
    )
    if rec.hi < RECOVERY_BOUND_MS:
        return CONFIRMED, text
    return DEPENDS, f"recovery beyond {RECOVERY_BOUND_MS:.0f} ms in some repetition: {text}"


def r6(run, cases):
    """Can two shards process one request? Every reply is matched to its request's id:
    any duplicate confirms, none refutes (with the count of verified requests)."""
    counted = [c for c in cases if c.c("duplicates") is not None]
    if not counted:
        return None
    dups = sum((c.measure("duplicates").hi or 0) for c in counted)
    verified = sum(c.c("verified") or 0 for c in counted)
    text = (
        f"{u.count(dups)} duplicates over {u.count(verified)} verified requests "
        f"(medians, {len(counted)} cases, with and without a shard killed)"
    )
    return (CONFIRMED if dups > 0 else REFUTED), text


RULES = {"R3": r3, "R6": r6}
