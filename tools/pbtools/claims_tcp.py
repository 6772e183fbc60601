"""The claim rules about TCP itself rather than a server pattern: N (Nagle's algorithm
and TCP_NODELAY, read from the Nagle run) and C (connections and kernel buffers)."""

from __future__ import annotations

import os

from . import units as u
from .claims_evidence import (
    CONFIRMED,
    DEPENDS,
    NOT_MEASURABLE,
    REFUTED,
    absent,
    compare,
    judge,
    judged,
    label,
    matrix,
    show,
)
from .rundir import Case, dig, num, pattern_key

# A Nagle exchange of this many microseconds or more is a stall (the harness's kStallUs).
STALL_US = 30000.0
NAGLE_MISSING = "needs the Nagle run: `make bench-nagle`"


# --- N: Nagle --------------------------------------------------------------------------------


def nagle_missing(run) -> tuple[str, str]:
    text = NAGLE_MISSING
    link = sibling_nagle_report(run)
    if link:
        text += f" (the newest one next to this run: [{link[0]}]({link[1]}))"
    return NOT_MEASURABLE, text


def sibling_nagle_report(run):
    """(name, relative link) of the newest nagle run directory next to this one with a REPORT.md."""
    parent = os.path.dirname(run.path.rstrip("/"))
    try:
        names = sorted(os.listdir(parent), reverse=True)
    except OSError:
        return None
    for n in names:
        if (
            n.endswith("-nagle")
            and n != os.path.basename(run.path.rstrip("/"))
            and os.path.isfile(os.path.join(parent, n, "REPORT.md"))
        ):
            return n, f"../{n}/REPORT.md"
    return None


def upside(run):
    up = {c.client_nodelay: c for c in run.of_kind("nagle-upside")}
    return up.get(True), up.get(False)


def cell(run, client, server, write, quickack=False):
    for c in run.of_kind("nagle"):
        if (c.client_nodelay, c.server_nodelay, c.write_pattern, bool(c.quickack)) == (
            client,
            server,
            write,
            quickack,
        ):
            return c
    return None


def n1(run):
    return judged(
        upside(run),
        "segs_out_per_req",
        u.plain,
        higher=False,
        what="client segments per request, ",
        missing=nagle_missing(run),
    )


def stalls(c: Case) -> bool:
    p50 = c.latency("p50")
    return p50 is not None and p50 >= STALL_US


def n2(run):
    split, one = cell(run, False, True, "split"), cell(run, False, True, "writev")
    if split is None:
        return nagle_missing(run)
    text = f"{label(split)}: p50 {show(split, 'p50', u.latency)}"
    if one is not None:
        text += f"; the same bytes in one write ({label(one)}): p50 {show(one, 'p50', u.latency)}"
    verdict = CONFIRMED if stalls(split) and (one is None or not stalls(one)) else REFUTED
    return verdict, (
        text + ": the second write waited for the ACK; the full-segment condition is not "
        "isolated (no request here reaches a full segment)"
    )


def n3(run):
    on, off = upside(run)
    if on is None or off is None:
        return nagle_missing(run)
    d1, t1_ = compare(on, off, "rps", u.compact_rate)
    d2, t2_ = compare(on, off, "cpu_us_per_req", u.plain)
    v1, v2 = judge(d1, True), judge(d2, False)
    if on.generator_bound or off.generator_bound:
        v1, t1_ = v2, t1_ + " (generator-bound: not ranked)"
    return (v1 if v1 == v2 else DEPENDS), f"req/s {t1_}; CPU us per request {t2_}"


def n4(run):
    off, on = cell(run, False, True, "split"), cell(run, True, True, "split")
    if off is None or on is None:
        return nagle_missing(run)
    d, text = compare(on, off, "p50", u.latency)
    sf = show(off, "stall_fraction", u.percent)
    verdict = CONFIRMED if stalls(off) and judge(d, True) == CONFIRMED else REFUTED
    return verdict, f"split writes, p50 {text}; exchanges over 30 ms with nodelay off: {sf}"


def n5(run):
    c_off, c_on = cell(run, False, True, "split"), cell(run, True, True, "split")
    s_off = cell(run, True, False, "split")
    if c_off is None or c_on is None:
        return nagle_missing(run)
    client_matters = stalls(c_off) and not stalls(c_on)
    text = (
        f"client's nodelay: off p50 {show(c_off, 'p50', u.latency)}, on {show(c_on, 'p50', u.latency)} "
        "(the client writes the split request)"
    )
    if s_off is None:
        text += "; no cell with only the server's nodelay off in this run"
        return (CONFIRMED if client_matters else REFUTED), text
    server_matters = stalls(s_off)
    text += f"; server's nodelay off with the client's on: p50 {show(s_off, 'p50', u.latency)}"
    return (CONFIRMED if client_matters and not server_matters else REFUTED), text


# --- C ---------------------------------------------------------------------------------------


def c1(run):
    for p in sorted({c.pattern for c in run.of_kind("matrix")}, key=pattern_key):
        keep, churn = matrix(run, p, "tiny"), matrix(run, p, "churn")
        common = sorted(set(keep) & set(churn))
        if common:
            n = common[-1]
            d, text = compare(keep[n], churn[n], "cpu_us_per_req", u.plain)
            return (
                judge(d, True),
                f"CPU us per request, keep-alive vs a connection per request: {text}",
            )
    return absent(
        "needs tiny (keep-alive) and churn cases of one pattern at the same connection count"
    )


def c2(run):
    return absent("no case enables TCP Fast Open (TCP_FASTOPEN is set on neither side)")


def c3(run):
    """Bytes and connections wait in the kernel: replies in the client's receive queue
    (kernel receive timestamp to read), connections in the server's accept queue, and,
    in the Nagle run, the server's written-but-unsent bytes."""
    parts = []
    waited = False
    cs = [
        c for c in run.cases if num(dig(c.loadgen, "generator", "recv_delay_us", "p50")) is not None
    ]
    if cs:
        p50 = sorted(num(dig(c.loadgen, "generator", "recv_delay_us", "p50")) for c in cs)
        p99 = sorted(num(dig(c.loadgen, "generator", "recv_delay_us", "p99")) or 0 for c in cs)
        med = p50[len(p50) // 2]
        waited = waited or med > 0
        parts.append(
            f"replies waited in the client's receive queue (kernel timestamp to read) "
            f"{u.latency(med)} at the median case's p50, p99 up to {u.latency(p99[-1])}, over "
            f"{len(cs)} cases"
        )
    queued = [c for c in run.cases if c.c("accept_queue_max") is not None]
    if queued:
        c = max(queued, key=lambda c: c.c("accept_queue_max"))
        waited = waited or c.c("accept_queue_max") > 0
        parts.append(
            f"connections waited to be accepted, up to {show(c, 'accept_queue_max', u.count)} "
            f"in one listener's queue ({label(c)})"
        )
    unsent = [
        (num(dig(c.measurement, "kernel", "socket_queues", "unsent_max")), c)
        for c in run.cases
        if num(dig(c.measurement, "kernel", "socket_queues", "unsent_max"))
    ]
    if unsent:
        n, c = max(unsent, key=lambda x: x[0])
        waited = True
        parts.append(f"up to {u.count(n)} bytes written and not yet sent ({label(c)})")
    if not parts:
        return absent(
            "the records have no receive delay (generator.recv_delay_us) and no kernel queue "
            "samples (measurement.kernel)"
        )
    return (CONFIRMED if waited else REFUTED), "; ".join(parts)
