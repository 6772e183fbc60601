#!/usr/bin/env python3
"""Fixture tests of the marks on REPORT.md's cells and what they stand for:
generator-bound, generator late, server saturated, lower bounds from unsent
requests, foreign load, and How this was measured (server figures, bring-up,
repetitions and seed).

    python3 tests/tools/test_report_marks.py [-v]
"""

from __future__ import annotations

import re
import sys
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import (
    FIXTURE,
    PATTERNS,
    RenderedFixture,
    table_with,
    tables,
)  # noqa: E402  (also puts tools/ on sys.path)
from pbtools import analysis  # noqa: E402


class MarksTest(RenderedFixture, unittest.TestCase):
    def test_generator_bound_is_marked_and_never_ranked(self):
        doc = self.cases["matrix-reuseport-frame-tiny-c16"]
        self.assertEqual(doc["counters"]["generator_bound"], 1)
        # The fixture's point: the generator-bound case is the fastest of its cell.
        cell = [
            d
            for d in self.cases.values()
            if d["case"]["kind"] == "matrix"
            and d["case"]["workload"] == "tiny"
            and d["case"]["connections"] == 16
        ]
        self.assertEqual(
            max(cell, key=lambda d: d["counters"]["rps"])["case"]["pattern"], "reuseport"
        )
        sec = self.sec["Throughput vs connections / tiny"]
        rows = {r["pattern"]: r for r in tables(sec)[0]}
        self.assertIn("◇", rows["reuseport"]["16 conns req/s"])
        self.assertNotIn("◇", rows["single"]["16 conns req/s"])
        self.assertRegex(sec, r"(?m)^- ◇ \*\*generator-bound\*\*")
        reading = self.sec["Reading"]
        line = next(
            ln for ln in reading.splitlines() if ln.startswith("- **Throughput, tiny at 16")
        )
        self.assertNotIn("serves the most", line)
        self.assertIn("not ranked", line)
        # Compared on server CPU per request instead: single is the cheapest, with the
        # rate one server CPU could give at that cost (1e6 / 6.3 us).
        single_cpu = self.cases["matrix-single-frame-tiny-c16"]["counters"]["cpu_us_per_req"]
        self.assertRegex(line, r"server-single is the cheapest per request")
        self.assertIn(f"≈ {1e6 / single_cpu:,.0f} req/s", line)
        # Nor is it the winner on latency.
        p99 = next(ln for ln in reading.splitlines() if ln.startswith("- **p99, tiny at 16"))
        self.assertNotIn("lowest server-reuseport", p99)
        self.assertIn("server-reuseport left out", p99)

    def test_sweep_verdicts_have_their_own_marks(self):
        rows = self.sweep_rows()
        self.assertEqual(rows[("single", "40,000")]["verdict"], "□ server saturated")
        self.assertEqual(rows[("reuseport", "20,000")]["verdict"], "△ generator late")
        self.assertEqual(rows[("reuseport", "40,000")]["verdict"], "◇ generator busy")
        self.assertEqual(rows[("single", "5,000")]["verdict"], "ok")
        sec = self.sec["p99 vs offered load"]
        self.assertNotIn("could not keep up", sec)
        for mark in "□△◇":
            self.assertRegex(sec, rf"(?m)^- {mark} \*\*")

    def test_sweep_chart_draws_each_verdict_with_its_own_point(self):
        from pbtools import charts
        from pbtools.rundir import load_run

        cases = [c for c in load_run(FIXTURE).of_kind("sweep") if c.workload == "tiny"]
        chart = charts.sweep(
            "s",
            "tiny",
            "frame",
            cases,
            analysis.sweep_knees(cases),
            PATTERNS,
            charts.Palette(PATTERNS),
        )
        blocks = dict(re.findall(r"\$(\w+) << EOD\n(.*?)EOD", chart.body, re.S))
        want = {"sat": ("40000", 4), "late": ("20000", 8), "busy": ("40000", 12)}
        for block, (rate, pt) in want.items():
            lines = blocks[block].strip().splitlines()
            self.assertEqual(len(lines), 1, block)
            self.assertEqual(float(lines[0].split()[0]), float(rate), block)
            self.assertRegex(chart.body, rf"\${block} using 1:2 with points pt {pt} ")
        self.assertNotIn("could not keep up", chart.body)

    def test_unsent_requests_make_percentiles_lower_bounds(self):
        rows = self.sweep_rows()
        sat = rows[("single", "40,000")]
        self.assertGreater(
            self.cases["sweep-single-frame-tiny-c16-r40000"]["loadgen"]["open_loop"]["unsent"], 0
        )
        for col in ("p50", "p99", "p99.9"):
            self.assertTrue(sat[col].startswith("≥ "), sat[col])
        self.assertRange(sat["p99"], self.cases["sweep-single-frame-tiny-c16-r40000"], "p99_us")
        self.assertFalse(rows[("single", "20,000")]["p99"].startswith("≥"))
        self.assertRegex(self.sec["p99 vs offered load"], r"(?m)^- ≥ \*\*lower bound\*\*")

    def test_foreign_load_is_flagged_and_listed(self):
        self.assertNotIn("load average", self.md)
        rows = {
            r["pattern"]: r
            for r in tables(self.sec["Throughput vs connections / blocking-tail"])[0]
        }
        self.assertIn("※", rows["thread-per-conn"]["16 conns req/s"])
        self.assertNotIn("※", rows["single"]["16 conns req/s"])
        sec = self.sec["How this was measured / Foreign load"]
        t = {r["case"]: r for r in table_with(sec, "foreign CPUs", "steal")}
        # The sweep point had foreign load in two of its three repetitions.
        self.assertEqual(
            set(t),
            {
                "matrix-thread-per-conn-frame-blocking-tail-c16",
                "sweep-reuseport-frame-cpu-c64-r2000",
            },
        )
        self.assertClose(t["matrix-thread-per-conn-frame-blocking-tail-c16"]["foreign CPUs"], 0.12)
        self.assertEqual(
            t["matrix-thread-per-conn-frame-blocking-tail-c16"]["steal"], "0.05 s [0.05-0.05]"
        )
        self.assertEqual(t["sweep-reuseport-frame-cpu-c64-r2000"]["repetitions flagged"], "2 of 3")

    def test_how_this_was_measured(self):
        sec = self.sec["How this was measured"]
        t = {r["class"]: r for r in table_with(sec, "server figures", "bring-up")}
        self.assertIn("server-snapshot ×16", t["matrix"]["server figures"])
        # Section D: the repetition count and the seed, from run.json.
        self.assertIn("**Repetitions: 3** per case, 168 runs in all", sec)
        self.assertIn("seed **7301**", sec)
        self.assertIn("proc-stat ×1", t["matrix"]["server figures"])
        self.assertIn("12 of 14 complete", t["matrix"]["bring-up"])
        self.assertRegex(t["sweep"]["generator receive delay p50 / p99"], r"us / \d+ us")
        # The incomplete bring-up is the case's finding, not an error.
        self.assertIn(
            "matrix-thread-per-conn-frame-idle-heavy-c64: 60 of 64 connections accepted within 10.0 s",
            sec,
        )
        self.assertNotIn("matrix-thread-per-conn-frame-idle-heavy-c64", self.sec["Errors"])


if __name__ == "__main__":
    unittest.main()
