#!/usr/bin/env python3
"""The "connection" claims experiment (tools/pbtools/exp_connection.py): its table pairs
each pattern's keep-alive and churn cases, and its C1 rule follows the CPU per request
(confirmed, refuted and depends, flipping with the numbers).

    python3 tests/tools/test_exp_connection.py [-v]
"""

from __future__ import annotations

import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

import os  # noqa: E402

from test_support import claims_case_doc, load_cases, sections, table_with, tool  # noqa: E402

from pbtools import exp_connection, experiments  # noqa: E402
from pbtools.claims_evidence import CONFIRMED, DEPENDS, REFUTED  # noqa: E402


def pair(pattern, n, keep_cpu, churn_cpu, spread=0.5):
    def doc(workload, cpu, extra):
        counters = {"cpu_us_per_req": cpu, "p50_us": 20.0, "p99_us": 90.0, **extra}
        ranges = {"cpu_us_per_req": [cpu - spread, cpu + spread]}
        return claims_case_doc(
            "connection", pattern, workload, n, counters, ranges, workload=workload
        )

    churn_extra = {
        "connect_p50_us": 21.0,
        "connect_p99_us": 95.0,
        "first_byte_p50_us": 44.0,
        "first_byte_p99_us": 300.0,
    }
    return [doc("tiny", keep_cpu, {}), doc("churn", churn_cpu, churn_extra)]


class Connection(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def verdict(self, docs):
        run, cases = load_cases(docs, self.tmp.name)
        self.assertEqual(len(experiments.cases_of(run, "connection")), len(docs))
        return exp_connection.c1(run, cases)

    def test_confirmed_when_churn_costs_more_everywhere(self):
        v, ev = self.verdict(pair("single", 1, 12.0, 35.0) + pair("thread-per-conn", 1, 18.0, 55.0))
        self.assertEqual(v, CONFIRMED)
        self.assertIn("2.9x", ev)  # 35 / 12, the ratio the evidence quotes

    def test_refuted_when_the_ranges_overlap(self):
        v, ev = self.verdict(pair("single", 1, 12.0, 12.5, spread=1.0))
        self.assertEqual(v, REFUTED)
        self.assertIn("no measurable difference", ev)

    def test_flips_to_depends_when_one_pattern_stops_paying(self):
        v, _ = self.verdict(pair("single", 1, 12.0, 35.0) + pair("thread-per-conn", 1, 18.0, 18.2))
        self.assertEqual(v, DEPENDS)

    def test_no_verdict_without_both_sides(self):
        self.assertIsNone(self.verdict(pair("single", 1, 12.0, 35.0)[:1]))

    def test_pairs_match_pattern_and_count(self):
        run, cases = load_cases(
            pair("single", 1, 12.0, 35.0) + pair("single", 16, 7.0, 34.0), self.tmp.name
        )
        got = [
            (p, n, k.c("cpu_us_per_req"), c.c("cpu_us_per_req"))
            for p, n, k, c in exp_connection.pairs(cases)
        ]
        self.assertEqual(got, [("single", 1, 12.0, 35.0), ("single", 16, 7.0, 34.0)])

    def test_section_and_claims_row_in_the_report(self):
        docs = pair("single", 1, 12.0, 35.0)
        run, _ = load_cases(docs, self.tmp.name)
        tool("report", run.path, "--no-charts")
        with open(os.path.join(run.path, "REPORT.md"), encoding="utf-8") as f:
            md = f.read()
        body = sections(md)["Experiments for the claims / " + exp_connection.TITLE + " (C1)"]
        row = table_with(body, "server, connections", "churn / keep-alive")[0]
        self.assertEqual(row["server, connections"], "single c1")
        self.assertEqual(row["churn / keep-alive"], "2.9x")
        claims = table_with(sections(md)["What the textbook claims"], "id", "verdict")
        c1 = next(r for r in claims if r["id"] == "C1")
        self.assertIn("confirmed", c1["verdict"])


if __name__ == "__main__":
    unittest.main()
