#!/usr/bin/env python3
"""Fixture tests of tools/compare: the noise rule decides, single-repetition
inputs fall back to the threshold and say so, text and JSON output, run directories.

    python3 tests/tools/test_compare.py [-v]
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

from test_support import (
    FIXTURE,
    HERE,
    copy_fixture,
    rewrite_case,
    rewrite_json,
    tool,
)  # noqa: E402  (also puts tools/ on sys.path)


def scale_case(run_dir, case_id, counter, factor):
    """Multiplies one counter of a case by factor in every repetition, its median and its
    range, as if the whole case had run that much faster or slower."""

    def edit(d):
        d["counters"][counter] *= factor
        d["ranges"][counter] = [x * factor for x in d["ranges"][counter]]
        for r in d["repetitions"]:
            r["counters"][counter] *= factor

    rewrite_case(run_dir, case_id, edit)


def scale_gbench(path, name, counter, factor):
    def edit(doc):
        for b in doc["benchmarks"]:
            if b["name"] == name:
                b[counter] *= factor

    rewrite_json(path, edit)


class CompareTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pb-compare-")
        with open(os.path.join(FIXTURE, "gbench.json"), encoding="utf-8") as f:
            self.doc = json.load(f)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, doc):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        return path

    def contender(self, edits, doc=None):
        """gbench.json with every repetition's row of a case scaled."""
        doc = json.loads(json.dumps(doc or self.doc))
        for b in doc["benchmarks"]:
            for name, counter, factor in edits:
                if b["name"] == name:
                    b[counter] *= factor
        return self.write("b.json", doc)

    def verdicts(self, *args):
        r = tool("compare", *args, "--format", "json")
        self.assertEqual(r.returncode, 0)
        out = json.loads(r.stdout)
        return {(row["case"], row["counter"]): row["verdict"] for row in out["rows"]}, out

    def test_ranges_decide_not_a_threshold(self):
        a = self.write("a.json", self.doc)
        b = self.contender(
            [
                ("matrix/single/frame/tiny/c16", "rps", 0.80),  # -20%: ranges apart
                ("matrix/single/frame/churn/c16", "p99_us", 1.02),  # +2%: ranges overlap
                ("matrix/reuseport/frame/churn/c16", "p99_us", 0.70),
            ]
        )  # -30%: improvement
        v, out = self.verdicts(a, b)
        self.assertEqual(v[("matrix/single/frame/tiny/c16", "rps")], "regression")
        self.assertEqual(v[("matrix/single/frame/churn/c16", "p99_us")], "noise")
        self.assertEqual(v[("matrix/reuseport/frame/churn/c16", "p99_us")], "improvement")
        self.assertEqual(out["regressions"], 1)
        self.assertEqual(out["improvements"], 1)
        row = next(
            r
            for r in out["rows"]
            if r["case"] == "matrix/single/frame/tiny/c16" and r["counter"] == "rps"
        )
        self.assertEqual(row["basis"], "ranges")
        self.assertIsNotNone(row["a_range"])
        # --threshold does not override the ranges: 2% inside overlapping ranges stays noise.
        v, _ = self.verdicts(a, b, "--threshold", "1")
        self.assertEqual(v[("matrix/single/frame/churn/c16", "p99_us")], "noise")

    def test_single_repetition_runs_fall_back_to_the_threshold_and_say_so(self):
        sys.path.insert(0, HERE)
        import make_fixture

        quick = os.path.join(self.tmp, "quick")
        make_fixture.build(quick, repetitions=1)
        with open(os.path.join(quick, "gbench.json"), encoding="utf-8") as f:
            doc = json.load(f)
        a = self.write("qa.json", doc)
        b = self.contender([("matrix/reuseport/frame/tiny/c16", "p99_us", 1.02)], doc)
        v, out = self.verdicts(a, b)
        self.assertEqual(v[("matrix/reuseport/frame/tiny/c16", "p99_us")], "noise")
        self.assertIn("one repetition per case", out["rule"])
        v, _ = self.verdicts(a, b, "--threshold", "1")
        self.assertEqual(v[("matrix/reuseport/frame/tiny/c16", "p99_us")], "regression")
        r = tool("compare", a, b, "--color", "never")
        self.assertIn("one repetition per case (no ranges): noise threshold 5%", r.stdout)
        self.assertIn("untested", r.stdout)

    def test_text_output_marks_regression_and_no_measurable_difference(self):
        a = self.write("a.json", self.doc)
        b = self.contender(
            [
                ("matrix/single/frame/tiny/c16", "rps", 0.80),
                ("matrix/single/frame/churn/c16", "p99_us", 1.02),
            ]
        )
        r = tool("compare", a, b, "--color", "never")
        self.assertEqual(r.returncode, 0)
        lines = r.stdout.splitlines()
        flagged = [ln for ln in lines if "REGRESSION" in ln]
        self.assertEqual(len(flagged), 1, r.stdout)
        self.assertIn("matrix/single/frame/tiny/c16", flagged[0])
        self.assertIn("-20.0%", flagged[0])
        self.assertRegex(flagged[0], r"\d \[[\d,]+-[\d,]+\]")  # the ranges are printed
        churn = next(
            i for i, ln in enumerate(lines) if ln.startswith("matrix/single/frame/churn/c16")
        )
        p99 = next(ln for ln in lines[churn:] if "p99_us" in ln)
        self.assertTrue(p99.endswith("no measurable difference"), p99)
        self.assertIn("1 regression(s)", r.stdout)
        self.assertIn("ranges over their repetitions do not overlap", lines[0])

    def test_run_directories_overlapping_and_separated(self):
        a = copy_fixture(self.tmp, "a")
        b = copy_fixture(self.tmp, "b")
        scale_case(b, "matrix-single-frame-churn-c16", "rps", 1.10)  # ranges apart: improvement
        scale_case(b, "matrix-reuseport-frame-churn-c16", "rps", 1.02)  # ranges overlap
        # A case B did not run at all: no case file and no gbench row. (With only
        # the case file gone, compare would still use B's gbench row.)
        os.unlink(os.path.join(b, "cases", "nagle-upside-con.json"))
        gb = dict(
            self.doc,
            benchmarks=[
                r
                for r in self.doc["benchmarks"]
                if r["name"] != "nagle-upside/single/frame/c_nodelay=on"
            ],
        )
        with open(os.path.join(b, "gbench.json"), "w", encoding="utf-8") as f:
            json.dump(gb, f)
        v, out = self.verdicts(a, b)
        self.assertEqual(v[("matrix/single/frame/churn/c16", "rps")], "improvement")
        self.assertEqual(v[("matrix/reuseport/frame/churn/c16", "rps")], "noise")
        self.assertEqual(out["only_in_a"], ["nagle-upside/single/frame/c_nodelay=on"])
        r = tool("compare", a, b, "--color", "never")
        line = next(
            ln for ln in r.stdout.splitlines() if ln.startswith("matrix/reuseport/frame/churn/c16")
        )
        self.assertTrue(line.endswith("no measurable difference"), line)


if __name__ == "__main__":
    unittest.main()
