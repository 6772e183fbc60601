"""The Reading of REPORT.md: the prose conclusions that compare patterns
(throughput, p99, head-of-line blocking, knees, fairness), each by the noise rule
(analysis.differs). Sections call these after their tables; say() queues each
bullet and Report.build() writes them in priority order.

A section mixin of Report (report.py).
"""

from __future__ import annotations

from . import analysis
from . import units as u
from .report_markdown import VERDICT_TEXT, closed_loop, said, server
from .rundir import Case, num, pattern_key, thread_values, workload_key


class ReadingSections:
    def compare_text(
        self, a: Case, b: Case, counter: str, fmt, higher_is_better: bool = True, what: str = ""
    ) -> tuple[str, "analysis.Difference | None"]:
        """ "X [..] vs Y [..] (1.4x)" or "... : no measurable difference", by THE noise rule
        (analysis.differs). a and b are named by the caller."""
        d = analysis.differs(a, b, counter)
        ta, tb = said(a.measure(counter), fmt), said(b.measure(counter), fmt)
        if d is None:
            return f"{ta} vs {tb}", None
        if not d.differ:
            return (
                f"{ta} vs {tb}: no measurable difference"
                + (" (ranges overlap)" if d.tested else ""),
                d,
            )
        hi, lo = (b, a) if d.sign > 0 else (a, b)
        ratio = u.times(hi.measure(counter).value, lo.measure(counter).value)
        return f"{ta} vs {tb} ({u.ratio(ratio)})", d

    def say(self, priority: int, text: str) -> None:
        """A bullet for the Reading section; lower priority numbers come first."""
        self.reading.append((priority, len(self.reading), text))

    def read_throughput(self, wl, cases):
        f = self.focus(cases)
        # A case whose connections did not all come up (server-iterative with
        # keep-alive clients) ran with fewer connections than its peers: not ranked.
        at = {
            c.pattern: c
            for c in cases
            if c.connections == f and c.c("rps") and not c.bringup_incomplete
        }
        if len(at) < 2:
            return
        bound = [c for c in at.values() if c.generator_bound]
        if bound:
            self.read_generator_bound(wl, f, at, bound)
            return
        ranked = sorted(at.values(), key=lambda c: -c.c("rps"))
        best = ranked[0]
        head = f"**Throughput, {wl} at {f} connections:** "
        diffs = {c.pattern: analysis.differs(best, c, "rps") for c in ranked[1:]}
        apart = [c for c in ranked[1:] if diffs[c.pattern] and diffs[c.pattern].differ]
        same = [c for c in ranked[1:] if c not in apart]
        if not apart:
            self.say(
                6,
                head
                + "no measurable difference between the patterns ("
                + ", ".join(
                    f"{server(c.pattern)} {said(c.measure('rps'), u.compact_rate)}" for c in ranked
                )
                + (
                    " req/s: the ranges overlap)."
                    if self.ranged
                    else f" req/s, within {100 * analysis.FALLBACK_THRESHOLD:g}%; one repetition, untested)."
                ),
            )
            return
        text = (
            head
            + f"{server(best.pattern)} serves the most, {said(best.measure('rps'), u.compact_rate)} "
            "req/s: "
            + ", ".join(
                f"{u.ratio(u.times(best.c('rps'), c.c('rps')))} {server(c.pattern)}'s "
                f"{said(c.measure('rps'), u.compact_rate)}"
                for c in apart
            )
        )
        if same:
            text += "; no measurable difference from " + ", ".join(
                f"{server(c.pattern)} ({said(c.measure('rps'), u.compact_rate)})" for c in same
            )
        self.say(6, text + ".")

    def read_generator_bound(self, wl, f, at, bound):
        """A cell where the generator was the limit: its rates rank how cheaply the
        generator drives each server, so compare what the server spent per request."""

        def busy(c):
            b = c.gen_busy()
            return f", {100 * b:.0f}% busy" if b is not None else ""

        names = ", ".join(
            f"{server(c.pattern)} ({said(c.measure('rps'), u.compact_rate)} req/s{busy(c)})"
            for c in sorted(bound, key=lambda c: pattern_key(c.pattern))
        )
        text = (
            f"**Throughput, {wl} at {f} connections:** the load generator was the limit for {names}: "
            "a generator thread was busy for nearly the whole window, so these rates measure how cheaply "
            "the generator drives each server, and the patterns are not ranked on them."
        )
        have = sorted(
            (c for c in at.values() if c.c("cpu_us_per_req")), key=lambda c: c.c("cpu_us_per_req")
        )
        if len(have) >= 2:
            parts = ", ".join(
                f"{server(c.pattern)} {said(c.measure('cpu_us_per_req'), u.plain)} us "
                f"(≈ {u.rate(1e6 / c.c('cpu_us_per_req'))} req/s)"
                for c in have
            )
            text += (
                " Server CPU per request instead, with the rate one fully busy server CPU could give at "
                f"that cost (1,000,000 / CPU us per request): {parts}."
            )
            d = analysis.differs(have[0], have[1], "cpu_us_per_req")
            if d is not None and d.differ:
                text += f" {server(have[0].pattern)} is the cheapest per request."
            else:
                text += (
                    f" {server(have[0].pattern)} and {server(have[1].pattern)}: no measurable difference "
                    "in CPU per request."
                )
        self.say(6, text)

    def sweep_cases(self, workload: str, protocol: str | None = None) -> list[Case]:
        return [
            c
            for c in self.run.of_kind("sweep")
            if c.workload == workload and (protocol is None or c.protocol == protocol)
        ]

    def at_equal_load(self, workload: str, protocol: str, a_pattern: str, b_pattern: str):
        """(rate, case a, case b, text) from the workload's open-loop sweep: both patterns'
        p99 at the same offered rate, by the noise rule; None without a usable pair."""
        sw = self.sweep_cases(workload, protocol)
        ca = [c for c in sw if c.pattern == a_pattern]
        cb = [c for c in sw if c.pattern == b_pattern]
        r = analysis.equal_load_rate(ca, cb)
        if r is None:
            return None
        a = next(c for c in ca if c.offered_rps == r)
        b = next(c for c in cb if c.offered_rps == r)
        text, d = self.compare_text(a, b, "p99", u.latency)
        return r, a, b, text, d

    def read_latency(self, wl, f, sel, base):
        # A busy generator reads replies late: its latencies are partly its own.
        sel = [c for c in sel if not c.bringup_incomplete]  # fewer connections than its peers
        left_out = [c for c in sel if c.latency("p99") is not None and c.generator_bound]
        have = [c for c in sel if c.latency("p99") is not None and not c.generator_bound]
        if len(have) < 2:
            return
        aside = (
            f" ({', '.join(server(c.pattern) for c in left_out)} left out: generator-bound)"
            if left_out
            else ""
        )
        by_p99 = sorted(have, key=lambda c: c.latency("p99"))
        best, worst = by_p99[0], by_p99[-1]
        closed = all(closed_loop(c) for c in sel)
        label = "closed loop, patterns at different throughput" if closed else "open loop"
        single = next((c for c in have if c.pattern == "single"), None)
        if single is not None and wl == "blocking-tail":
            self.read_head_of_line(single, by_p99, f, aside, label)
            return
        d = analysis.differs(best, worst, "p99")
        if d is not None and not d.differ:
            text = (
                f"**p99, {wl} at {f} connections ({label}):** no measurable difference between "
                f"{server(best.pattern)} {said(best.measure('p99'), u.latency)} and {server(worst.pattern)} "
                f"{said(worst.measure('p99'), u.latency)}"
            )
        else:
            text = (
                f"**p99, {wl} at {f} connections ({label}):** lowest {server(best.pattern)} "
                f"{said(best.measure('p99'), u.latency)}, highest {server(worst.pattern)} "
                f"{said(worst.measure('p99'), u.latency)} "
                f"({u.ratio(u.times(worst.latency('p99'), best.latency('p99')))})"
            )
        text += aside.replace(" (", "; ").replace(")", "") + "."
        if closed:
            swept = {c.pattern for c in self.sweep_cases(wl, best.protocol)}
            pair = [c for c in by_p99 + left_out if c.pattern in swept]
            eq = (
                self.at_equal_load(wl, best.protocol, pair[0].pattern, pair[-1].pattern)
                if len(pair) >= 2
                else None
            )
            if eq:
                r, a, b, cmp_text, _ = eq
                text += (
                    f" At equal load (open loop, {u.rate(r)} req/s offered to each): "
                    f"{server(a.pattern)} vs {server(b.pattern)} p99 {cmp_text}."
                )
            else:
                text += (
                    f" No {wl} sweep has both patterns, so this is not a comparison at equal load."
                )
        self.say(7, text)
        if base is not None and base.latency("p50") and wl in ("tiny",) and best.latency("p50"):
            one = [
                c
                for c in self.groups.get((wl, best.protocol), [])
                if c.connections == 1 and c.latency("p50") and not c.generator_bound
            ]
            if one:
                fastest = min(one, key=lambda c: c.latency("p50"))
                self.say(
                    8,
                    f"**Loopback floor:** the blocking ping-pong baseline has p50 "
                    f"{said(base.measure('p50'), u.latency)} and p99 {said(base.measure('p99'), u.latency)}; at 1 "
                    f"connection the fastest pattern, {server(fastest.pattern)}, adds "
                    f"{u.latency(max(0.0, fastest.latency('p50') - base.latency('p50')))} "
                    f"to the p50 ({said(fastest.measure('p50'), u.latency)}).",
                )

    HOW_ISOLATED = {
        "thread-per-conn": "a connection's sleep blocks only its own thread",
        "worker-queue": "the sleep runs on a worker while the I/O loop keeps serving",
        "reactor-pool": "a sleep stalls one loop of several, and only the connections on it",
        "reuseport": "a sleep stalls one loop of several, and only the connections on it",
        "multi-accept": "a sleep stalls one loop of several, and only the connections on it",
    }

    def read_head_of_line(self, single: Case, by_p99, f, aside, label):
        """blocking-tail: does a sleeping request delay everyone on server-single? Claimed
        from the open-loop sweep, pattern against pattern at the same offered rate, by
        the noise rule; the closed-loop figures follow, labelled."""
        others = [c for c in by_p99 if c is not single]
        closed = ", ".join(
            f"{said(c.measure('p99'), u.latency)} for {c.pattern} "
            f"({u.ratio(u.times(single.latency('p99'), c.latency('p99')))})"
            for c in others
        )
        closed_text = (
            f"{label}, {f} connections: server-single's p99 is {said(single.measure('p99'), u.latency)} "
            f"vs {closed}{aside}"
        )
        sweep = self.sweep_cases("blocking-tail", single.protocol)
        pairs = []
        for c in others:
            eq = self.at_equal_load("blocking-tail", single.protocol, "single", c.pattern)
            if eq:
                pairs.append((c.pattern, eq))
        if not pairs:
            why = (
                "no blocking-tail sweep in this run"
                if not sweep
                else "the blocking-tail sweep has no rate both patterns ran without the generator limiting"
            )
            self.say(
                0,
                f"**Blocking tail ({closed_text}).** Not compared at equal load ({why}): in a closed "
                "loop the slower pattern has the higher latency by construction, so this is no evidence "
                "of head-of-line blocking on its own.",
            )
            return
        by_rate: dict = {}
        higher = []
        for p, (r, a, b, _, d) in pairs:
            if d is not None and d.differ:
                how = (
                    f"{u.ratio(u.times(max(a.c('p99_us'), b.c('p99_us')), min(a.c('p99_us'), b.c('p99_us'))))} "
                    + ("lower" if d.sign < 0 else "higher")
                )
            else:
                how = "no measurable difference" + (
                    ", ranges overlap" if d is not None and d.tested else ""
                )
            by_rate.setdefault(r, (a, []))[1].append(
                f"server-{p} {said(b.measure('p99'), u.latency)} ({how})"
            )
            if d is not None and d.differ and d.sign < 0:  # single (a) above the other (b)
                higher.append(p)
        parts = [
            f"at {u.rate(r)} req/s offered to each, server-single {said(a.measure('p99'), u.latency)} vs "
            + ", ".join(others_text)
            for r, (a, others_text) in sorted(by_rate.items(), key=lambda kv: -kv[0])
        ]
        text = (
            "**Head-of-line blocking (blocking-tail, open loop, p99 at equal offered load):** "
            + "; ".join(parts)
            + "."
        )
        if higher:
            how = self.HOW_ISOLATED.get(higher[0])
            text += (
                " Each slow request sleeps on the only event loop, and every other connection's reply "
                "waits behind it" + (f"; in server-{higher[0]} {how}." if how else ".")
            )
        else:
            text += (
                " No pattern's p99 is measurably below server-single's at the same rate: this run does not "
                "show head-of-line blocking beyond the noise."
            )
        text += f" ({closed_text[0].upper()}{closed_text[1:]}.)"
        self.say(0, text)

    def read_sweep(self, wl, knees, objective):
        ks = sorted((k for k in knees.values() if k.rate is not None), key=lambda k: -k.rate)
        none = [k for k in knees.values() if k.rate is None and k.points]
        if not ks and not none:
            return
        parts = []
        for k in ks:
            t = f"{server(k.pattern)} {u.rate(k.rate)}{'+' if k.lower_bound else ''} req/s"
            if k.lower_bound and k.above:
                kinds: dict = {}
                for pt in k.above:
                    for kind in pt.case.verdict_counts() if pt.case else {}:
                        if kind in ("generator-late", "generator-busy"):
                            kinds.setdefault(kind, []).append(u.rate(pt.rate))
                what = " and ".join(
                    f"{VERDICT_TEXT[kind]} at {', '.join(r)} req/s" for kind, r in kinds.items()
                )
                t += f" ({what}: the generator, not the server, stopped the sweep)" if what else ""
            elif k.lower_bound:
                t += " (the highest rate tried)"
            parts.append(t)
        for k in none:
            lowest = k.points[0]
            parts.append(
                f"{server(k.pattern)} none (p99 {u.latency(lowest.p99)} already at "
                f"{u.rate(lowest.rate)} req/s)"
            )
        text = (
            f"**Knees, {wl} open loop (p99 ≤ {u.latency(objective)}):** " + "; ".join(parts) + "."
        )
        same = [k for k in ks if k.rate == ks[0].rate] if ks else []
        if len(same) > 1 and len(same) == len(ks):
            text += (
                " The knees are at the same offered rate: the sweep's steps do not separate them."
            )
        self.say(3, text)

    @staticmethod
    def syscalls_per_request(c: Case):
        """A case's system calls per request, every kind, as a Measure: the
        syscalls_per_req counter (median [min-max]) or the sum of the repetition of
        record's measurement.syscalls; None when the case has no counts by kind."""
        per_kind = (c.measurement or {}).get("syscalls")
        if not isinstance(per_kind, dict):
            return None
        values = [num(v) for v in per_kind.values()]
        if not values or any(v is None for v in values):
            return None
        m = c.measure("syscalls_per_req")
        return m if m is not None else analysis.Measure(sum(values), sum(values), sum(values))

    def read_uring_syscalls(self):
        """server-uring against server-reuseport, the same sharding (a listener and a
        loop per thread) on completions instead of readiness: their total system calls
        per request at one workload and connection count both ran with counts by kind,
        tiny first, frame first, then the highest such count."""
        pairs = []
        for (wl, pr), cases in self.groups.items():
            by = {}
            for c in cases:
                if c.pattern in ("uring", "reuseport") and self.syscalls_per_request(c):
                    by.setdefault(c.connections, {})[c.pattern] = c
            for n, at in by.items():
                if len(at) == 2 and n is not None:
                    key = (wl != "tiny", workload_key(wl), pr != "frame", pr, -n)
                    pairs.append((key, wl, pr, n, at["uring"], at["reuseport"]))
        if not pairs:
            return
        _, wl, pr, n, ur, rp = min(pairs, key=lambda p: p[0])
        mu, mr = self.syscalls_per_request(ur), self.syscalls_per_request(rp)
        where = f"{wl}" + (f" {pr}" if len(self.protocols) > 1 else "") + f", {n} connections"
        text = (
            f"**System calls, uring vs reuseport:** {server('uring')} made "
            f"{said(mu, u.plain)} system calls per request against {server('reuseport')}'s "
            f"{said(mr, u.plain)} ({where})"
        )
        d = analysis.differs(mr, mu)
        if d is not None and not d.differ:
            text += ": no measurable difference" + (" (ranges overlap)" if d.tested else "")
        elif mu.value > 0 and mr.value >= mu.value:
            text += f": {u.ratio(mr.value / mu.value)} fewer"
        elif mr.value > 0 and mu.value > mr.value:
            text += f": {u.ratio(mu.value / mr.value)} more"
        self.say(
            9,
            text + ". The same sharding (a listener and a loop per thread), a different I/O "
            "model: completions through io_uring_enter() instead of readiness through "
            "epoll_wait().",
        )

    def read_fairness(self):
        why = {
            "reuseport": "the kernel hashes each connection to one listener: even on average, lumpy in "
            "small numbers, and blind to how busy each loop is",
            "multi-accept": "EPOLLEXCLUSIVE wakes one waiting loop, in practice the one that waited "
            "last, so accepts crowd onto few threads",
            "reactor-pool": "the acceptor hands connections out round-robin",
            "worker-queue": "workers take requests from one queue, so work goes to whoever is free",
        }
        parts, even = [], []
        for p in self.patterns:
            cs = [c for c in self.run.of_kind("matrix") if c.pattern == p and len(c.threads()) > 1]
            js = [
                (c.fairness("jain_accepts")[0], c)
                for c in cs
                if c.fairness("jain_accepts")[0] is not None
                and (c.connections or 0) > 1
                and len(thread_values(c.threads(), "accepted")) > 1
            ]
            jr = [
                (c.fairness("jain_requests")[0], c)
                for c in cs
                if c.fairness("jain_requests")[0] is not None and (c.connections or 0) > 1
            ]
            if not js and not jr:
                continue
            if min(j for j, _ in js + jr) >= 0.99:
                even.append(server(p))
                continue
            text = f"{server(p)}"
            if jr:
                j, c = min(jr, key=lambda t: t[0])
                text += (
                    f" requests Jain {u.index(j)} at worst ({c.workload}, {c.connections} conns)"
                )
            if js:
                j, c = min(js, key=lambda t: t[0])
                text += (
                    f"{',' if jr else ''} accepts Jain {u.index(j)}"
                    f" (max/min {u.plain(c.fairness('maxmin_accepts')[0])}, {c.workload}, {c.connections} conns)"
                )
            if p in why:
                text += f": {why[p]}"
            parts.append(text)
        if even:
            parts.append(f"{', '.join(even)} stayed at Jain 0.99 or above in every case")
        if parts:
            self.say(2, "**Fairness:** " + "; ".join(parts) + ".")
