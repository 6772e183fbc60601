"""The matrix sections of REPORT.md: throughput vs connections, the latency
spectrum, server cost per request, threads and memory with idle connections, and
load spread across threads.

A section mixin of Report (report.py).
"""

from __future__ import annotations

from . import analysis, charts
from . import units as u
from .report_markdown import (
    CLOSED_LOOP_NOTE,
    LOWER_BOUND,
    MARK_GEN_BUSY,
    closed_loop,
    lat,
    rate,
    said,
    server,
    table,
    val,
)
from .rundir import pattern_key

# The kinds a server counts (core/stats.hpp Syscall), in the table's order.
SYSCALL_KINDS = ["read", "write", "poll", "accept", "wakeup", "uring_enter"]


def syscalls_table(cats) -> str:
    """System calls per request by kind for the cost table's cases (the run of
    record's window, measurement.syscalls); empty when no case has them."""
    rows = []
    for label, by_p in cats:
        for p in sorted(by_p, key=pattern_key):
            per_kind = (by_p[p].measurement or {}).get("syscalls")
            if not isinstance(per_kind, dict):
                continue
            cells = [u.plain(per_kind.get(k)) for k in SYSCALL_KINDS]
            rows.append([label.replace("\n", ", "), p, *cells])
    if not rows:
        return ""
    return (
        "System calls per request by kind, counted by the server itself over the window "
        '(servers/README.md, "System calls"): read and write on connections, poll '
        "(epoll_wait, or poll() in the blocking servers), accept, wakeup (a hand-off "
        "between threads: eventfd writes and drains, condition variable notifies and waits), "
        "and uring_enter (io_uring_enter(), which submits a batch of I/O and waits for its "
        "completions in one call: server-uring's reads, writes and accepts go through it "
        "instead of through calls of their own).\n\n"
        + table(["workload", "pattern", *SYSCALL_KINDS], rows, "ll" + "r" * len(SYSCALL_KINDS))
    )


class MatrixSections:
    def throughput_section(self) -> str:
        if not self.groups:
            return ""
        out = [
            "## Throughput vs connections\n",
            "Closed loop: each connection keeps one request in flight, so throughput is what the "
            "pattern can serve, unless the load generator runs out of CPU first: a generator-bound "
            f"case ({MARK_GEN_BUSY}, an open diamond in the chart) measures the generator. One line per "
            "pattern; ⚠ marks a case with errors.\n",
        ]
        for (wl, pr), cases in self.groups.items():
            conns = sorted({c.connections for c in cases if c.connections is not None})
            out.append(f"### {wl}" + (f" ({pr})" if len(self.protocols) > 1 else "") + "\n")
            out.append(
                self.chart(
                    charts.throughput(
                        f"throughput-{self.slug(wl, pr)}", wl, pr, cases, self.patterns, self.pal
                    )
                )
            )
            rows = []
            for (p,), cs in analysis.group(cases, "pattern").items():
                cell = {c.connections: self.flag(c, rate(c)) for c in cs}
                rows.append([p] + [cell.get(n, u.DASH) for n in conns])
            out.append(
                table(["pattern"] + [f"{n} conns req/s" for n in conns], rows) + self.legend()
            )
            self.read_throughput(wl + (f" ({pr})" if len(self.protocols) > 1 else ""), cases)
        return "\n".join(out) + "\n"

    def latency_section(self) -> str:
        if not self.groups:
            return ""
        out = [
            "## Latency percentile spectrum\n",
            "Each line is one case's full latency distribution, read from its HDR histogram. "
            "The x axis stretches the tail (50%, 90%, 99%, 99.9%, ... are equally spaced), so a "
            "tail that is invisible in averages takes up most of the picture. The dashed line is "
            "the loopback floor: a blocking ping-pong on one connection, measured in the same run.\n",
            f"**{CLOSED_LOOP_NOTE[0].upper()}{CLOSED_LOOP_NOTE[1:]}.** Each connection keeps one request "
            "in flight, so at N connections latency is N / throughput: a pattern that serves less has a "
            "higher latency by construction, and these tables do not compare patterns at equal load. "
            "That is what the open-loop sweeps ([p99 vs offered load](#p99-vs-offered-load)) do, and the "
            "Reading's latency claims rest on them.\n",
        ]
        if self.ranged:
            out.append(
                "The chart draws each pattern's *repetition of record* (the run whose req/s is the "
                "median of its repetitions): a real distribution, not a blend. The tables give the median "
                "and [min-max] of p50, p99 and p99.9 over the repetitions; p90, p99.99 and the maximum "
                "exist only in the chart's run, so they are read off the chart, not tabled without a "
                "range.\n"
            )
        keys = (
            ("p50", "p99", "p99.9")
            if self.ranged
            else ("p50", "p90", "p99", "p99.9", "p99.99", "max")
        )
        for (wl, pr), cases in self.groups.items():
            f = self.focus(cases)
            sel = [c for c in cases if c.connections == f]
            base = analysis.baseline_for(self.run, pr)
            what = f"{wl}, {f} connections" + (f" ({pr})" if len(self.protocols) > 1 else "")
            closed = all(closed_loop(c) for c in sel)
            out.append(f"### {what}\n")
            out.append(
                self.chart(
                    charts.spectrum(
                        f"latency-spectrum-{self.slug(wl, pr)}",
                        what,
                        sel,
                        base,
                        self.patterns,
                        self.pal,
                        note="; ".join(
                            x
                            for x in (
                                CLOSED_LOOP_NOTE if closed else "",
                                "each line: the repetition with the median req/s"
                                if self.ranged
                                else "",
                            )
                            if x
                        ),
                    )
                )
            )
            if closed:
                out.append(f"*{CLOSED_LOOP_NOTE}.*\n")
            rows = []
            for c in sorted(sel, key=lambda c: pattern_key(c.pattern)):
                rows.append(
                    [c.pattern] + [self.flag(c, lat(c, k)) for k in keys] + [self.flag(c, rate(c))]
                )
                if c.latency_is_lower_bound:
                    self._used.add(LOWER_BOUND)
            if base is not None:
                rows.append(
                    [f"loopback baseline ({base.pattern})"]
                    + [lat(base, k) for k in keys]
                    + [rate(base)]
                )
            out.append(table(["pattern", *keys, "req/s"], rows) + self.legend())
            conns = sorted({c.connections for c in cases if c.connections is not None})
            if len(conns) > 1:
                out.append(
                    f"p99 at every connection count ({wl}"
                    + (f"; {CLOSED_LOOP_NOTE}" if closed else "")
                    + "):\n"
                )
                rows = []
                for (p,), cs in analysis.group(cases, "pattern").items():
                    cell = {c.connections: self.flag(c, lat(c, "p99")) for c in cs}
                    rows.append([p] + [cell.get(n, u.DASH) for n in conns])
                out.append(
                    table(["pattern"] + [f"{n} conns p99" for n in conns], rows) + self.legend()
                )
            self.read_latency(wl, f, sel, base)
        return "\n".join(out) + "\n"

    def cost_section(self) -> str:
        if not self.groups:
            return ""
        cats = []
        for (wl, pr), cases in self.groups.items():
            f = self.focus(cases)
            label = f"{wl}\n{f} conns" + (f" {pr}" if len(self.protocols) > 1 else "")
            cats.append((label, {c.pattern: c for c in cases if c.connections == f}))

        def getter(counter):
            return lambda k, p: k[p].measure(counter) if p in k else None

        def bound(k, p):
            return p in k and k[p].generator_bound

        out = [
            "## Server cost per request\n",
            "Server CPU time (user + system, from /proc) and context switches, divided by the "
            "requests served, at each workload's middle connection count. Voluntary switches are "
            "a thread blocking (a read with nothing to read, a sleep); involuntary ones are the "
            "scheduler taking the CPU away.\n",
            self.chart(
                charts.cost_bars(
                    "cpu-per-request",
                    "Server CPU time per request (us)",
                    [("CPU us per request", getter("cpu_us_per_req"))],
                    cats,
                    self.patterns,
                    self.pal,
                    bound,
                )
            ),
            self.chart(
                charts.cost_bars(
                    "ctxsw-per-request",
                    "Server context switches per request",
                    [
                        ("voluntary per request", getter("vcsw_per_req")),
                        ("involuntary per request", getter("ivcsw_per_req")),
                    ],
                    cats,
                    self.patterns,
                    self.pal,
                    bound,
                )
            ),
        ]
        rows = []
        for label, by_p in cats:
            for p in sorted(by_p, key=pattern_key):
                c = by_p[p]
                rows.append(
                    [
                        label.replace("\n", ", "),
                        p,
                        self.flag(c, val(c, "cpu_us_per_req", u.plain)),
                        val(c, "vcsw_per_req", u.plain),
                        val(c, "ivcsw_per_req", u.plain),
                        val(c, "syscalls_per_req", u.plain),
                        val(c, "peak_threads", u.count),
                        val(c, "peak_rss_kb", u.memory_kb),
                    ]
                )
        out.append(
            table(
                [
                    "workload",
                    "pattern",
                    "CPU us/req",
                    "vol. cs/req",
                    "invol. cs/req",
                    "syscalls/req",
                    "peak threads",
                    "peak RSS",
                ],
                rows,
                "llrrrrrr",
            )
            + self.legend()
        )
        out.append(syscalls_table(cats))
        self.read_uring_syscalls()
        for label, by_p in cats:
            have = [c for c in by_p.values() if c.c("cpu_us_per_req")]
            if len(have) >= 2:
                lo = min(have, key=lambda c: c.c("cpu_us_per_req"))
                hi = max(have, key=lambda c: c.c("cpu_us_per_req"))
                if hi is not lo:
                    where = label.replace(chr(10), " at ")
                    text, d = self.compare_text(hi, lo, "cpu_us_per_req", u.plain)
                    if d is not None and not d.differ:
                        self.say(
                            9,
                            f"**CPU per request, {where}:** {server(hi.pattern)} vs {server(lo.pattern)} "
                            f"{text} us.",
                        )
                        break
                    self.say(
                        9,
                        f"**CPU per request, {where}:** cheapest {server(lo.pattern)} "
                        f"{said(lo.measure('cpu_us_per_req'), u.plain)} us, dearest {server(hi.pattern)} "
                        f"{said(hi.measure('cpu_us_per_req'), u.plain)} us "
                        f"({u.ratio(u.times(hi.c('cpu_us_per_req'), lo.c('cpu_us_per_req')))})"
                        + (
                            f"; {server(hi.pattern)} also switches context {u.plain(hi.c('vcsw_per_req'))} times per "
                            "request voluntarily (a thread that blocks on every read)"
                            if (hi.c("vcsw_per_req") or 0) >= 0.5
                            else ""
                        )
                        + ".",
                    )
                    break  # one workload is enough for the reading; the table has the rest
        return "\n".join(out) + "\n"

    def threads_section(self) -> str:
        idle = [(k, cs) for k, cs in self.groups.items() if k[0] == "idle-heavy"]
        if not idle:
            return ""
        out = [
            "## Threads and memory with many idle connections\n",
            "The idle-heavy workload holds many connections open and sends on few of them: what "
            "each pattern pays for a connection that does nothing.\n",
        ]
        for (wl, pr), cases in idle:
            rows = []
            for c in sorted(cases, key=lambda c: (pattern_key(c.pattern), c.connections or 0)):
                rows.append(
                    [
                        c.pattern,
                        u.count(c.connections),
                        self.flag(c, val(c, "peak_threads", u.count)),
                        val(c, "peak_rss_kb", u.memory_kb),
                        rate(c),
                        lat(c, "p99"),
                    ]
                )
                if c.latency_is_lower_bound:
                    self._used.add(LOWER_BOUND)
            out.append(
                table(["pattern", "connections", "peak threads", "peak RSS", "req/s", "p99"], rows)
                + self.legend()
            )
            if all(closed_loop(c) for c in cases):
                out.append(f"*p99: {CLOSED_LOOP_NOTE}.*\n")
            top = max(cases, key=lambda c: (c.connections or 0))
            f = top.connections
            at = {c.pattern: c for c in cases if c.connections == f}
            tpc = at.get("thread-per-conn")
            rest = [c for p, c in at.items() if p != "thread-per-conn" and c.c("peak_rss_kb")]
            if tpc and tpc.c("peak_threads") is not None:
                text = (
                    f"**Idle-heavy, {f} connections:** {server('thread-per-conn')} held "
                    f"{said(tpc.measure('peak_threads'), u.count)} threads and "
                    f"{said(tpc.measure('peak_rss_kb'), u.memory_kb)} RSS"
                )
                if rest:
                    lean = min(rest, key=lambda c: c.c("peak_rss_kb"))
                    d = analysis.differs(lean, tpc, "peak_rss_kb")
                    text += (
                        f"; {server(lean.pattern)} served the same connections with "
                        f"{said(lean.measure('peak_threads'), u.count)} thread(s) and "
                        f"{said(lean.measure('peak_rss_kb'), u.memory_kb)}"
                        + (
                            f" ({u.ratio(u.times(tpc.c('peak_rss_kb'), lean.c('peak_rss_kb')))} less memory)"
                            if d is None or d.differ
                            else " (no measurable difference in memory)"
                        )
                    )
                text += ". Every connection costs a thread: its stack, its kernel task, and a context switch each time it wakes."
                self.say(1, text)
        return "\n".join(out) + "\n"

    def spread_section(self) -> str:
        if not self.groups:
            return ""
        out = [
            "## Load spread across threads\n",
            "Per-thread requests (top) and accepted connections (bottom) divided by the mean over "
            "the threads that do that work, so 1.0 is a perfectly even share. Jain's index is 1 "
            "when all threads do the same work and 1/n when one thread does all of it; max/min is "
            "the busiest thread over the idlest.\n",
        ]
        rows = []
        for (wl, pr), cases in self.groups.items():
            f = self.focus(cases)
            sel = [c for c in cases if c.connections == f]
            what = f"{wl}, {f} connections" + (f" ({pr})" if len(self.protocols) > 1 else "")
            out.append(
                self.chart(
                    charts.spread(f"spread-{self.slug(wl, pr)}", what, sel, self.patterns, self.pal)
                )
            )
            for c in sorted(sel, key=lambda c: pattern_key(c.pattern)):

                def cell(counter, fmt):
                    v, na = c.fairness(counter)
                    if na:
                        return "n/a"
                    m = c.measure(counter)
                    return u.measure(fmt, m) if m is not None and m.value == v else fmt(v)

                rows.append(
                    [
                        f"{wl}, {f} conns",
                        c.pattern,
                        self.flag(c, u.count(len(c.threads()) or None)) if c.threads() else u.DASH,
                        c.threads_source() or u.DASH,
                        cell("jain_requests", u.index),
                        cell("maxmin_requests", u.plain),
                        cell("jain_accepts", u.index),
                        cell("maxmin_accepts", u.plain),
                    ]
                )
        out.append(
            table(
                [
                    "workload",
                    "pattern",
                    "threads",
                    "counted over",
                    "Jain requests",
                    "max/min requests",
                    "Jain accepts",
                    "max/min accepts",
                ],
                rows,
                "llrlrrrr",
            )
            + self.legend()
        )
        out.append(
            'n/a: fewer than two threads do that work, where an index is 1 by construction. "window": '
            "the measured window's per-thread deltas (server snapshots); \"lifetime\": the server's "
            "whole life, warm-up and connection bring-up included. Keep-alive connections are all "
            "accepted during bring-up, before the window, so over the window only connection churn has "
            "accepts to share.\n"
        )
        self.read_fairness()
        return "\n".join(out) + "\n"
