#!/usr/bin/env python3
"""The "queue" claims experiment (tools/pbtools/exp_queue.py): its section lists every
part (depths, pipelining, signals), and its Q5 and Q6 rules give each verdict they
can, flipping with the numbers.

    python3 tests/tools/test_exp_queue.py [-v]
"""

from __future__ import annotations

import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

import os  # noqa: E402

from test_support import claims_case_doc, load_cases, sections, table_with, tool  # noqa: E402

from pbtools import exp_queue, experiments  # noqa: E402
from pbtools.claims_evidence import CONFIRMED, DEPENDS, REFUTED  # noqa: E402


def doc(pattern, variant, conns, spread=0.02, **counters):
    """One case; every counter's range is +-spread of its median (relative)."""
    base = {"rps": 50_000.0, "p99_us": 9_000.0, "errors": 0.0, "reorders": 0.0, "duplicates": 0.0}
    base.update(counters)
    ranges = {k: [v * (1 - spread), v * (1 + spread)] for k, v in base.items()}
    return claims_case_doc("queue", pattern, variant, conns, base, ranges)


def loss(variant, in_flight, after, dups=0.0):
    sent = 5_000.0
    return doc(
        "worker-queue",
        variant,
        32,
        lost_in_flight=in_flight,
        lost_after_signal=after,
        lost=in_flight + after,
        sent=sent,
        verified=sent - in_flight - after,
        connect_errors=128.0,
        duplicates=dups,
        queue_high_water=32.0,
    )


def run_docs(wq_p99=9_000.0, single_p99=9_000.0, reorders=0.0, kill=30.0, term=0.0, dups=0.0):
    return [
        doc("worker-queue", "depth4", 256, queue_high_water=4.0, p99_us=wq_p99),
        doc("worker-queue", "depth1024", 256, queue_high_water=256.0, p99_us=wq_p99),
        doc("single", "no-handoff", 256, queue_high_water=0.0, p99_us=single_p99),
        doc("worker-queue", "pipeline8", 16, reorders=reorders, queue_high_water=16.0),
        loss("sigkill", kill, 1.0, dups),
        loss("sigterm", term, 32.0),
        loss("sigterm-pipeline8", 140.0, 110.0),
    ]


class Queue(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def load(self, docs):
        run, cases = load_cases(docs, self.tmp.name)
        self.assertEqual(len(experiments.cases_of(run, "queue")), len(docs))
        return run, cases

    def q5(self, docs):
        return exp_queue.q5(*self.load(docs))

    def q6(self, docs):
        return exp_queue.q6(*self.load(docs))

    # --- Q5 ---

    def test_q5_confirmed_when_a_reply_is_reordered(self):
        v, ev = self.q5(run_docs(reorders=3.0))
        self.assertEqual(v, CONFIRMED)
        self.assertIn("reorders 3 [3-3] with 8 requests in flight", ev)

    def test_q5_depends_when_the_hand_off_adds_latency_but_keeps_order(self):
        v, ev = self.q5(run_docs(wq_p99=14_000.0, single_p99=9_000.0))
        self.assertEqual(v, DEPENDS)
        self.assertIn("adds latency, keeps order", ev)
        self.assertIn("reorders 0", ev)

    def test_q5_flips_to_refuted_when_the_latency_difference_goes(self):
        v, ev = self.q5(run_docs(wq_p99=9_000.0, single_p99=9_000.0))
        self.assertEqual(v, REFUTED)
        self.assertIn("no measurable difference", ev)

    def test_q5_refuted_without_the_server_single_line(self):
        docs = [d for d in run_docs() if d["case"]["variant"] != "no-handoff"]
        v, ev = self.q5(docs)
        self.assertEqual(v, REFUTED)
        self.assertIn("no server-single case", ev)

    # --- Q6 ---

    def test_q6_depends_when_only_sigkill_loses(self):
        v, ev = self.q6(run_docs(kill=30.0, term=0.0))
        self.assertEqual(v, DEPENDS)
        self.assertIn("SIGKILL lost 30 [29-31] in flight", ev)
        self.assertIn("SIGTERM 0 [0-0] in flight", ev)
        self.assertIn("SIGTERM with 8 in flight per connection lost 140", ev)

    def test_q6_flips_to_confirmed_when_sigterm_loses_too(self):
        v, _ = self.q6(run_docs(kill=30.0, term=2.0))
        self.assertEqual(v, CONFIRMED)

    def test_q6_confirmed_by_a_duplicate(self):
        v, ev = self.q6(run_docs(kill=30.0, term=0.0, dups=1.0))
        self.assertEqual(v, CONFIRMED)
        self.assertIn("duplicates 1", ev)

    def test_q6_refuted_when_nothing_in_flight_is_lost(self):
        v, _ = self.q6(run_docs(kill=0.0, term=0.0))
        self.assertEqual(v, REFUTED)

    def test_q6_no_verdict_without_both_signals(self):
        docs = [d for d in run_docs() if d["case"]["variant"] != "sigterm"]
        self.assertIsNone(self.q6(docs))

    # --- the section and the claims table ---

    def test_section_and_claims_rows_in_the_report(self):
        run, _ = self.load(run_docs(kill=30.0, term=0.0))
        tool("report", run.path, "--no-charts")
        with open(os.path.join(run.path, "REPORT.md"), encoding="utf-8") as f:
            md = f.read()
        body = sections(md)["Experiments for the claims / " + exp_queue.TITLE + " (Q5, Q6)"]
        rows = {r["case"]: r for r in table_with(body, "case", "high-water", "lost in flight")}
        self.assertEqual(len(rows), 7)
        self.assertTrue(rows["queue depth 4"]["high-water"].startswith("4"))
        self.assertTrue(rows["SIGKILL"]["lost in flight"].startswith("30"))
        self.assertTrue(rows["SIGTERM"]["sent after"].startswith("32"))
        self.assertTrue(rows["8 in flight per connection"]["reorders"].startswith("0"))
        claims = {r["id"]: r for r in table_with(sections(md)["What the textbook claims"], "id")}
        self.assertIn("depends", claims["Q6"]["verdict"])
        self.assertIn("refuted", claims["Q5"]["verdict"])


if __name__ == "__main__":
    unittest.main()
