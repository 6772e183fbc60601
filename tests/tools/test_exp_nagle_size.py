#!/usr/bin/env python3
"""The "nagle-size" claims experiment (tools/pbtools/exp_nagle_size.py): its table pairs
Nagle on and off per link and write size, and its N2 rule is confirmed when Nagle's small
writes reach the MSS on the slow-ACK link while NODELAY sends one segment per write,
refuted when they do not, and not measurable when the namespaces were missing.

    python3 tests/tools/test_exp_nagle_size.py [-v]
"""

from __future__ import annotations

import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

import os  # noqa: E402

from test_support import claims_case_doc, load_cases, sections, table_with, tool  # noqa: E402

from pbtools import exp_nagle_size, experiments  # noqa: E402
from pbtools.claims_evidence import CONFIRMED, NOT_MEASURABLE, REFUTED  # noqa: E402

MSS = 1448


def point(link, w, nagle, bytes_per_seg, segs_per_write):
    variant = f"{link}-w{w}-{'nagle' if nagle else 'nodelay'}"
    counters = {
        "bytes_per_seg": bytes_per_seg,
        "segs_per_write": segs_per_write,
        "mb_per_s": 10.0,
        "stalls": 0.0,
        "p50_us": 50.0,
        "p99_us": 900.0,
    }
    return claims_case_doc(
        "nagle-size", "single", variant, 1, counters, workload="stream", figures={"mss": MSS}
    )


def measured(slow_nagle=1400.0, fast_nagle=760.0, fast_nodelay_spw=1.0):
    """A run like the one measured: the slow-ACK link lets Nagle's 20- and 500-byte writes
    reach the MSS, the fast link's ACKs release them early, NODELAY one segment each."""
    docs = []
    for w in (20, 500, 1400):
        docs.append(point("slowack", w, True, slow_nagle if w < 1400 else 1400.0, 0.5))
        docs.append(point("slowack", w, False, float(w), 1.0))
        docs.append(point("fast", w, True, fast_nagle if w < 1400 else 1400.0, 0.5))
        docs.append(point("fast", w, False, float(w), fast_nodelay_spw))
    return docs


def skipped(reason="network namespaces need root"):
    doc = claims_case_doc("nagle-size", "single", "fast-w20-nagle", 1, {}, workload="stream")
    doc["experiment"] = {"skipped": reason}
    for r in doc["repetitions"]:
        r["experiment"] = {"skipped": reason}
    return doc


class NagleSize(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def verdict(self, docs):
        run, cases = load_cases(docs, self.tmp.name)
        self.assertEqual(len(experiments.cases_of(run, "nagle-size")), len(docs))
        return exp_nagle_size.n2(run, cases)

    def test_confirmed_when_nagle_reaches_the_mss_and_nodelay_sends_each_write(self):
        v, ev = self.verdict(measured())
        self.assertEqual(v, CONFIRMED)
        self.assertIn("20-byte writes 1,400 [1,400-1,400] B/segment", ev)
        self.assertIn("released the segments before they were full", ev)

    def test_flips_to_refuted_when_nagle_segments_stay_small(self):
        v, ev = self.verdict(measured(slow_nagle=700.0))
        self.assertEqual(v, REFUTED)
        self.assertIn("700", ev)

    def test_refuted_when_nodelay_coalesces(self):
        v, _ = self.verdict(measured(fast_nodelay_spw=0.4))
        self.assertEqual(v, REFUTED)

    def test_full_segments_on_the_fast_link_are_said(self):
        _, ev = self.verdict(measured(fast_nagle=1440.0))
        self.assertIn("full segments there too", ev)

    def test_not_measurable_with_the_reason_when_skipped(self):
        v, ev = self.verdict([skipped("'ip netns add' failed")])
        self.assertEqual(v, NOT_MEASURABLE)
        self.assertIn("'ip netns add' failed", ev)

    def test_no_verdict_without_cases(self):
        run, _ = load_cases(measured(), self.tmp.name)
        self.assertIsNone(exp_nagle_size.n2(run, []))

    def test_variant_parts(self):
        run, cases = load_cases([point("slowack", 1460, False, 730.0, 2.0)], self.tmp.name)
        self.assertEqual(exp_nagle_size.variant_parts(cases[0]), ("slowack", 1460, False))

    def test_section_and_claims_row_in_the_report(self):
        run, _ = load_cases(measured(), self.tmp.name)
        tool("report", run.path, "--no-charts")
        with open(os.path.join(run.path, "REPORT.md"), encoding="utf-8") as f:
            md = f.read()
        body = sections(md)["Experiments for the claims / " + exp_nagle_size.TITLE + " (N2)"]
        rows = table_with(body, "link", "bytes per write", "Nagle bytes/segment")
        slow20 = next(r for r in rows if r["link"] == "slowack" and r["bytes per write"] == "20")
        self.assertTrue(slow20["Nagle bytes/segment"].startswith("1,400 "))
        self.assertTrue(slow20["NODELAY bytes/segment"].startswith("20.0 "))
        claims = table_with(sections(md)["What the textbook claims"], "id", "verdict")
        n2 = next(r for r in claims if r["id"] == "N2")
        self.assertIn("confirmed", n2["verdict"])

    def test_section_says_why_when_skipped(self):
        run, _ = load_cases([skipped()], self.tmp.name)
        tool("report", run.path, "--no-charts")
        with open(os.path.join(run.path, "REPORT.md"), encoding="utf-8") as f:
            md = f.read()
        body = sections(md)["Experiments for the claims / " + exp_nagle_size.TITLE + " (N2)"]
        self.assertIn("Not measured: network namespaces need root", body)


if __name__ == "__main__":
    unittest.main()
