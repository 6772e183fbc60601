#!/usr/bin/env python3
"""Tests of REPORT.md's "What the textbook claims" (tools/pbtools/claims.py) on the
fixture run: every claim has a row, every verdict kind occurs, and a rule's verdict
follows the fixture's numbers when they are flipped.

    python3 tests/tools/test_claims.py [-v]
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import (
    copy_fixture,
    rewrite_case,
    rewrite_json,
    tool,
)  # noqa: E402  (also puts tools/ on sys.path)
from pbtools import claims, rundir  # noqa: E402
from pbtools.claims_text import CLAIM_IDS  # noqa: E402

# The claim ids of the course notes (tools/pbtools/claims_text.py), listed here so a claim dropped
# from claims_text.py fails the test.
EXPECTED_IDS = (
    ["T1"]
    + [f"S{i}" for i in range(1, 5)]
    + [f"P{i}" for i in range(1, 7)]
    + [f"Q{i}" for i in range(1, 7)]
    + [f"M{i}" for i in range(1, 7)]
    + [f"R{i}" for i in range(1, 7)]
    + [f"N{i}" for i in range(1, 6)]
    + ["C1", "C2", "C3"]
)


# The fixture as a default-profile run, named as run-bench names one.
DEFAULT_RUN = "20250115-100000-fixture-default"


def set_counter(run_dir, case_id, counter, value, lo, hi):
    def edit(doc):
        doc["counters"][counter] = value
        doc["ranges"][counter] = [lo, hi]

    rewrite_case(run_dir, case_id, edit)


def verdicts(run_dir):
    return claims.verdicts(rundir.load_run(run_dir))


def claims_rows(run_dir) -> dict:
    """{id: (verdict, evidence)} read back from the rendered REPORT.md's section."""
    tool("report", run_dir, "--no-charts", "-q")
    with open(os.path.join(run_dir, "REPORT.md"), encoding="utf-8") as f:
        md = f.read()
    m = re.search(r"^## What the textbook claims\n(.*?)(?=^## )", md, re.S | re.M)
    assert m, "no claims section"
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and re.fullmatch(r"[A-Z]\d", cells[0]):
            rows[cells[0]] = (cells[2].strip("*"), cells[3])
    return rows


class ClaimsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pb-claims-")
        cls.default = copy_fixture(cls.tmp, DEFAULT_RUN)
        cls.rows = claims_rows(cls.default)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def fresh(self, name):
        return copy_fixture(tempfile.mkdtemp(dir=self.tmp), name)

    def test_claim_ids_are_the_notes(self):
        self.assertEqual(CLAIM_IDS, EXPECTED_IDS)

    def test_every_claim_has_a_row_with_evidence(self):
        self.assertEqual(list(self.rows), EXPECTED_IDS)
        for cid, (v, ev) in self.rows.items():
            self.assertIn(v, claims.VERDICTS, cid)
            self.assertTrue(len(ev) > 20, f"{cid}: evidence {ev!r}")

    def test_every_verdict_kind_occurs(self):
        self.assertEqual({v for v, _ in self.rows.values()}, set(claims.VERDICTS))

    def test_evidence_carries_ranges_and_case_names(self):
        v, ev = self.rows["P4"]
        self.assertEqual(v, "confirmed")
        self.assertRegex(ev, r"thread-per-conn idle-heavy c64 70\.0 MiB \[70\.0-70\.1\]")
        self.assertEqual(self.rows["P2"][0], "depends")
        self.assertIn("blocking-tail", self.rows["P2"][1])
        self.assertIn("tiny", self.rows["P2"][1])

    def test_missing_things_are_named(self):
        self.assertIn("TCP Fast Open", self.rows["C2"][1])
        self.assertRegex(self.rows["R1"][1], r"needs >= 2 server CPUs.*the server has 1")
        self.assertIn("no server-worker-queue", self.rows["Q1"][1])

    def test_naive_server_claims(self):
        # S2 depends: fewer requests with keep-alive clients (one served), none over churn.
        v, ev = self.rows["S2"]
        self.assertEqual(v, claims.DEPENDS)
        self.assertIn("only with keep-alive clients", ev)
        self.assertIn("iterative tiny c16 44.5k", ev)
        # S3: blocking sleeps; one client costs the naive server no more CPU.
        self.assertEqual(self.rows["S3"][0], claims.REFUTED)
        self.assertIn("CPU per request (us), one client", self.rows["S3"][1])
        # S4: 1 of 16 keep-alive clients got a reply.
        v, ev = self.rows["S4"]
        self.assertEqual(v, claims.CONFIRMED)
        self.assertIn("1 of 16 keep-alive clients got a first reply", ev)
        self.assertEqual(self.rows["S1"][0], claims.CONFIRMED)  # the real servers/ sources

    def test_naive_server_flips(self):
        run = self.fresh("flip-s")
        # Every keep-alive client served: S4 refuted.
        rewrite_case(
            run,
            "matrix-iterative-frame-tiny-c16",
            lambda d: d["loadgen"]["bringup"].update(up=16),
        )
        # The naive server twice as costly per request: S3 confirmed.
        set_counter(run, "matrix-iterative-frame-tiny-c1", "cpu_us_per_req", 18.0, 17.5, 18.5)
        # Fewer requests over churn too: S2 confirmed.
        set_counter(run, "matrix-iterative-frame-churn-c16", "rps", 9000.0, 8800.0, 9200.0)
        got = verdicts(run)
        self.assertEqual(got["S4"][0], claims.REFUTED)
        self.assertIn("16 of 16", got["S4"][1])
        self.assertEqual(got["S3"][0], claims.CONFIRMED)
        self.assertEqual(got["S2"][0], claims.CONFIRMED)

    def test_c3_names_the_accept_queue_and_flips_when_nothing_waits(self):
        run = self.fresh("c3")
        set_counter(run, "matrix-iterative-frame-churn-c16", "accept_queue_max", 15.0, 14.0, 16.0)
        v, ev = verdicts(run)["C3"]
        self.assertEqual(v, claims.CONFIRMED)
        self.assertIn("up to 15 [14-16] in one listener's queue (iterative churn c16)", ev)
        # Nothing waited anywhere: no receive delay, empty accept queues.
        set_counter(run, "matrix-iterative-frame-churn-c16", "accept_queue_max", 0.0, 0.0, 0.0)
        for f in os.listdir(os.path.join(run, "cases")):

            def quiet(doc):
                rd = (doc.get("loadgen") or {}).get("generator", {}).get("recv_delay_us")
                if isinstance(rd, dict):
                    rd.update(p50=0, p99=0)

            rewrite_case(run, f[: -len(".json")], quiet)
        self.assertEqual(verdicts(run)["C3"][0], claims.REFUTED)

    def test_p4_rss_equal_to_single_is_refuted(self):
        run = self.fresh("flip-p4")
        single = rundir.load_run(run)
        s = [c for c in single.cases if c.id == "matrix-single-frame-idle-heavy-c64"][0]
        set_counter(
            run,
            "matrix-thread-per-conn-frame-idle-heavy-c64",
            "peak_rss_kb",
            s.c("peak_rss_kb"),
            *s.ranges["peak_rss_kb"],
        )
        v, ev = verdicts(run)["P4"]
        self.assertEqual(v, claims.REFUTED)
        self.assertTrue(ev.startswith("peak RSS, no measurable difference"), ev)

    def test_nagle_stalls_vanishing_flip_n2_n4(self):
        run = self.fresh("flip-n4")
        set_counter(run, "nagle-coff-son-split-qaoff", "p50_us", 50.0, 49.0, 51.0)
        set_counter(run, "nagle-coff-son-split-qaoff", "stall_fraction", 0.0, 0.0, 0.0)
        got = verdicts(run)
        self.assertEqual(self.rows["N4"][0], "confirmed")
        self.assertEqual(got["N4"][0], claims.REFUTED)
        self.assertEqual(got["N2"][0], claims.REFUTED)
        self.assertEqual(got["N5"][0], claims.REFUTED)

    def test_t1_without_involuntary_switches_is_refuted(self):
        run = self.fresh("flip-t1")
        set_counter(run, "matrix-thread-per-conn-frame-tiny-c16", "ivcsw_per_req", 0.0, 0.0, 0.0)
        self.assertEqual(self.rows["T1"][0], "confirmed")
        self.assertEqual(verdicts(run)["T1"][0], claims.REFUTED)

    def test_p2_cheap_thread_per_conn_is_confirmed(self):
        run = self.fresh("flip-p2")
        set_counter(run, "matrix-thread-per-conn-frame-tiny-c16", "cpu_us_per_req", 4.0, 3.9, 4.1)
        self.assertEqual(verdicts(run)["P2"][0], claims.CONFIRMED)

    def test_r6_verify_errors_confirm_duplicates(self):
        run = self.fresh("flip-r6")

        def edit(doc):
            doc["loadgen"]["errors"]["verify"] = 3

        rewrite_case(run, "matrix-reuseport-frame-tiny-c1", edit)
        self.assertEqual(self.rows["R6"][0], "refuted")
        v, ev = verdicts(run)["R6"]
        self.assertEqual(v, claims.CONFIRMED)
        self.assertIn("3 of", ev)

    def test_r1_with_two_server_cpus_is_judged(self):
        run = self.fresh("flip-r1")
        rewrite_json(os.path.join(run, "run.json"), lambda rj: rj.update(server_cpus="0-1"))
        # c16 is generator-bound for reuseport: its rate is never compared, c1 cannot scale.
        self.assertEqual(verdicts(run)["R1"][0], claims.NOT_MEASURABLE)
        rewrite_case(
            run,
            "matrix-reuseport-frame-tiny-c16",
            lambda d: d.update(
                counters={**d["counters"], "generator_bound": 0, "verdict_code": 0},
                ranges={**d["ranges"], "generator_bound": [0, 0]},
                repetitions=[],
                verdict={"kind": "ok", "reason": ""},
                loadgen={**d["loadgen"], "verdict": {"kind": "ok"}, "generator": {"bound": False}},
            ),
        )
        v, ev = verdicts(run)["R1"]
        self.assertEqual(v, claims.CONFIRMED, ev)

    def test_nagle_only_run_has_every_row(self):
        run = self.fresh("20250115-110000-fixture-nagle")
        for f in os.listdir(os.path.join(run, "cases")):
            if not f.startswith("nagle"):
                os.unlink(os.path.join(run, "cases", f))
        os.unlink(os.path.join(run, "gbench.json"))
        rows = claims_rows(run)
        self.assertEqual(list(rows), EXPECTED_IDS)
        for cid in ("N1", "N2", "N3", "N4", "N5"):
            self.assertEqual(rows[cid][0], "confirmed", cid)
        self.assertEqual(rows["P4"][0], claims.NOT_MEASURABLE)

    def test_default_run_without_nagle_links_the_sibling_nagle_report(self):
        parent = tempfile.mkdtemp(dir=self.tmp)
        run = copy_fixture(parent, DEFAULT_RUN)
        for f in os.listdir(os.path.join(run, "cases")):
            if f.startswith("nagle"):
                os.unlink(os.path.join(run, "cases", f))
        self.assertIn("make bench-nagle", verdicts(run)["N1"][1])
        for name in ("20250114-090000-fixture-nagle", "20250115-120000-fixture-nagle"):
            os.makedirs(os.path.join(parent, name))
            with open(os.path.join(parent, name, "REPORT.md"), "w", encoding="utf-8") as f:
                f.write("# nagle\n")
        rows = claims_rows(run)
        for cid in ("N1", "N2", "N3", "N4", "N5"):
            self.assertEqual(rows[cid][0], claims.NOT_MEASURABLE)
            self.assertIn("(../20250115-120000-fixture-nagle/REPORT.md)", rows[cid][1])

    def test_one_repetition_run_says_untested(self):
        run = self.fresh("quick")
        for f in os.listdir(os.path.join(run, "cases")):
            rewrite_case(run, f[:-5], lambda d: d.update(ranges={}, repetitions=[]))
        got = verdicts(run)
        self.assertEqual(list(got), EXPECTED_IDS)
        self.assertIn("untested", got["P4"][1])


if __name__ == "__main__":
    unittest.main()
