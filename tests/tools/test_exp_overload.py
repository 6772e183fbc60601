#!/usr/bin/env python3
"""The "overload" claims experiment (tools/pbtools/exp_overload.py): its section shows
threads, memory, refused clients and the probe per server, lists the points the harness
skipped; its P4 and P5 rules give every verdict they can and flip with the numbers.

    python3 tests/tools/test_exp_overload.py [-v]
"""

from __future__ import annotations

import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

import json  # noqa: E402
import os  # noqa: E402

from test_support import (  # noqa: E402
    claims_case_doc,
    load_cases,
    parse_number,
    sections,
    table_with,
    tool,
)

from pbtools import exp_overload, experiments  # noqa: E402
from pbtools.claims_evidence import CONFIRMED, DEPENDS, REFUTED  # noqa: E402

COUNTS = [1024, 4096, 8192]
BOUND = 512


def idle_doc(pattern, n, threads, rss_kb, p99, variant="idle", refused=0, errors=0, spread=0.02):
    counters = {
        "peak_threads": threads,
        "peak_rss_kb": rss_kb,
        "p99_us": p99,
        "errors": errors,
        "connections_up": n - refused,
        "refused": refused,
        "bringup_s": 0.1,
        "probes": 20,
        "probe_refused": 0,
        "probe_timeouts": 0,
    }
    ranges = {k: [v * (1 - spread), v * (1 + spread)] for k, v in counters.items()}
    args = ["--max-threads", str(BOUND)] if variant.startswith("idle-max") else []
    return claims_case_doc(
        "overload",
        pattern,
        variant,
        n,
        counters,
        ranges,
        workload="idle-heavy",
        server_args=args,
    )


def tpc(p99s=(500, 600, 700), rss=(40_000, 130_000, 250_000), follow=True, errors=(0, 0, 0)):
    return [
        idle_doc("thread-per-conn", n, (n + 2) if follow else 64, r, p, errors=e, spread=0.02)
        for n, p, r, e in zip(COUNTS, p99s, rss, errors)
    ]


def bounded(threads=BOUND + 2):
    return [
        idle_doc(
            "thread-per-conn",
            n,
            threads,
            30_000,
            450,
            variant=f"idle-max{BOUND}",
            refused=n - BOUND,
        )
        for n in COUNTS
    ]


def control(pattern, p99s=(400, 410, 420), rss=(8_000, 10_000, 12_000), threads=10):
    return [idle_doc(pattern, n, threads, r, p) for n, p, r in zip(COUNTS, p99s, rss)]


def busy_doc(pattern, p99_us):
    counters = {
        "probes": 24,
        "probe_refused": 0,
        "probe_timeouts": 0,
        "probe_p50_us": p99_us / 4,
        "probe_p99_us": p99_us,
        "probe_max_us": p99_us * 1.1,
        "accept_queue_max": 3,
        "p99_us": 9000,
        "peak_threads": 258,
    }
    return claims_case_doc("overload", pattern, "busy", 256, counters, workload="cpu")


class Rules(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def rule(self, name, docs):
        run, cases = load_cases(docs, self.tmp.name)
        self.assertEqual(len(experiments.cases_of(run, "overload")), len(docs))
        return exp_overload.RULES[name](run, cases)

    # --- P4 ---
    def test_p4_confirmed_when_threads_and_memory_follow_the_clients(self):
        v, ev = self.rule("P4", tpc() + control("worker-queue") + control("single", threads=2))
        self.assertEqual(v, CONFIRMED)
        self.assertIn("8,194", ev)  # the threads at 8,192 connections are quoted
        self.assertIn("RSS per added connection", ev)

    def test_p4_flips_to_depends_when_memory_grows_like_the_controls(self):
        flat = (8_000, 10_000, 12_000)
        v, _ = self.rule("P4", tpc(rss=flat) + control("worker-queue", rss=flat))
        self.assertEqual(v, DEPENDS)

    def test_p4_refuted_when_threads_do_not_follow(self):
        v, ev = self.rule("P4", tpc(follow=False) + control("worker-queue"))
        self.assertEqual(v, REFUTED)
        self.assertIn("do not follow", ev)

    def test_p4_no_verdict_with_one_count(self):
        self.assertIsNone(self.rule("P4", tpc()[:1]))

    # --- P5 ---
    def test_p5_confirmed_when_p99_degrades_beyond_the_controls(self):
        v, ev = self.rule("P5", tpc(p99s=(500, 2000, 9000)) + control("single") + bounded())
        self.assertEqual(v, CONFIRMED)
        self.assertIn("bounded: --max-threads 512", ev)

    def test_p5_depends_when_nothing_degrades(self):
        v, _ = self.rule("P5", tpc(p99s=(500, 505, 502)) + control("single") + bounded())
        self.assertEqual(v, DEPENDS)

    def test_p5_depends_when_the_control_degrades_as_much(self):
        docs = tpc(p99s=(500, 2000, 9000)) + control("single", p99s=(400, 4000, 40000))
        v, _ = self.rule("P5", docs)
        self.assertEqual(v, DEPENDS)

    def test_p5_errors_confirm_whatever_the_controls(self):
        docs = tpc(p99s=(500, 505, 502), errors=(0, 0, 37)) + control("single")
        v, ev = self.rule("P5", docs)
        self.assertEqual(v, CONFIRMED)
        self.assertIn("errors 37", ev)

    def test_p5_refuted_when_threads_do_not_follow(self):
        v, _ = self.rule("P5", tpc(follow=False, p99s=(500, 2000, 9000)))
        self.assertEqual(v, REFUTED)

    def test_p5_says_when_the_bound_does_not_hold(self):
        _, ev = self.rule("P5", tpc(p99s=(500, 2000, 9000)) + bounded(threads=4000))
        self.assertIn("NOT bounded", ev)


class Section(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        docs = (
            tpc(p99s=(500, 2000, 9000))
            + bounded()
            + control("worker-queue")
            + [busy_doc("thread-per-conn", 40_000), busy_doc("single", 900)]
        )
        run, _ = load_cases(docs, cls.tmp.name)
        # A point the harness skipped: only in gbench.json, with its reason.
        with open(os.path.join(run.path, "gbench.json"), "w", encoding="utf-8") as f:
            json.dump(
                {
                    "benchmarks": [
                        {
                            "name": "claims/overload/single/idle/c8192/iterations:1/manual_time",
                            "run_name": "claims/overload/single/idle/c8192",
                            "run_type": "iteration",
                            "error_occurred": True,
                            "error_message": "skipped: RLIMIT_NOFILE hard limit 4096 < 8448",
                        }
                    ]
                },
                f,
            )
        tool("report", run.path, "--no-charts")
        with open(os.path.join(run.path, "REPORT.md"), encoding="utf-8") as f:
            cls.md = f.read()
        cls.body = sections(cls.md)[
            "Experiments for the claims / " + exp_overload.TITLE + " (P4, P5)"
        ]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_idle_table_rows(self):
        rows = table_with(self.body, "server", "connections", "peak threads", "never came up")
        by = {(r["server"], r["connections"]): r for r in rows}
        self.assertAlmostEqual(parse_number(by[("thread-per-conn", "8,192")]["peak threads"]), 8194)
        self.assertEqual(
            by[(f"thread-per-conn --max-threads {BOUND}", "8,192")]["never came up"][:9],
            "7,680 of ",
        )
        self.assertEqual(parse_number(by[("worker-queue", "1,024")]["peak threads"]), 10)
        self.assertIn(
            "skipped: RLIMIT_NOFILE",
            by[("claims/overload/single/idle/c8192", "–")]["never came up"],
        )

    def test_busy_table_rows(self):
        rows = table_with(self.body, "server", "first reply p99", "accept queue max")
        by = {r["server"]: r for r in rows}
        self.assertAlmostEqual(parse_number(by["thread-per-conn"]["first reply p99"]), 40_000)
        self.assertAlmostEqual(parse_number(by["single"]["first reply p99"]), 900)

    def test_claims_table_takes_the_experiments_verdicts(self):
        claims = table_with(sections(self.md)["What the textbook claims"], "id", "verdict")
        by = {r["id"]: r for r in claims}
        self.assertIn("confirmed", by["P4"]["verdict"])
        self.assertIn("confirmed", by["P5"]["verdict"])


if __name__ == "__main__":
    unittest.main()
