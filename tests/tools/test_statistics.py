#!/usr/bin/env python3
"""The statistics a reader relies on: the noise rule (analysis.differs: ranges that
do not overlap, a threshold without ranges), knees against a fixed objective, and
REPORT.md giving every measured number its [min-max] range and ranking patterns
only where the ranges separate.

    python3 tests/tools/test_statistics.py [-v]
"""

from __future__ import annotations

import re
import sys
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import (
    FIXTURE,
    SWEEP_WORKLOADS,
    RenderedFixture,
    tables,
)  # noqa: E402  (also puts tools/ on sys.path)
from pbtools import analysis  # noqa: E402


class RangesInReportTest(RenderedFixture, unittest.TestCase):
    # Columns that hold settings or structure, not measurements: no range expected.
    NOT_MEASURED_COLUMNS = {
        "conns",
        "connections",
        "offered",
        "offered req/s",
        "objective p99",
        "knee req/s",
        "threads",
        "cases",
        "repetitions flagged",
        "above the knee",
        "note",
        "value",
        "snapshot delay",
        "bring-up",
        "generator receive delay p50 / p99",
        "server figures",
        "client errors by class",
        "server errors",
        "message",
        "errors",
    }

    def test_every_measured_number_has_its_range(self):
        # The claims table's evidence is prose (thread counts, lines of code); test_claims.py checks its ranges.
        skip_sections = {"Machine", "Errors", "What the textbook claims"}
        checked = 0
        for title, body in self.sec.items():
            if "/" in title or title in skip_sections:
                continue
            for t in tables(body):
                for row in t:
                    if row.get("case", "").count("/") >= 3:  # a gbench row without a case file
                        continue
                    for col, cell in row.items():
                        if col in self.NOT_MEASURED_COLUMNS or col in (
                            "pattern",
                            "workload",
                            "case",
                            "kind",
                            "class",
                            "writes",
                            "client nodelay",
                            "server nodelay",
                            "quickack",
                            "verdict",
                            "meets objective",
                            "counted over",
                            "",
                        ):
                            continue
                        if not re.search(r"\d", cell) or cell in ("n/a", "–"):
                            continue
                        self.assertRegex(
                            cell, r"\[[^\]]+\]", f"{title}: column {col!r}: {cell!r} has no range"
                        )
                        checked += 1
        self.assertGreater(checked, 500)

    def test_ranged_run_says_how_many_repetitions_at_the_top(self):
        head = self.md.split("## Reading")[0]
        self.assertIn("**median of 3 repetitions**", head)
        self.assertNotIn("one repetition per case", self.md)

    def test_reading_ranks_only_separated_ranges(self):
        # churn: 26.9k [26.4k-27.4k] vs 18.3k [18.0k-18.6k]: apart, ranked.
        self.assertIn(
            "server-reuseport serves the most", self.reading_line("- **Throughput, churn at 16")
        )
        # idle-heavy: 3.10k vs 3.05k vs 3.10k with overlapping ranges: not ranked.
        line = self.reading_line("- **Throughput, idle-heavy at 64")
        self.assertIn("no measurable difference", line)
        self.assertNotIn("serves the most", line)
        # The equal-load check of the tiny p99 claim: 10,000 req/s, ranges overlap.
        self.assertIn(
            "no measurable difference (ranges overlap)", self.reading_line("- **p99, tiny at 16")
        )


class KneeTest(unittest.TestCase):
    """The knee: the highest offered rate meeting a fixed objective (p99 <= bound,
    achieved >= 99% of offered, not generator-limited)."""

    def test_knee_is_the_highest_rate_meeting_the_objective(self):
        k = analysis.knee(
            [(8000, 1200), (1000, 100), (2000, 120), (4000, 300), (16000, 5000)], 1000
        )
        self.assertEqual((k.rate, k.p99, k.bounded, k.lower_bound), (4000, 300, True, False))

    def test_a_noisy_first_point_does_not_move_the_knee(self):
        clean = [(2000, 120), (4000, 150), (8000, 400), (16000, 9000)]
        noisy = [(1000, 80_000)] + clean  # a huge p99 at the lowest rate
        self.assertEqual(analysis.knee(noisy, 1000).rate, analysis.knee(clean, 1000).rate)
        self.assertEqual(analysis.knee(noisy, 1000).rate, 8000)
        # The old rule (10x the lowest point's p99) would have put it at 16,000.

    def test_a_noisy_point_in_the_middle_moves_only_itself(self):
        k = analysis.knee([(1000, 50), (2000, 60), (3000, 5000), (4000, 70), (5000, 2000)], 1000)
        self.assertEqual((k.rate, k.bounded), (4000, True))

    def test_a_generator_late_point_is_not_a_knee(self):
        pts = [
            analysis.SweepPoint(1000, 100, 1000),
            analysis.SweepPoint(2000, 150, 2000),
            analysis.SweepPoint(4000, 200, 4000, generator=True),
        ]  # meets p99, but the generator was late
        k = analysis.knee(pts, 1000)
        self.assertEqual(k.rate, 2000)
        self.assertTrue(k.lower_bound)  # nothing the server did failed above it: "2,000+"
        self.assertEqual([p.rate for p in k.above], [4000])

    def test_saturated_point_fails_on_achieved_rate(self):
        k = analysis.knee([(1000, 100, 1000), (2000, 200, 1960)], 1000)  # 98% of offered
        self.assertEqual((k.rate, k.bounded), (1000, True))

    def test_exactly_the_objective_meets_it(self):
        self.assertEqual(analysis.knee([(1000, 50), (2000, 1000)], 1000).rate, 2000)

    def test_never_met_and_never_failed(self):
        k = analysis.knee([(1000, 5000), (2000, 6000)], 1000)
        self.assertIsNone(k.rate)
        self.assertTrue(k.bounded)
        k = analysis.knee([(1000, 50), (2000, 60)], 1000)
        self.assertEqual((k.rate, k.lower_bound), (2000, True))

    def test_missing_values(self):
        self.assertIsNone(analysis.knee([], 1000).rate)
        k = analysis.knee([(1000, None), (2000, 50), (None, 10), (4000, 80)], 1000)
        self.assertEqual(k.rate, 4000)

    def test_objectives_are_one_constant_per_workload(self):
        self.assertEqual(analysis.knee_objective_us("cpu"), 1000.0)
        self.assertEqual(analysis.knee_objective_us("tiny"), 500.0)
        self.assertEqual(analysis.knee_objective_us("blocking-tail"), 1000.0)
        self.assertEqual(analysis.knee_objective_us("unknown"), analysis.KNEE_P99_DEFAULT_US)

    def test_fixture_sweeps(self):
        from pbtools.rundir import load_run

        sweeps = load_run(FIXTURE).of_kind("sweep")
        got = {}
        for w in SWEEP_WORKLOADS:
            for p, k in analysis.sweep_knees([c for c in sweeps if c.workload == w], w).items():
                got[(w, p)] = (k.rate, k.lower_bound)
        self.assertEqual(got[("cpu", "single")], (14000, False))
        self.assertEqual(
            got[("cpu", "reuseport")], (14000, True)
        )  # noisy 2,000 ignored; 17,000 generator late
        self.assertEqual(got[("tiny", "reuseport")], (10000, True))
        self.assertEqual(got[("blocking-tail", "single")], (None, False))
        self.assertEqual(got[("blocking-tail", "thread-per-conn")], (4000, True))


class DiffersTest(unittest.TestCase):
    """THE noise rule: ranges that do not overlap; a 5% threshold without ranges."""

    M = analysis.Measure

    def test_overlapping_ranges_do_not_differ(self):
        d = analysis.differs(self.M(100, 95, 104, 3), self.M(103, 101, 108, 3))
        self.assertFalse(d.differ)
        self.assertTrue(d.tested)

    def test_separated_ranges_differ_whatever_the_size(self):
        d = analysis.differs(self.M(100, 99, 101, 3), self.M(102, 101.5, 103, 3))  # 2%, but apart
        self.assertTrue(d.differ)
        self.assertEqual(d.sign, 1)
        d = analysis.differs(self.M(100, 99, 101, 3), self.M(90, 80, 98, 3))
        self.assertEqual((d.differ, d.sign), (True, -1))

    def test_one_repetition_falls_back_to_the_threshold_untested(self):
        d = analysis.differs(self.M(100, 100, 100, 1), self.M(104, 104, 104, 1))
        self.assertEqual((d.differ, d.tested), (False, False))
        d = analysis.differs(100, 106)
        self.assertEqual((d.differ, d.tested, d.sign), (True, False, 1))
        # Ranges on one side only: still untested.
        self.assertFalse(analysis.differs(self.M(100, 90, 110, 3), self.M(120, 120, 120, 1)).tested)

    def test_cases_use_their_ranges(self):
        from pbtools.rundir import load_run

        cases = {c.id: c for c in load_run(FIXTURE).cases}
        a, b = cases["matrix-single-frame-tiny-c1"], cases["matrix-reuseport-frame-tiny-c1"]
        self.assertEqual(a.n_reps, 3)
        self.assertFalse(analysis.differs(a, b, "rps").differ)  # 45.2k vs 44.0k, ranges overlap
        c = cases["matrix-thread-per-conn-frame-tiny-c1"]
        self.assertTrue(analysis.differs(a, c, "rps").differ)  # 45.2k vs 40.1k


if __name__ == "__main__":
    unittest.main()
