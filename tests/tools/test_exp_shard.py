#!/usr/bin/env python3
"""The "shard" claims experiment (tools/pbtools/exp_shard.py): its section shows the
kill and the control, and its R3 and R6 rules give each verdict they can, flipping
with the numbers.

    python3 tests/tools/test_exp_shard.py [-v]
"""

from __future__ import annotations

import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

import os  # noqa: E402

from test_support import claims_case_doc, load_cases, sections, table_with, tool  # noqa: E402

from pbtools import exp_shard, experiments  # noqa: E402
from pbtools.claims_evidence import CONFIRMED, DEPENDS, REFUTED  # noqa: E402


def doc(variant, **counters):
    base = {
        "rps": 15_000.0,
        "p99_us": 6_000.0,
        "errors": 0.0,
        "errors_connect": 0.0,
        "errors_reset": 0.0,
        "errors_timeout": 0.0,
        "sent": 9_000.0,
        "verified": 9_000.0,
        "lost": 0.0,
        "duplicates": 0.0,
        "survivor_requests": 4_500.0,
    }
    base.update(counters)
    return claims_case_doc("shard", "reuseport", variant, 16, base, workload="churn", threads=1)


def kill(recovery=0.0, failures=0.0, dups=0.0, survivor=7_000.0, ranges=None):
    d = doc(
        "kill",
        errors=11.0,
        errors_reset=11.0,
        lost=11.0,
        verified=8_989.0,
        probes_after_kill=70.0,
        probe_failures_after_kill=failures,
        survivor_requests=survivor,
        duplicates=dups,
        **({"recovery_ms": recovery} if recovery is not None else {}),
    )
    for k, r in (ranges or {}).items():
        d["ranges"][k] = r
    return d


def control():
    return doc("control", killed_requests=4_500.0)


class Shard(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def load(self, docs):
        run, cases = load_cases(docs, self.tmp.name)
        self.assertEqual(len(experiments.cases_of(run, "shard")), len(docs))
        return run, cases

    def r3(self, docs):
        return exp_shard.r3(*self.load(docs))

    def r6(self, docs):
        return exp_shard.r6(*self.load(docs))

    def test_r3_confirmed_when_the_survivor_takes_over_at_once(self):
        v, ev = self.r3([kill(recovery=0.0), control()])
        self.assertEqual(v, CONFIRMED)
        self.assertIn("served again 0 [0-0] ms after the kill", ev)
        self.assertIn("11 [11-11] reset", ev)
        self.assertIn("control without the kill: 0 [0-0] errors", ev)

    def test_r3_flips_to_depends_when_recovery_takes_over_a_second(self):
        v, _ = self.r3([kill(recovery=400.0, failures=5.0, ranges={"recovery_ms": [300, 1500]})])
        self.assertEqual(v, DEPENDS)
        v, _ = self.r3([kill(recovery=400.0, failures=5.0, ranges={"recovery_ms": [300, 500]})])
        self.assertEqual(v, CONFIRMED)

    def test_r3_refuted_when_new_connections_never_recover(self):
        v, ev = self.r3([kill(recovery=None, failures=70.0)])
        self.assertEqual(v, REFUTED)
        self.assertIn("not served again", ev)

    def test_r3_refuted_when_the_survivor_served_nothing(self):
        v, _ = self.r3([kill(recovery=0.0, survivor=0.0)])
        self.assertEqual(v, REFUTED)

    def test_r3_no_verdict_from_the_control_alone(self):
        self.assertIsNone(self.r3([control()]))

    def test_r6_refuted_with_no_duplicate_and_confirmed_with_one(self):
        v, ev = self.r6([kill(), control()])
        self.assertEqual(v, REFUTED)
        self.assertIn("0 duplicates over 17,989 verified requests", ev)
        v, _ = self.r6([kill(dups=1.0), control()])
        self.assertEqual(v, CONFIRMED)

    def test_section_and_claims_rows_in_the_report(self):
        run, _ = self.load([kill(), control()])
        tool("report", run.path, "--no-charts")
        with open(os.path.join(run.path, "REPORT.md"), encoding="utf-8") as f:
            md = f.read()
        body = sections(md)["Experiments for the claims / " + exp_shard.TITLE + " (R3, R6)"]
        rows = {r["case"]: r for r in table_with(body, "case", "recovery ms", "reset")}
        self.assertEqual(len(rows), 2)
        self.assertTrue(rows["one shard SIGKILLed"]["reset"].startswith("11"))
        self.assertTrue(rows["no kill (control)"]["shard B requests"].startswith("4,500"))
        claims = {r["id"]: r for r in table_with(sections(md)["What the textbook claims"], "id")}
        self.assertIn("confirmed", claims["R3"]["verdict"])
        self.assertIn("refuted", claims["R6"]["verdict"])


if __name__ == "__main__":
    unittest.main()
