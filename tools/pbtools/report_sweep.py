"""The open-loop sweep section of REPORT.md: p99 vs offered load, each point's
verdict, and the knee of each pattern.

A section mixin of Report (report.py).
"""

from __future__ import annotations

from . import analysis, charts
from . import units as u
from .report_markdown import (
    LOWER_BOUND,
    MARK_GEN_BUSY,
    MARK_GEN_LATE,
    MARK_SATURATED,
    VERDICT_MARK,
    VERDICT_TEXT,
    lat,
    rate,
    table,
)
from .rundir import Case


class SweepSections:
    def verdict_cell(self, c: Case) -> str:
        """The sweep table's verdict: the kind, with "(k of n)" when the repetitions disagree."""
        counts = c.verdict_counts()
        parts = []
        for kind, k in counts.items():
            mark = VERDICT_MARK.get(kind)
            if mark:
                self._used.add(mark)
            part = (f"{mark} " if mark else "") + VERDICT_TEXT[kind]
            if len(counts) > 1:
                part += f" ({k} of {c.n_reps})"
            parts.append(part)
        return ", ".join(parts)

    @staticmethod
    def knee_definition(objective_us: float) -> str:
        return (
            f"**Knee** (circled): the highest offered rate at which the pattern meets this workload's latency "
            f"objective: **p99 ≤ {u.latency(objective_us)}** (the median over the repetitions), achieved ≥ "
            f"{100 * analysis.KNEE_ACHIEVED_FRACTION:g}% of offered, and no repetition generator-late or "
            "generator-busy (those points describe the generator). Every point is judged on its own against "
            "this fixed bound, so a noisy point moves nothing but itself. `+` after a knee: no higher rate "
            "was measured failing (none tried, or only generator-limited ones), so the real knee may be "
            "higher. The dashed line is the objective; bars are each point's [min-max] p99 over the "
            "repetitions."
        )

    def sweep_section(self) -> str:
        sweeps = self.run.of_kind("sweep")
        if not sweeps:
            return ""
        out = [
            "## p99 vs offered load\n",
            "Open loop: requests are sent on a fixed schedule whatever the server does, and latency "
            "counts from the scheduled send time (coordinated-omission corrected), so every pattern is "
            "compared at the same offered rate: **this is where latency is compared at equal load**. "
            "One chart per workload. Each point has a verdict, with its own mark in the table and the "
            f"chart: {MARK_SATURATED} server saturated (the server's limit: achieved < 99% of offered while "
            f"the sends were on time), {MARK_GEN_LATE} generator late (p99 send lateness over the bound) and "
            f"{MARK_GEN_BUSY} generator busy (a generator thread > 90% busy); the last two describe the "
            "generator, not the server.\n",
        ]
        for (wl, pr), cases in analysis.group(sweeps, "workload", "protocol").items():
            objective = analysis.knee_objective_us(wl)
            knees = analysis.sweep_knees(cases, wl)
            conns = sorted({c.connections for c in cases if c.connections})
            out.append(f"### {wl}" + (f" ({pr})" if len(self.protocols) > 1 else "") + "\n")
            out.append(
                self.chart(
                    charts.sweep(
                        f"p99-vs-load-{self.slug(wl, pr)}",
                        wl,
                        pr,
                        cases,
                        knees,
                        self.patterns,
                        self.pal,
                    )
                )
            )
            out.append(
                self.knee_definition(objective)
                + (f" {u.count(conns[0])} connections." if len(conns) == 1 else "")
                + "\n"
            )
            rows = []
            for p, k in knees.items():
                fail = next((pt for pt in k.points if k.rate is None or pt.rate > k.rate), None)
                first_fail = next(
                    (
                        pt
                        for pt in k.points
                        if (k.rate is None or pt.rate > k.rate) and not pt.generator
                    ),
                    None,
                )
                if k.rate is None:
                    above = (
                        f"no rate met it (lowest {u.rate(k.points[0].rate)} req/s: p99 "
                        f"{u.latency(k.points[0].p99)})"
                        if k.points
                        else u.DASH
                    )
                elif first_fail is not None:
                    above = f"{u.rate(first_fail.rate)} req/s: " + self.why_fails(
                        first_fail, objective
                    )
                elif fail is not None:
                    above = "only generator-limited rates above: " + ", ".join(
                        u.rate(pt.rate) for pt in k.above
                    )
                else:
                    above = "highest rate tried"
                knee_case = next((pt.case for pt in k.points if pt.rate == k.rate), None)
                rows.append(
                    [
                        p,
                        u.latency(objective),
                        (u.rate(k.rate) + ("+" if k.lower_bound else "")) if k.rate else "none",
                        lat(knee_case, "p99") if knee_case else u.DASH,
                        above,
                    ]
                )
            out.append(
                table(
                    ["pattern", "objective p99", "knee req/s", "p99 at knee", "above the knee"],
                    rows,
                    "lrrrl",
                )
            )
            rows = []
            for (p,), cs in analysis.group(cases, "pattern").items():
                k = knees.get(p)
                for c in sorted(cs, key=lambda c: c.offered_rps or 0):
                    kind, reason = c.verdict()
                    note = []
                    if k and k.rate is not None and c.offered_rps == k.rate:
                        note.append("knee" + ("+" if k.lower_bound else ""))
                    if reason and kind != "ok":
                        note.append(reason)
                    if (c.unsent or 0) > 0:
                        note.append(f"{u.count(c.unsent)} planned requests never sent")
                    if c.has_errors:
                        note.append(f"{c.c('errors'):.0f} errors")
                    if c.foreign_load:
                        note.append("foreign load")
                    pt = analysis.SweepPoint(
                        c.offered_rps, c.latency("p99"), c.c("rps"), c.generator_limited
                    )
                    rows.append(
                        [
                            p,
                            u.rate(c.offered_rps),
                            self.flag(c, rate(c)),
                            lat(c, "p50"),
                            lat(c, "p99"),
                            lat(c, "p99.9"),
                            self.verdict_cell(c),
                            "yes" if pt.meets(objective) else "no",
                            "; ".join(note),
                        ]
                    )
                    if c.latency_is_lower_bound:
                        self._used.add(LOWER_BOUND)
            out.append(
                table(
                    [
                        "pattern",
                        "offered req/s",
                        "achieved req/s",
                        "p50",
                        "p99",
                        "p99.9",
                        "verdict",
                        "meets objective",
                        "note",
                    ],
                    rows,
                    "lrrrrrlll",
                )
                + self.legend()
            )
            self.read_sweep(wl, knees, objective)
        return "\n".join(out) + "\n"

    @staticmethod
    def why_fails(pt, objective: float) -> str:
        why = []
        if pt.p99 is None:
            why.append("no p99")
        elif pt.p99 > objective:
            why.append(f"p99 {u.latency(pt.p99)}")
        if pt.achieved is not None and pt.achieved < analysis.KNEE_ACHIEVED_FRACTION * pt.rate:
            why.append(f"achieved {100 * pt.achieved / pt.rate:.1f}% of offered")
        return ", ".join(why) or "fails"
