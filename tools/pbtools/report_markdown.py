"""Markdown for REPORT.md: table(), how prose names a pattern, the marks on table
cells and their legend, and the cell formats every section shares."""

from __future__ import annotations

from . import units as u
from .rundir import EXTERNAL, LATENCY_COUNTERS, Case, label


def table(headers, rows, align=None) -> str:
    """A GitHub markdown table. align: string of 'l'/'r' per column."""
    align = align or "l" + "r" * (len(headers) - 1)

    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|",
    ]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def server(pattern: str) -> str:
    """How prose names a pattern: by its binary; an external server (--external) by
    its name, marked external."""
    if pattern in EXTERNAL:
        return label(pattern)
    return f"server-{pattern}" if pattern and not pattern.startswith("server-") else pattern


# Marks on table cells, the same symbols in every table; the chart point of a verdict
# has the same shape (charts_style.py). Each table lists the marks it used under it.
MARK_ERRORS = "⚠"
MARK_GEN_BUSY = "◇"
MARK_GEN_LATE = "△"
MARK_SATURATED = "□"
MARK_FOREIGN = "※"
MARK_BRINGUP = "◔"
LOWER_BOUND = "≥"
MARK_ORDER = [
    MARK_ERRORS,
    MARK_GEN_BUSY,
    MARK_GEN_LATE,
    MARK_SATURATED,
    MARK_FOREIGN,
    MARK_BRINGUP,
    LOWER_BOUND,
]
LEGEND = {
    MARK_ERRORS: "the case had errors; its numbers are not trustworthy (see [Errors](#errors))",
    MARK_GEN_BUSY: "**generator-bound**: a load-generator thread was busy for more than 90% of the window, "
    "so the rate and latencies describe the generator as much as the server; compare server "
    "CPU per request instead",
    MARK_GEN_LATE: "**generator late**: open loop, the generator sent its requests late (p99 send lateness "
    "over the bound), so the server was not offered the planned rate",
    MARK_SATURATED: "**server saturated**: achieved under 99% of the offered rate while the generator sent "
    "on time: the server's limit, a finding rather than a fault",
    MARK_FOREIGN: "**foreign load**: other work used more than 5% of a CPU during the window "
    "(see [Foreign load](#foreign-load))",
    MARK_BRINGUP: "not every connection came up within the bring-up timeout; the case ran with those that did "
    "(see [How this was measured](#how-this-was-measured))",
    LOWER_BOUND: "**lower bound**: the open-loop plan had requests that were never sent (overload); they count "
    "only what they had waited when the run ended, so the real percentile is higher",
}
VERDICT_MARK = {
    "generator-busy": MARK_GEN_BUSY,
    "generator-late": MARK_GEN_LATE,
    "server-saturated": MARK_SATURATED,
}
VERDICT_TEXT = {
    "generator-busy": "generator busy",
    "generator-late": "generator late",
    "server-saturated": "server saturated",
    "ok": "ok",
}


def case_marks(case: Case) -> list[str]:
    """The marks a case's cells carry, in legend order."""
    marks = []
    if case.has_errors:
        marks.append(MARK_ERRORS)
    kind = case.verdict()[0]
    if case.generator_bound or kind == "generator-busy":
        marks.append(MARK_GEN_BUSY)
    elif kind in VERDICT_MARK:
        marks.append(VERDICT_MARK[kind])
    if case.foreign_load:
        marks.append(MARK_FOREIGN)
    if case.bringup_incomplete:
        marks.append(MARK_BRINGUP)
    return marks


def lat(case: Case, key: str) -> str:
    """A latency percentile cell, median [min-max] over the repetitions ("p50", "p99",
    "p99.9"; other percentiles exist only in the repetition of record's histogram):
    "≥ 1.23 ms" when unsent requests make it a lower bound."""
    text = (
        u.measure(u.latency, case.measure(key))
        if key in LATENCY_COUNTERS
        else u.latency(case.latency(key))
    )
    return f"{LOWER_BOUND} {text}" if case.latency_is_lower_bound and text != u.DASH else text


def val(case: Case, counter: str, fmt) -> str:
    """A counter cell: the median and, with repetitions, its [min-max]."""
    return u.measure(fmt, case.measure(counter))


def rate(case: Case) -> str:
    return val(case, "rps", u.compact_rate)


def said(m, fmt) -> str:
    """A number in a sentence: as in the tables, median [min-max]."""
    return u.measure(fmt, m)


# Every closed-loop latency table and chart carries this: in a closed loop each
# connection has one request in flight, so latency and throughput are two views of
# one number, and patterns compared at the same connection count run at different rates.
CLOSED_LOOP_NOTE = (
    "closed loop: latency = connections / throughput (Little's law); "
    "patterns at different throughput"
)
ONE_REPETITION_NOTE = "one repetition per case: no ranges, differences are not tested"


def closed_loop(case: Case) -> bool:
    return not case.offered_rps and (case.loadgen or {}).get("mode") != "open"


def onoff(b) -> str:
    return u.DASH if b is None else ("on" if b else "off")
