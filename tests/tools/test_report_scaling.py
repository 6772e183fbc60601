#!/usr/bin/env python3
"""tools/report's scaling section (the scaling profile): the req/s table over server
CPUs with each pattern's efficiency against the linear ideal, the two charts per
workload when there are two or more CPU counts, and, with one count only, the
paragraph on what a bigger machine would show instead of a chart.

    python3 tests/tools/test_report_scaling.py [-v]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import (  # noqa: E402
    HAVE_GNUPLOT,
    copy_fixture,
    parse_number,
    sections,
    table_with,
    tool,
)

from pbtools import report_scaling  # noqa: E402
from pbtools.rundir import load_run  # noqa: E402

SECTION = "Scaling: throughput as the server gets more CPUs"


def scaling_doc(pattern, workload, cpus, rps, connections=256, reps=3, named_only=False):
    """A scaling case document as the harness writes it (schema 2), rps in every
    repetition; named_only leaves server_cpus out of "case" (only the name has it)."""
    info = {
        "id": f"scaling-{pattern}-{workload}-cpus{cpus}-c{connections}",
        "name": f"scaling/{pattern}/{workload}/cpus{cpus}/c{connections}",
        "kind": "scaling",
        "pattern": pattern,
        "protocol": "frame",
        "workload": workload,
        "connections": connections,
        "offered_rps": None,
        "warmup_s": 0.2,
        "duration_s": 0.8,
    }
    if not named_only:
        info["server_cpus"] = cpus
    counters = {"rps": rps}
    return {
        "schema": "patternbench.case/2",
        "case": info,
        "counters": counters,
        "verdict": {"kind": "ok"},
        "ranges": {"rps": [rps * 0.98, rps * 1.02]},
        "repetitions": [
            {"index": i, "run_order": i, "counters": counters, "verdict": {"kind": "ok"}}
            for i in range(reps)
        ],
        "repetition_of_record": 0,
    }


def add_cases(run, docs):
    for doc in docs:
        path = os.path.join(run, "cases", doc["case"]["id"] + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)


# 1, 2, 4 CPUs: reuseport near the ideal, single flat.
CURVES = {
    "reuseport": {1: 40000.0, 2: 78000.0, 4: 150000.0},
    "single": {1: 50000.0, 2: 50500.0, 4: 49000.0},
}


def curve_docs(curves, workload="tiny"):
    return [
        scaling_doc(p, workload, n, rps, 64 if workload == "cpu" else 256)
        for p, pts in curves.items()
        for n, rps in pts.items()
    ]


class ScalingSectionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pb-report-scaling-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def report(self, run, charts=False):
        args = [run] if charts else [run, "--no-charts"]
        r = tool("report", *args, "--no-png", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(run, "REPORT.md"), encoding="utf-8") as f:
            return sections(f.read())

    def rows(self, sec):
        rows = table_with(sec[SECTION], "workload", "pattern", "efficiency")
        return {(r["workload"], r["pattern"]): r for r in rows}

    def test_absent_without_scaling_cases(self):
        self.assertNotIn(SECTION, self.report(copy_fixture(self.tmp)))

    def test_curve_table_and_efficiency(self):
        run = copy_fixture(self.tmp)
        add_cases(run, curve_docs(CURVES) + curve_docs(CURVES, "cpu"))
        sec = self.report(run)
        self.assertIn(SECTION, sec)
        rows = self.rows(sec)
        self.assertEqual(
            set(rows),
            {("tiny", "reuseport"), ("tiny", "single"), ("cpu", "reuseport"), ("cpu", "single")},
        )
        r = rows[("tiny", "reuseport")]
        self.assertAlmostEqual(parse_number(r["1 CPU"]), 40000, delta=100)
        self.assertAlmostEqual(parse_number(r["4 CPUs"]), 150000, delta=1000)
        # 150,000 / (4 x 40,000) = 0.9375; single: 49,000 / (4 x 50,000) = 0.245
        self.assertAlmostEqual(parse_number(r["efficiency"]), 0.9375, places=2)
        self.assertAlmostEqual(
            parse_number(rows[("tiny", "single")]["efficiency"]), 0.245, places=2
        )
        self.assertNotIn("One point per pattern", sec[SECTION])
        reading = sec["Reading"]
        self.assertIn("**Scaling, tiny:** from 1 to 4 server CPUs reuseport kept 93.8%", reading)
        self.assertIn("single stopped scaling at 24.5%", reading)

    def test_flipped_curves_flip_the_reading(self):
        run = copy_fixture(self.tmp)
        flipped = {"reuseport": CURVES["single"], "single": CURVES["reuseport"]}
        add_cases(run, curve_docs(flipped))
        reading = self.report(run)["Reading"]
        self.assertIn("server CPUs single kept 93.8%", reading)
        self.assertIn("reuseport stopped scaling at 24.5%", reading)

    def test_one_cpu_only_explains_the_limit(self):
        run = copy_fixture(self.tmp)
        ones = {p: {1: pts[1]} for p, pts in CURVES.items()}
        add_cases(run, curve_docs(ones) + curve_docs(ones, "churn"))
        sec = self.report(run, charts=HAVE_GNUPLOT)
        text = sec[SECTION]
        rows = self.rows(sec)
        self.assertEqual(
            [h for h in table_with(text, "workload")[0]],
            ["workload", "pattern", "1 CPU", "efficiency"],
        )
        self.assertEqual(rows[("churn", "single")]["efficiency"], "–")
        self.assertIn("One point per pattern", text)
        self.assertIn("at least 4 physical cores", text)
        self.assertIn("one point per pattern", sec["Reading"])
        self.assertNotIn("![", text)  # no chart of a single point
        charts = os.path.join(run, "charts")
        drawn = os.listdir(charts) if os.path.isdir(charts) else []
        self.assertFalse([f for f in drawn if f.startswith("scaling-")])

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_charts_drawn_with_the_ideal(self):
        run = copy_fixture(self.tmp)
        add_cases(run, curve_docs(CURVES))
        text = self.report(run, charts=True)[SECTION]
        self.assertIn("charts/scaling-tiny.svg", text)
        self.assertIn("charts/scaling-tiny-per-cpu.svg", text)
        with open(os.path.join(run, "charts", "scaling-tiny.gp"), encoding="utf-8") as f:
            gp = f.read()
        # The ideal: 40,000 x 4 at 4 CPUs, dashed.
        self.assertIn("4 160000.0", gp)
        self.assertIn("dt 2", gp)
        with open(os.path.join(run, "charts", "scaling-tiny-per-cpu.gp"), encoding="utf-8") as f:
            per_cpu = f.read()
        self.assertIn("4 37500.0", per_cpu)  # 150,000 / 4

    def test_cpu_count_from_the_name(self):
        run = copy_fixture(self.tmp)
        add_cases(run, [scaling_doc("single", "tiny", 8, 1000.0, named_only=True)])
        (case,) = load_run(run).of_kind("scaling")
        self.assertNotIn("server_cpus", case.extra)
        self.assertEqual(report_scaling.server_cpus(case), 8)


if __name__ == "__main__":
    unittest.main()
