"""The Nagle sections of REPORT.md: TCP_NODELAY, write patterns and delayed ACK
(with the prose that explains the stalls), and Nagle's upside with many small writes.

A section mixin of Report (report.py).
"""

from __future__ import annotations

import math

from . import analysis, charts
from . import units as u
from .report_markdown import CLOSED_LOOP_NOTE, closed_loop, lat, onoff, rate, said, table, val
from .rundir import STALL_US, Case, dig, num


class NagleSections:
    def nagle_section(self) -> str:
        cases = sorted(self.run.of_kind("nagle"), key=charts.nagle_order)
        if not cases:
            return ""
        out = [
            "## TCP_NODELAY, write patterns and delayed ACK\n",
            "Each row is one combination of client TCP_NODELAY, server TCP_NODELAY, how the client "
            "writes a request (one write; split: header and body in two writes; writev; cork/MSG_MORE) "
            "and TCP_QUICKACK. Left: p50 and p99 per exchange on a log scale, the shaded band is "
            "30 ms and more (a stall). Right: TCP segments per request from TCP_INFO, both sides.\n",
            self.chart(charts.nagle("nagle", cases, self.patterns, self.pal)),
        ]
        rows = []
        for c in cases:
            rows.append(
                [
                    onoff(c.client_nodelay),
                    onoff(c.server_nodelay),
                    c.write_pattern or u.DASH,
                    onoff(c.quickack),
                    self.flag(c, lat(c, "p50")),
                    lat(c, "p99"),
                    val(c, "stalls", u.count),
                    val(c, "stall_fraction", u.percent),
                    val(c, "segs_out_per_req", u.plain),
                    val(c, "segs_in_per_req", u.plain),
                    val(c, "srv_segs_out_per_req", u.plain),
                    val(c, "srv_segs_in_per_req", u.plain),
                    rate(c),
                ]
            )
        out.append(
            table(
                [
                    "client nodelay",
                    "server nodelay",
                    "writes",
                    "quickack",
                    "p50",
                    "p99",
                    "stalls ≥30 ms",
                    "stalled",
                    "client segs out/req",
                    "client segs in/req",
                    "server segs out/req",
                    "server segs in/req",
                    "req/s",
                ],
                rows,
                "llllrrrrrrrrr",
            )
            + self.legend()
        )
        if all(closed_loop(c) for c in cases):
            out.append(f"*p50, p99: {CLOSED_LOOP_NOTE} (here: configurations of one pattern).*\n")
        out.append("### What the numbers say\n")
        out.append(self.nagle_explanation(cases))
        return "\n".join(out) + "\n"

    def nagle_explanation(self, cases) -> str:
        def stalled(c):
            f = c.c("stall_fraction")
            return (f is not None and f >= 0.5) or (
                f is None and (c.latency("p50") or 0) >= STALL_US
            )

        def clean(c):
            f = c.c("stall_fraction")
            return (
                (f is None or f < 0.05)
                and c.latency("p50") is not None
                and c.latency("p50") < STALL_US
            )

        def median_of(cs, fn):
            vs = sorted(v for v in (fn(c) for c in cs) if v is not None)
            return vs[len(vs) // 2] if vs else None

        hz = num(dig(self.run.sysinfo, "kernel_hz", "value"))
        tick_ms = 1000.0 / hz if hz else None
        paras = []
        split_nagle = [c for c in cases if c.write_pattern == "split" and c.client_nodelay is False]
        stalls = [c for c in cases if stalled(c)]
        if split_nagle:
            st = [c for c in split_nagle if stalled(c)]
            p50 = median_of(st or split_nagle, lambda c: c.latency("p50"))
            frac = median_of(st or split_nagle, lambda c: c.c("stall_fraction"))
            text = (
                f"**Split writes with Nagle on** (client TCP_NODELAY off, {len(split_nagle)} case(s)): "
                f"median p50 {u.latency(p50)}, {u.percent(frac)} of exchanges stalled. "
            )
            if st:
                text += (
                    f"The client writes {self.split_sizes(st[0])}: the first write leaves at once (nothing "
                    "is in flight), the second is held by Nagle, because a small segment may not be sent "
                    "while earlier data is unacknowledged. The server has half a request, so it has no reply "
                    "to carry an ACK; it delays the ACK until its delayed-ACK timer fires. Linux's "
                    "minimum delayed-ACK timeout is 40 ms (TCP_DELACK_MIN, HZ/25 jiffies) and the timer "
                    "runs on the kernel tick"
                )
                if tick_ms:
                    text += (
                        f": with HZ={hz:.0f} a tick is {tick_ms:g} ms, so an exchange should take "
                        f"40 to {40 + tick_ms:g} ms, and the measured p50 is {u.latency(p50)}."
                    )
                else:
                    text += f" (this machine's HZ is unknown), and the measured p50 is {u.latency(p50)}."
            else:
                text += (
                    "These cases did not stall here: the kernel's quick-ACK mode (a fresh or "
                    "recently idle connection ACKs at once) can hide the effect in short runs."
                )
            paras.append(text)
        fixes = []
        for label, sel in [
            (
                "client TCP_NODELAY on, split writes",
                lambda c: c.write_pattern == "split" and c.client_nodelay is True,
            ),
            ("writev", lambda c: c.write_pattern == "writev"),
            ("cork / MSG_MORE", lambda c: c.write_pattern == "cork"),
            ("one write", lambda c: c.write_pattern == "single"),
        ]:
            cs = [c for c in cases if sel(c)]
            if cs:
                n_clean = sum(1 for c in cs if clean(c))
                fixes.append(
                    f"{label}: median p50 {u.latency(median_of(cs, lambda c: c.latency('p50')))}, "
                    f"{n_clean} of {len(cs)} case(s) without stalls, "
                    f"{u.plain(median_of(cs, lambda c: c.c('segs_out_per_req')))} client segments out per request"
                )
        if fixes:
            paras.append(
                "**What avoids it:** " + "; ".join(fixes) + ". TCP_NODELAY sends the body at once "
                "instead of waiting for the ACK. writev hands header and body to the kernel in one call "
                "and cork (MSG_MORE) holds the header until the body joins it: either way the whole "
                "request leaves as one segment and nothing is left waiting for an ACK."
            )
        seg_stall = median_of(stalls, lambda c: c.c("segs_in_per_req"))
        seg_clean = median_of(
            [c for c in cases if clean(c) and c.write_pattern in ("writev", "cork", "single")],
            lambda c: c.c("segs_in_per_req"),
        )
        if seg_stall is not None and seg_clean is not None:
            paras.append(
                f"**Segments:** stalled exchanges bring the client {u.plain(seg_stall)} segments per "
                f"request (the server's lone delayed ACK, then the reply) against {u.plain(seg_clean)} "
                "when the request leaves whole and the reply carries the ACK."
            )
        # TCP_QUICKACK: pair each quickack-on case with its quickack-off twin.
        pairs = []
        for c in cases:
            if c.quickack:
                twin = next(
                    (
                        d
                        for d in cases
                        if d.quickack is False
                        and d.client_nodelay == c.client_nodelay
                        and d.server_nodelay == c.server_nodelay
                        and d.write_pattern == c.write_pattern
                    ),
                    None,
                )
                if twin:
                    pairs.append((twin, c))
        hit = [(off, on) for off, on in pairs if stalled(off)]
        if hit:
            off, on = hit[0]
            f_off, f_on = off.c("stall_fraction"), on.c("stall_fraction")
            text = (
                f"**TCP_QUICKACK** ({off.write_pattern} writes, client nodelay {onoff(off.client_nodelay)}): "
                f"stalled {u.percent(f_off)} → {u.percent(f_on)}, p50 {u.latency(off.latency('p50'))} → "
                f"{u.latency(on.latency('p50'))}. "
            )
            if f_off is not None and f_on is not None and f_on < 0.5 * f_off:
                text += (
                    "Quick ACKs removed most stalls: the ACK that releases the held body is sent at once "
                    "instead of after the delayed-ACK timer."
                )
            else:
                text += (
                    "It changes little: TCP_QUICKACK makes the socket it is set on ACK at once, but the ACK "
                    "the stalled client waits for is the server's, and the option is not sticky (the kernel "
                    "returns to delayed ACKs, so it must be set again after every read). Setting it on the "
                    "receiving side of the split request, or not splitting, is the cure."
                )
            paras.append(text)
        elif pairs:
            paras.append(
                "**TCP_QUICKACK:** no case stalled without it, so it had nothing to change here."
            )
        srv = [
            (a, b)
            for a in cases
            for b in cases
            if a.server_nodelay is True
            and b.server_nodelay is False
            and a.client_nodelay == b.client_nodelay
            and a.write_pattern == b.write_pattern
            and a.quickack == b.quickack
        ]
        # The telling pair is the stalling configuration: does server nodelay rescue it?
        srv.sort(key=lambda ab: not stalled(ab[0]))
        if srv:
            a, b = srv[0]
            text = (
                f"**Server TCP_NODELAY** ({a.write_pattern} writes, client nodelay {onoff(a.client_nodelay)}): "
                f"p50 {u.latency(a.latency('p50'))} with it on, {u.latency(b.latency('p50'))} off. "
            )
            ratio = u.times(
                max(a.latency("p50") or 0, b.latency("p50") or 0),
                min(a.latency("p50") or 0, b.latency("p50") or 0),
            )
            if ratio is not None and ratio < 1.5:
                text += (
                    "The server's setting does not matter here: it answers with one write, and Nagle never "
                    "holds a write when nothing is unacknowledged. It would if replies left in pieces."
                )
            else:
                text += (
                    "The server's setting matters here, so its replies leave in more than one write and "
                    "Nagle holds the later ones."
                )
            paras.append(text)
        if stalls:
            worst = max(stalls, key=lambda c: c.latency("p50") or 0)
            best = min(
                (c for c in cases if clean(c)),
                key=lambda c: c.latency("p50") or math.inf,
                default=None,
            )
            if best is not None and best.latency("p50"):
                self.say(
                    4,
                    f"**Nagle:** {len(stalls)} of {len(cases)} Nagle cases stalled; the worst "
                    f"({worst.nagle_label}) has p50 {u.latency(worst.latency('p50'))}, "
                    f"{u.ratio(u.times(worst.latency('p50'), best.latency('p50')))} the best "
                    f"({best.nagle_label}, {u.latency(best.latency('p50'))}): a delayed ACK per exchange.",
                )
        return (
            "\n\n".join(paras) + "\n"
            if paras
            else "No Nagle case has the numbers needed for a reading.\n"
        )

    @staticmethod
    def split_sizes(case: Case) -> str:
        """ "a 10-byte and then a 100-byte piece", from the loadgen config when it has it."""
        cfg = dig(case.loadgen, "config") or {}
        at, body = num(cfg.get("split_at")), num(cfg.get("request_size"))
        if at and body is not None and (cfg.get("protocol") or "frame") == "frame":
            total = 32 + body  # the frame header is 32 bytes
            if 0 < at < total:
                return f"each request in two pieces, {at:.0f} bytes and then {total - at:.0f} bytes"
        return "each request in two pieces (header, then body)"

    def upside_section(self) -> str:
        cases = sorted(
            self.run.of_kind("nagle-upside"), key=lambda c: (c.client_nodelay is not False, c.id)
        )
        if not cases:
            return ""
        out = [
            "## Nagle's upside: many small writes\n",
            "One request written as many small writes. With TCP_NODELAY each write can become its own "
            "segment; with Nagle the kernel coalesces what was written while an ACK is outstanding.\n",
            self.chart(charts.nagle_upside("nagle-upside", cases, self.patterns, self.pal)),
        ]
        rows = [
            [
                onoff(c.client_nodelay),
                c.write_pattern or u.DASH,
                val(c, "segs_out_per_req", u.plain),
                val(c, "srv_segs_in_per_req", u.plain),
                self.flag(c, rate(c)),
                val(c, "cpu_us_per_req", u.plain),
                lat(c, "p50"),
                lat(c, "p99"),
            ]
            for c in cases
        ]
        out.append(
            table(
                [
                    "client nodelay",
                    "writes",
                    "client segs out/req",
                    "server segs in/req",
                    "req/s",
                    "server CPU us/req",
                    "p50",
                    "p99",
                ],
                rows,
                "llrrrrrr",
            )
            + self.legend()
        )
        if all(closed_loop(c) for c in cases):
            out.append(f"*p50, p99: {CLOSED_LOOP_NOTE} (here: nodelay on vs off).*\n")
        derived = [c for c in cases if c.extra.get("rps_derived")]
        if derived:
            out.append(
                "req/s of "
                + ", ".join(c.id for c in derived)
                + ": the case file's rate was 0 with every "
                "request answered (the window's replies were never counted), so it is the loadgen's "
                "requests over its window here.\n"
            )
        on = next((c for c in cases if c.client_nodelay is True), None)
        off = next((c for c in cases if c.client_nodelay is False), None)
        if on and off and on.c("segs_out_per_req") and off.c("segs_out_per_req"):
            text = (
                f"With TCP_NODELAY on the client sent {u.plain(on.c('segs_out_per_req'))} segments per request, "
                f"with Nagle {u.plain(off.c('segs_out_per_req'))} "
                f"({u.ratio(u.times(on.c('segs_out_per_req'), off.c('segs_out_per_req')))} fewer)"
            )
            if on.c("rps") and off.c("rps"):
                faster = off if off.c("rps") > on.c("rps") else on
                d = analysis.differs(on, off, "rps")
                text += (
                    f"; throughput {said(off.measure('rps'), u.compact_rate)} req/s with Nagle vs "
                    f"{said(on.measure('rps'), u.compact_rate)} without "
                    + (
                        f"({'Nagle' if faster is off else 'nodelay'} "
                        f"{u.ratio(u.times(faster.c('rps'), (on if faster is off else off).c('rps')))} faster)"
                        if d is None or d.differ
                        else "(no measurable difference)"
                    )
                )
            if on.c("cpu_us_per_req") and off.c("cpu_us_per_req"):
                text += (
                    f"; server CPU {said(off.measure('cpu_us_per_req'), u.plain)} us per request with Nagle "
                    f"vs {said(on.measure('cpu_us_per_req'), u.plain)} without"
                )
            text += ". Every segment costs a trip through both TCP stacks; coalescing small writes is what Nagle is for."
            out.append(text + "\n")
            self.say(5, "**Nagle's upside:** " + text)
        return "\n".join(out) + "\n"
