"""How this was measured, in REPORT.md: per case class where the server's figures
come from, snapshot delay, bring-up and the generator's receive delay; the
repetitions and their seed; and Foreign load, the other work on the machine.

A section mixin of Report (report.py).
"""

from __future__ import annotations

import math

from . import units as u
from .report_markdown import MARK_FOREIGN, ONE_REPETITION_NOTE, table
from .rundir import Case, dig, num


class MeasuredSections:
    def foreign_cases(self):
        return [c for c in self.run.cases if c.foreign_load]

    def foreign_measured(self) -> bool:
        return any(
            c.foreign() is not None or c.c("foreign_cpu") is not None for c in self.run.cases
        )

    def foreign_line(self) -> str:
        if not self.foreign_measured():
            return ""
        bad = self.foreign_cases()
        if not bad:
            return "no case had foreign load above 5% of a CPU."
        return (
            f"{len(bad)} case(s) had other work above 5% of a CPU in their window ({MARK_FOREIGN}); "
            "see [Foreign load](#foreign-load)."
        )

    def measured_section(self) -> str:
        """Per case class: where the server's figures come from, how late the window's
        snapshots were, whether every connection came up, and the generator's own
        receive delay. Only what the case files carry; nothing for older runs."""

        def median(vs):
            vs = sorted(vs)
            return vs[len(vs) // 2] if vs else None

        order = ["matrix", "sweep", "baseline", "nagle", "nagle-upside"]
        rows = []
        for kind in [k for k in order if self.run.of_kind(k)]:
            cs = self.run.of_kind(kind)
            sources: dict = {}
            for c in cs:
                src = dig(c.server, "window", "source") or dig(c.server, "accounting")
                if src:
                    sources[src] = sources.get(src, 0) + 1
            acct = (
                ", ".join(f"{k} ×{n}" for k, n in sorted(sources.items(), key=lambda kv: -kv[1]))
                or u.DASH
            )
            delays = [
                num(v)
                for c in cs
                for m in self.measurements(c)
                for v in (dig(m, "snapshot_delay_us") or [])
                if num(v) is not None
            ]
            snap = (
                f"{u.latency(median(delays))} median, {u.latency(max(delays))} max"
                if delays
                else u.DASH
            )
            ups = [c.bringup() for c in cs if c.bringup()]
            if ups:
                done = sum(1 for b in ups if b.get("complete") is not False)
                slow = max((num(b.get("seconds")) or 0) for b in ups)
                bring = f"{done} of {len(ups)} complete, slowest {slow:.2f} s"
                if len(ups) < len(cs):
                    bring += (
                        f" ({len(cs) - len(ups)} without: connection per request or own client)"
                    )
            else:
                bring = u.DASH
            p50s = [num(dig(c.loadgen, "generator", "recv_delay_us", "p50")) for c in cs]
            p99s = [num(dig(c.loadgen, "generator", "recv_delay_us", "p99")) for c in cs]
            p50s, p99s = [v for v in p50s if v is not None], [v for v in p99s if v is not None]
            recv = (
                f"{u.latency(median(p50s))} / {u.latency(median(p99s))} (worst p99 {u.latency(max(p99s))})"
                if p50s and p99s
                else u.DASH
            )
            rows.append([kind, u.count(len(cs)), acct, snap, bring, recv])
        reps = self.repetitions_paragraph()
        if all(all(v == u.DASH for v in r[2:]) for r in rows) and not reps:
            return ""
        out = [
            "## How this was measured\n",
            reps,
            "Per case class. **Server figures**: `server-snapshot` is the server's own counters, "
            "snapshotted on SIGUSR1 at both edges of the measured window (exact requests, per-thread "
            "deltas); `proc-stat` is the fallback, /proc/<pid>/stat CPU ticks (one tick = 1/HZ s) and "
            "requests from the generator. **Snapshot delay**: from the signal to the snapshot, how far "
            "the window's edges moved. **Bring-up**: every connection made one round trip before the "
            "warm-up. **Generator receive delay**: the time a reply waited in the generator's socket "
            "before it was read (kernel receive timestamp to read), p50 / p99, median over the cases: "
            "what the generator adds to every latency.\n",
            table(
                [
                    "class",
                    "cases",
                    "server figures",
                    "snapshot delay",
                    "bring-up",
                    "generator receive delay p50 / p99",
                ],
                rows,
                "lrllll",
            ),
        ]
        short = [c for c in self.run.cases if c.bringup_incomplete]
        if short:
            out.append(
                "Connections that did not come up (a finding of the case, not an error; the case ran "
                "with those that did):\n"
            )
            for c in short:
                out.append(f"- {c.id}: {self.bringup_text(c)}")
            out.append("")
        out.append(self.foreign_section())
        return "\n".join(out) + "\n"

    @staticmethod
    def measurements(c: Case) -> list[dict]:
        """Every repetition's measurement block (the case's own for a single run)."""
        ms = [r.get("measurement") for r in c.repetitions if isinstance(r.get("measurement"), dict)]
        return ms or ([c.measurement] if isinstance(c.measurement, dict) else [])

    def repetitions_paragraph(self) -> str:
        rj = self.run.run
        seed, runs = rj.get("seed"), num(rj.get("runs"))
        n = self.repetitions
        if n <= 1:
            text = (
                f"**Repetitions: 1** per case ({ONE_REPETITION_NOTE}). The numbers below are one run each; "
                "run the default profile (4 repetitions) to see the spread."
            )
        else:
            text = (
                f"**Repetitions: {n}** per case"
                + (f", {u.count(runs)} runs in all" if runs else "")
                + ", run in one order shuffled"
                + (f" with seed **{seed}**" if seed is not None else " (seed not recorded)")
                + " (`--seed` repeats the order), so a slow drift of the machine spreads over every case "
                "instead of hitting one. Each case file holds the median of every counter, its [min-max] "
                "range and each repetition's own record; the *repetition of record* (the median req/s) "
                "gives the histogram the spectrum charts draw. Two numbers differ when their ranges do not "
                f"overlap; with {n} repetitions each, two cases that are really the same have separate "
                f"ranges {self.false_alarm_text(n)} by chance, so one such difference is a hint, a "
                "pattern of them is a finding."
            )
        short = [c.id for c in self.run.cases if c.repetitions and c.n_reps < n]
        if short:
            text += f" Fewer repetitions than planned: {', '.join(short)}."
        return text + "\n"

    @staticmethod
    def false_alarm_text(n: int) -> str:
        """How often n-vs-n ranges of one distribution fail to overlap: 2 of the C(2n, n)
        equally likely orders put all of one side above the other."""
        p = 2 / math.comb(2 * n, n)
        return f"{100 * p:.0f}% of the time" if p >= 0.01 else f"{100 * p:.2g}% of the time"

    @staticmethod
    def bringup_text(c: Case) -> str:
        b = c.bringup() or {}
        secs = num(b.get("seconds"))
        return (
            f"{u.count(num(b.get('up')))} of {u.count(num(b.get('connections')))} connections accepted"
            + (f" within {secs:.1f} s" if secs is not None else "")
        )

    def foreign_section(self) -> str:
        out = ["### Foreign load\n"]
        if not self.foreign_measured():
            out.append("Not measured in this run (its case files have no `measurement.foreign`).\n")
            return "\n".join(out)
        bad = self.foreign_cases()
        if not bad:
            out.append(
                "No case had foreign load above 5% of a CPU: whatever else ran on the machine used "
                "less than that over every measured window.\n"
            )
            return "\n".join(out)
        out.append(
            f"CPU time used during the window by work other than the server, the generator and the "
            f"harness, above 5% of one CPU; these cases are marked {MARK_FOREIGN} in the tables and "
            "their numbers carry that noise. Machine-wide task CPU time (the root cpuacct cgroup, "
            "or tick-sampled /proc/stat where that is missing: `measurement.foreign.busy_source`) "
            "minus the server's and the harness's own; *generator wait* is how long the generator's "
            "threads sat on a run queue in the window, the direct measure of a preempted "
            "generator:\n"
        )
        rows = []
        for c in bad:
            f = c.foreign() or {}
            ms = self.measurements(c)
            flagged = sum(1 for m in ms if dig(m, "foreign", "flag") is True)
            m = c.measure("foreign_cpu")
            cpus = u.measure(u.plain, m) if m is not None else u.plain(num(f.get("cpus")))
            steals = [num(dig(m, "foreign", "steal_s")) for m in ms]
            steals = [x for x in steals if x is not None]
            steal = (
                u.ranged(
                    lambda x: f"{u.plain(x)} s",
                    sorted(steals)[len(steals) // 2],
                    min(steals),
                    max(steals),
                    len(steals),
                )
                if steals
                else u.DASH
            )
            waits = [num(dig(m, "foreign", "generator_wait_s")) for m in ms]
            waits = sorted(x * 1e3 for x in waits if x is not None)
            wait = (
                u.ranged(
                    lambda x: f"{x:.1f} ms", waits[len(waits) // 2], waits[0], waits[-1], len(waits)
                )
                if waits
                else u.DASH
            )
            rows.append([c.id, cpus, steal, wait, f"{flagged} of {len(ms)}" if ms else u.DASH])
        out.append(
            table(
                ["case", "foreign CPUs", "steal", "generator wait", "repetitions flagged"],
                rows,
                "lrrrr",
            )
        )
        return "\n".join(out)
