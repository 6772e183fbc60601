#!/usr/bin/env python3
"""The "accept" claims experiment (tools/pbtools/exp_accept.py): its section lists every
line at every thread count (reactor-pool with its one acceptor), and its M2 and M5 rules
give each verdict they can, flipping with the numbers.

    python3 tests/tools/test_exp_accept.py [-v]
"""

from __future__ import annotations

import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

import json  # noqa: E402
import os  # noqa: E402

from test_support import claims_case_doc, load_cases, sections, table_with, tool  # noqa: E402

from pbtools import exp_accept, experiments  # noqa: E402
from pbtools.claims_evidence import CONFIRMED, DEPENDS, REFUTED  # noqa: E402
from pbtools.rundir import load_run  # noqa: E402

LINES = [
    ("multi-accept", "exclusive"),
    ("multi-accept", "herd"),
    ("multi-accept", "blocking"),
    ("reuseport", "sharded"),
    ("reactor-pool", "one-acceptor"),
]


def doc(pattern, mode, threads, rate, futile=0.0, vcsw=1.0, spread=0.02):
    """One case; every counter's range is +-spread of its median (relative)."""
    counters = {
        "accepts_per_s": rate,
        "rps": rate,
        "connect_p99_us": 120.0,
        "vcsw_per_accept": vcsw,
        "futile_per_accept": futile,
        "jain_accepts": 0.98,
        "errors": 0.0,
    }
    ranges = {k: [v * (1 - spread), v * (1 + spread)] for k, v in counters.items()}
    return claims_case_doc(
        "accept",
        pattern,
        f"{mode}-t{threads}",
        32,
        counters,
        ranges,
        workload="churn",
        server_args=("--accept-mode", mode) if pattern == "multi-accept" else (),
        threads=threads,
    )


def line(pattern, mode, rates, futile=None, vcsw=None):
    """A line over threads 1, 2, 4, ...: one case per rate."""
    out = []
    for i, r in enumerate(rates):
        t = 2**i
        out.append(
            doc(pattern, mode, t, r, (futile or [0.0] * len(rates))[i], (vcsw or [1.0] * 9)[i])
        )
    return out


def grid(rates_of, futile_of=None, vcsw_of=None):
    docs = []
    for key in LINES:
        docs += line(*key, rates_of(key), (futile_of or {}).get(key), (vcsw_of or {}).get(key))
    return docs


# contended(): every line with N acceptors rises from 1 to 2 threads (M2); the
# shared-socket lines then fall at 8 (with MORE_WAKEUPS, M5) while reuseport holds its
# rate; reactor-pool, one acceptor, is flat throughout.
RISE_FALL = [10_000.0, 15_000.0, 14_000.0, 9_000.0]
RISE_HOLD = [10_000.0, 15_000.0, 15_000.0, 15_000.0]
FLAT = [10_000.0, 10_000.0, 10_000.0, 10_000.0]
MORE_WAKEUPS = [0.0, 0.01, 0.02, 0.10]


def contended(key):
    return {"multi-accept": RISE_FALL, "reuseport": RISE_HOLD}.get(key[0], FLAT)


class Accept(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def load(self, docs, server_cpus=None):
        run, cases = load_cases(docs, self.tmp.name)
        if server_cpus is not None:
            with open(os.path.join(run.path, "run.json"), "w") as f:
                json.dump({"server_cpus": server_cpus}, f)
            run = load_run(run.path)
            cases = run.of_kind("claims")
        self.assertEqual(len(experiments.cases_of(run, "accept")), len(docs))
        return run, cases

    def m2(self, docs, server_cpus=None):
        return exp_accept.m2(*self.load(docs, server_cpus))

    def m5(self, docs):
        return exp_accept.m5(*self.load(docs))

    # --- M2 ---

    def test_m2_confirmed_when_every_scaled_line_rises(self):
        v, ev = self.m2(grid(contended), "1")
        self.assertEqual(v, CONFIRMED)
        self.assertIn("multi-accept herd: t1 10.0k [9.80k-10.2k] vs t2 15.0k [14.7k-15.3k]", ev)
        self.assertIn("control, one acceptor throughout", ev)
        self.assertIn("the server had 1 CPU", ev)

    def test_m2_refuted_when_a_second_acceptor_adds_nothing(self):
        v, ev = self.m2(grid(lambda k: FLAT))
        self.assertEqual(v, REFUTED)
        self.assertIn("no measurable difference", ev)

    def test_m2_flips_to_depends_when_one_line_stops_rising(self):
        v, _ = self.m2(grid(lambda k: FLAT if k == ("multi-accept", "blocking") else RISE_FALL))
        self.assertEqual(v, DEPENDS)

    def test_m2_reactor_pool_alone_gives_no_verdict(self):
        self.assertIsNone(self.m2(line("reactor-pool", "one-acceptor", RISE_FALL)))

    # --- M5 ---

    def with_wakeups(self, rates_of, rise=True):
        futile = {k: MORE_WAKEUPS if rise else [0.02] * 4 for k in LINES if k[0] == "multi-accept"}
        return grid(rates_of, futile)

    def test_m5_confirmed_when_shared_modes_drop_with_more_wakeups(self):
        v, ev = self.m5(self.with_wakeups(contended))
        self.assertEqual(v, CONFIRMED)
        self.assertIn("multi-accept herd: t2 15.0k [14.7k-15.3k] vs t8 9.00k [8.82k-9.18k]", ev)
        self.assertIn("futile/accept 0.01 [0.0098-0.0102] -> 0.1 [0.098-0.102]", ev)

    def test_m5_refuted_when_no_mode_drops(self):
        v, _ = self.m5(self.with_wakeups(lambda k: FLAT))
        self.assertEqual(v, REFUTED)

    def test_m5_depends_when_reuseport_drops_as_well(self):
        v, ev = self.m5(self.with_wakeups(lambda k: RISE_FALL))
        self.assertEqual(v, DEPENDS)
        self.assertIn("reuseport drops too", ev)

    def test_m5_depends_when_the_drop_brings_no_more_wakeups(self):
        v, _ = self.m5(self.with_wakeups(contended, rise=False))
        self.assertEqual(v, DEPENDS)

    def test_m5_depends_when_one_mode_keeps_its_rate(self):
        v, _ = self.m5(
            self.with_wakeups(lambda k: FLAT if k == ("multi-accept", "blocking") else contended(k))
        )
        self.assertEqual(v, DEPENDS)

    # --- the section and the claims table ---

    def test_lines_group_by_mode_and_threads(self):
        run, cases = self.load(grid(contended))
        ls = exp_accept.lines(cases)
        self.assertEqual(list(ls), LINES)
        self.assertEqual(list(ls[("multi-accept", "herd")]), [1, 2, 4, 8])
        self.assertEqual(ls[("multi-accept", "herd")][2].c("accepts_per_s"), 15_000.0)

    def test_section_and_claims_rows_in_the_report(self):
        run, _ = self.load(self.with_wakeups(contended))
        tool("report", run.path, "--no-charts")
        with open(os.path.join(run.path, "REPORT.md"), encoding="utf-8") as f:
            md = f.read()
        body = sections(md)["Experiments for the claims / " + exp_accept.TITLE + " (M2, M5)"]
        rows = table_with(body, "line", "threads", "acceptors", "futile/accept")
        self.assertEqual(len(rows), len(LINES) * 4)
        herd8 = next(r for r in rows if r["line"] == "multi-accept herd" and r["threads"] == "8")
        self.assertTrue(herd8["accepts/s"].startswith("9.00k"))
        self.assertTrue(herd8["futile/accept"].startswith("0.1"))
        pool8 = next(
            r for r in rows if r["line"].startswith("reactor-pool") and r["threads"] == "8"
        )
        self.assertEqual(pool8["acceptors"], "1")
        claims = {r["id"]: r for r in table_with(sections(md)["What the textbook claims"], "id")}
        self.assertIn("confirmed", claims["M2"]["verdict"])
        self.assertIn("confirmed", claims["M5"]["verdict"])


if __name__ == "__main__":
    unittest.main()
