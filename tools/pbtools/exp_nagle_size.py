"""Claims experiment "nagle-size" (N2): what Nagle's algorithm makes of writes of one
size over a 1500-byte MTU (bench/exp_nagle_size.cpp). The server and the client sit in
two network namespaces joined by a veth pair; the client streams requests made of
writes of 20 to 4,000 bytes with Nagle on or off, and its own TCP_INFO gives data
bytes per data segment and data segments per write over the window.

Two links: "fast" (the veth as it is: an ACK is back within microseconds) and
"slowack" (a 1 Mbit/s token bucket on the server's egress holds its ACKs back for
milliseconds while the client's direction stays fast). Nagle sends a held-back small
segment when a full segment has formed OR when the ACK of the previous one arrives: on
the fast link the ACK usually comes first, on the slowack link the full segment does.
"""

from __future__ import annotations

from . import gnuplot
from . import units as u
from .charts_style import footer, range_cells
from .claims_evidence import CONFIRMED, NOT_MEASURABLE, REFUTED
from .report_markdown import table, val
from .values import num

NAME = "nagle-size"
TITLE = "Nagle's algorithm over a 1500-byte MTU: bytes per segment by write size"

LINKS = ["fast", "slowack"]
LINK_TEXT = {
    "fast": "fast link (veth, microsecond round trip)",
    "slowack": "slow-ACK link (1 Mbit/s on the server's egress)",
}
# The MSS over a 1500-byte MTU with TCP timestamps, when no case recorded its own.
DEFAULT_MSS = 1448
# "Near the MSS": Nagle's segments carry at least this share of it.
NEAR_MSS = 0.85
# Writes this small or smaller are the "small writes" of the claim (several fit a segment).
SMALL_WRITE = 500
# One segment per write: data segments per write within this much of 1.
ONE_PER_WRITE = 0.1


def variant_parts(c) -> tuple[str, int, bool] | None:
    """(link, write bytes, nagle) of a case from its variant "fast-w20-nagle"."""
    parts = str(c.extra.get("variant") or "").split("-")
    if len(parts) != 3 or parts[0] not in LINKS or not parts[1].startswith("w"):
        return None
    try:
        return parts[0], int(parts[1][1:]), parts[2] == "nagle"
    except ValueError:
        return None


def skip_reason(cases) -> str | None:
    """Why the cases did not run (no namespaces), when none of them did."""
    reasons = [(c.experiment or {}).get("skipped") for c in cases]
    if reasons and all(reasons):
        return str(reasons[0])
    return None


def points(cases) -> dict:
    """{(link, write bytes, nagle): case} of the cases that measured something."""
    out = {}
    for c in cases:
        key = variant_parts(c)
        if key and c.c("bytes_per_seg") is not None:
            out[key] = c
    return out


def mss_of(cases) -> int:
    for c in cases:
        m = num((c.experiment or {}).get("mss"))
        if m:
            return int(m)
    return DEFAULT_MSS


def sizes(pts) -> list[int]:
    return sorted({w for _, w, _ in pts})


def chart(report, pts, mss) -> str:
    """Bytes per data segment against write size (log x), one line per link and Nagle."""
    blocks, plots = [], []
    styles = {
        ("fast", True): ("#1f77b4", 1),
        ("fast", False): ("#ff7f0e", 1),
        ("slowack", True): ("#1f77b4", 2),
        ("slowack", False): ("#ff7f0e", 2),
    }
    for i, ((link, nagle), (colour, dash)) in enumerate(styles.items()):
        rows = []
        for w in sizes(pts):
            c = pts.get((link, w, nagle))
            if c is not None:
                rows.append((w, *range_cells(c.measure("bytes_per_seg"))))
        if not rows:
            continue
        blocks.append(gnuplot.datablock(f"n{i}", rows))
        title = f"{'Nagle on' if nagle else 'TCP_NODELAY'}, {link} link"
        plots.append(
            f"$n{i} using 1:2:3:4 with yerrorlines lw 2 dt {dash} pt 7 lc rgb '{colour}' "
            f"title {gnuplot.quote(title)}"
        )
    if not plots:
        return ""
    plots.append(f"{mss} with lines lw 1 dt 3 lc rgb '#555555' title {gnuplot.quote('MSS')}")
    body = (
        "".join(blocks)
        + "set title 'Data bytes per segment vs bytes per write (MTU 1500)'\n"
        + "set xlabel 'bytes per write()'\nset ylabel 'data bytes per segment'\n"
        + "set logscale x 10\nset xrange [10:10000]\nset yrange [0:*]\nset grid\n"
        + "set key outside right top vertical\nset bmargin 5\n"
        + footer(report.patterns, {"single"}, "claims experiment: nagle-size (server-single)")
        + "plot "
        + ", ".join(plots)
        + "\n"
    )
    return report.chart(
        gnuplot.Chart("claims-nagle-size", "Bytes per segment by write size, Nagle on/off", body)
    )


def section(report, cases) -> str:
    pts = points(cases)
    if not pts:
        why = skip_reason(cases)
        if not why:
            return ""
        return f"### {TITLE} (N2)\n\nNot measured: {why}.\n"
    mss = mss_of(cases)
    rows = []
    for link in LINKS:
        for w in sizes(pts):
            on, off = pts.get((link, w, True)), pts.get((link, w, False))
            if on is None and off is None:
                continue

            def cell(c, counter, fmt=u.plain):
                return report.flag(c, val(c, counter, fmt)) if c is not None else u.DASH

            rows.append(
                [
                    link,
                    u.count(w),
                    cell(on, "bytes_per_seg"),
                    cell(off, "bytes_per_seg"),
                    cell(on, "segs_per_write"),
                    cell(off, "segs_per_write"),
                    cell(on, "mb_per_s"),
                    cell(off, "mb_per_s"),
                    cell(on, "stalls", u.count) + " / " + cell(off, "stalls", u.count),
                ]
            )
    return (
        f"### {TITLE} (N2)\n\n"
        "Server (server-single) and client in two network namespaces joined by a veth pair "
        f"with a 1500-byte MTU (MSS {mss}); the client streams ~4 KB requests made of writes "
        "of one size, 8 requests unanswered, with Nagle on or off (TCP_NODELAY). Bytes per "
        "segment and segments per write are the client socket's TCP_INFO over the window "
        "(data bytes / data segments, pure ACKs excluded), median [min-max] over the "
        "repetitions. Links: "
        + "; ".join(f"**{k}**: {v}" for k, v in LINK_TEXT.items())
        + ". Nagle releases a held-back segment when a full one has formed or when the "
        "previous one is acknowledged: on the fast link the ACK is back within microseconds, "
        "so a segment carries what accumulated meanwhile; with the ACKs held back, a full "
        "segment forms first. Stalls: exchanges of 30 ms or more.\n\n"
        + chart(report, pts, mss)
        + "\n\n"
        + table(
            [
                "link",
                "bytes per write",
                "Nagle bytes/segment",
                "NODELAY bytes/segment",
                "Nagle segments/write",
                "NODELAY segments/write",
                "Nagle MB/s",
                "NODELAY MB/s",
                "stalls Nagle / NODELAY",
            ],
            rows,
            align="lrrrrrrrr",
        )
        + "\n"
    )


def n2(run, cases):
    """Confirmed when, over the 1500-byte MTU, Nagle's small writes (<= 500 bytes) leave
    in segments near the MSS once the ACKs are held back (the size condition) while
    TCP_NODELAY sends one segment per write up to the MSS (fast link); refuted otherwise.
    The fast link's Nagle segments, smaller than the MSS, show the other condition (the
    ACK came back first). Not measurable with the reason when namespaces were missing."""
    pts = points(cases)
    if not pts:
        why = skip_reason(cases)
        return (NOT_MEASURABLE, f"nagle-size did not run: {why}") if why else None
    mss = mss_of(cases)
    small = [w for w in sizes(pts) if w <= SMALL_WRITE and ("slowack", w, True) in pts]
    upto_mss = [w for w in sizes(pts) if w <= mss and ("fast", w, False) in pts]
    if not small or not upto_mss:
        return NOT_MEASURABLE, "nagle-size: the slow-ACK Nagle or fast NODELAY cases are missing"

    def show(key, counter):
        return u.measure(u.plain, pts[key].measure(counter))

    coalesced = all(pts[("slowack", w, True)].c("bytes_per_seg") >= NEAR_MSS * mss for w in small)
    one_each = all(
        abs(pts[("fast", w, False)].c("segs_per_write") - 1) <= ONE_PER_WRITE for w in upto_mss
    )
    parts = [
        "slow-ACK link, Nagle on: "
        + ", ".join(
            f"{w}-byte writes {show(('slowack', w, True), 'bytes_per_seg')} B/segment"
            for w in small
        )
        + f" (MSS {mss}; near = {NEAR_MSS:.0%} of it or more)",
        "fast link, TCP_NODELAY: "
        + ", ".join(
            f"{w}-byte writes {show(('fast', w, False), 'segs_per_write')} segments/write"
            for w in upto_mss
        ),
    ]
    fast_nagle = [w for w in small if ("fast", w, True) in pts]
    if fast_nagle:
        early = all(pts[("fast", w, True)].c("bytes_per_seg") < NEAR_MSS * mss for w in fast_nagle)
        parts.append(
            "fast link, Nagle on: "
            + ", ".join(
                f"{w}-byte writes {show(('fast', w, True), 'bytes_per_seg')} B/segment"
                for w in fast_nagle
            )
            + (
                " (the ACK, back within microseconds, released the segments before they were full)"
                if early
                else " (full segments there too)"
            )
        )
    return (CONFIRMED if coalesced and one_each else REFUTED), "; ".join(parts)


RULES = {"N2": n2}

__all__ = ["NAME", "TITLE", "RULES", "section"]
