#!/usr/bin/env python3
"""The "fastopen" claims experiment (tools/pbtools/exp_fastopen.py): its table pairs TFO
off and on per connection count, and its C2 rule is confirmed when TFO's first byte is
earlier beyond the noise and the kernel counted SYNs with data, refuted when the ranges
overlap, depends when only some counts gain, and not measurable when TFO was not used or
the namespaces were missing.

    python3 tests/tools/test_exp_fastopen.py [-v]
"""

from __future__ import annotations

import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

import os  # noqa: E402

from test_support import claims_case_doc, load_cases, sections, table_with, tool  # noqa: E402

from pbtools import experiments, exp_fastopen  # noqa: E402
from pbtools.claims_evidence import CONFIRMED, DEPENDS, NOT_MEASURABLE, REFUTED  # noqa: E402


def side(n, tfo, first_byte, spread=2.0, passive=None):
    counters = {
        "first_byte_p50_us": first_byte,
        "first_byte_p99_us": first_byte * 10,
        "connect_p50_us": 0.0 if tfo else 20.0,
        "connect_p99_us": 0.0 if tfo else 90.0,
        "rps": 2000.0,
        "p50_us": first_byte,
        "p99_us": first_byte * 10,
        "tfo_active": (1000.0 if passive is None else passive) if tfo else 0.0,
        "tfo_passive": (1000.0 if passive is None else passive) if tfo else 0.0,
    }
    ranges = {"first_byte_p50_us": [first_byte - spread, first_byte + spread]}
    figures = {"sysctl": "net.ipv4.tcp_fastopen=3 in both namespaces (the host's untouched)"}
    return claims_case_doc(
        "fastopen",
        "single",
        "tfo-on" if tfo else "tfo-off",
        n,
        counters,
        ranges,
        workload="churn",
        figures=figures,
        server_args=("--fastopen", "1024") if tfo else (),
    )


def pair(n, off_us, on_us, spread=2.0, passive=None):
    return [side(n, False, off_us, spread), side(n, True, on_us, spread, passive)]


class Fastopen(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def verdict(self, docs):
        run, cases = load_cases(docs, self.tmp.name)
        self.assertEqual(len(experiments.cases_of(run, "fastopen")), len(docs))
        return exp_fastopen.c2(run, cases)

    def test_confirmed_when_tfo_is_earlier_and_used(self):
        v, ev = self.verdict(pair(1, 80.0, 45.0) + pair(16, 700.0, 450.0, spread=20.0))
        self.assertEqual(v, CONFIRMED)
        self.assertIn("35 us apart", ev)
        self.assertIn("TCPFastOpenPassive 1,000", ev)
        self.assertIn("round trip is tens of microseconds", ev)

    def test_flips_to_refuted_when_the_ranges_overlap(self):
        v, ev = self.verdict(pair(1, 80.0, 45.0, spread=20.0))
        self.assertEqual(v, REFUTED)
        self.assertIn("no measurable difference", ev)

    def test_depends_when_one_count_gains_only(self):
        v, _ = self.verdict(pair(1, 80.0, 45.0) + pair(16, 700.0, 690.0, spread=20.0))
        self.assertEqual(v, DEPENDS)

    def test_not_measurable_when_tfo_was_not_used(self):
        v, ev = self.verdict(pair(1, 80.0, 45.0, passive=0.0))
        self.assertEqual(v, NOT_MEASURABLE)
        self.assertIn("not used", ev)

    def test_not_measurable_with_the_reason_when_skipped(self):
        doc = claims_case_doc("fastopen", "single", "tfo-on", 1, {}, workload="churn")
        doc["experiment"] = {"skipped": "net.ipv4.tcp_fastopen=3 refused"}
        v, ev = self.verdict([doc])
        self.assertEqual(v, NOT_MEASURABLE)
        self.assertIn("refused", ev)

    def test_no_verdict_without_both_sides(self):
        self.assertIsNone(self.verdict(pair(1, 80.0, 45.0)[:1]))

    def test_section_and_claims_row_in_the_report(self):
        run, _ = load_cases(pair(1, 80.0, 45.0), self.tmp.name)
        tool("report", run.path, "--no-charts")
        with open(os.path.join(run.path, "REPORT.md"), encoding="utf-8") as f:
            md = f.read()
        body = sections(md)["Experiments for the claims / " + exp_fastopen.TITLE + " (C2)"]
        self.assertIn("net.ipv4.tcp_fastopen=3", body)
        rows = table_with(body, "connections", "TFO", "first byte p50 us")
        self.assertEqual(
            [(r["connections"], r["TFO"]) for r in rows], [("c1", "off"), ("c1", "on")]
        )
        self.assertTrue(rows[1]["first byte p50 us"].startswith("45.0 "))
        self.assertTrue(rows[1]["TCPFastOpenPassive"].startswith("1,000"))
        claims = table_with(sections(md)["What the textbook claims"], "id", "verdict")
        c2 = next(r for r in claims if r["id"] == "C2")
        self.assertIn("confirmed", c2["verdict"])


if __name__ == "__main__":
    unittest.main()
