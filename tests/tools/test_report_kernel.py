#!/usr/bin/env python3
"""tools/report's kernel-queues section: the accept-queue depth of the churn cases and
of the keep-alive cases at the highest connection count, each listener's depth, and the
machine-wide listen overflow counters; absent when no case sampled the queues.

    python3 tests/tools/test_report_kernel.py [-v]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import copy_fixture, rewrite_case, sections, table_with, tool  # noqa: E402

SECTION = "Kernel queues: connections waiting to be accepted"


def with_queue(depth, lo, hi, listeners, overflows=0):
    """An edit giving a case accept-queue figures as the harness writes them."""

    def edit(doc):
        doc["counters"].update(
            accept_queue_max=depth, listen_overflows=overflows, listen_drops=overflows
        )
        doc["ranges"].update(
            accept_queue_max=[lo, hi],
            listen_overflows=[overflows, overflows],
            listen_drops=[overflows, overflows],
        )
        doc["measurement"]["kernel"] = {
            "accept_queue": {
                "samples": 21,
                "max": depth,
                "mean": depth / 4,
                "backlog": 4096,
                "listener_max": listeners,
            }
        }

    return edit


class KernelSectionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pb-report-kernel-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def report(self, run):
        r = tool("report", run, "--no-charts", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(run, "REPORT.md"), encoding="utf-8") as f:
            return sections(f.read())

    def test_absent_without_samples(self):
        self.assertNotIn(SECTION, self.report(copy_fixture(self.tmp)))

    def test_churn_and_widest_keepalive_cases(self):
        run = copy_fixture(self.tmp)
        rewrite_case(run, "matrix-iterative-frame-churn-c16", with_queue(16, 15, 16, [16]))
        rewrite_case(run, "matrix-reuseport-frame-churn-c16", with_queue(9, 7, 11, [3, 9], 2))
        rewrite_case(run, "matrix-iterative-frame-tiny-c16", with_queue(15, 15, 15, [15]))
        rewrite_case(run, "matrix-single-frame-tiny-c1", with_queue(0, 0, 0, [0]))
        sec = self.report(run)
        self.assertIn(SECTION, sec)
        rows = table_with(sec[SECTION], "deepest", "per listener")
        got = {(r["workload"], r["pattern"]): r for r in rows}
        # churn at every count, keep-alive only at the highest count (16 here)
        self.assertEqual(
            set(got),
            {("churn c16", "iterative"), ("churn c16", "reuseport"), ("tiny c16", "iterative")},
        )
        self.assertEqual(got[("churn c16", "reuseport")]["deepest"], "9 [7-11]")
        self.assertEqual(got[("churn c16", "reuseport")]["per listener"], "3 / 9")
        self.assertEqual(got[("churn c16", "reuseport")]["overflows / drops"], "2 / 2")
        self.assertEqual(got[("churn c16", "iterative")]["per listener"], "–")
        self.assertIn("machine-wide", sec[SECTION])
        self.assertIn("**Accept queue:** the deepest listener queue was 16", sec["Reading"])


if __name__ == "__main__":
    unittest.main()
