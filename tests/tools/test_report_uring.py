#!/usr/bin/env python3
"""tools/report and server-uring: a pattern this machine could not run (the harness's
unavailable.json) named with its reason and absent from every table and chart; the
uring_enter column of the system calls table; the Reading's sentence on system calls
per request of uring against reuseport, and its absence when either lacks the counts.

    python3 tests/tools/test_report_uring.py [-v]
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import (  # noqa: E402
    HAVE_GNUPLOT,
    copy_fixture,
    parse_number,
    rewrite_case,
    rewrite_json,
    sections,
    table_with,
    tables,
    tool,
)

REASON = "io_uring disabled by PB_SIMULATE_NO_URING=1 (a test switch)"
URING_CASES = ["matrix/uring/frame/tiny/c16", "matrix/uring/frame/churn/c16"]
KINDS = ["read", "write", "poll", "accept", "wakeup", "uring_enter"]


def mark_unavailable(run_dir, found="check-available", with_gbench_rows=False):
    """unavailable.json as the harness writes it; with_gbench_rows: the rows Google
    Benchmark records when the server passed the check and exited 69 at case start."""
    doc = {
        "schema": "patternbench.unavailable/1",
        "patterns": [{"pattern": "uring", "reason": REASON, "found": found, "cases": URING_CASES}],
    }
    with open(os.path.join(run_dir, "unavailable.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f)
    if with_gbench_rows:
        add_error_rows(run_dir, "not available on this machine: " + REASON)


def add_error_rows(run_dir, message):
    def edit(doc):
        for name in URING_CASES:
            doc["benchmarks"].append(
                {
                    "name": name + "/iterations:1/manual_time",
                    "run_name": name + "/iterations:1/manual_time",
                    "run_type": "iteration",
                    "iterations": 0,
                    "error_occurred": True,
                    "error_message": message,
                }
            )

    rewrite_json(os.path.join(run_dir, "gbench.json"), edit)


def with_syscalls(per_kind, median, lo, hi):
    """An edit giving a case its system calls per request: by kind in measurement (and
    in each repetition's), the total as the syscalls_per_req counter with its range."""

    def edit(doc):
        doc.setdefault("measurement", {})["syscalls"] = dict(per_kind)
        doc["counters"]["syscalls_per_req"] = median
        doc.setdefault("ranges", {})["syscalls_per_req"] = [lo, hi]
        values = [lo, median, hi]
        for i, rep in enumerate(doc.get("repetitions") or []):
            rep.setdefault("counters", {})["syscalls_per_req"] = values[i % 3]
            rep["measurement"] = dict(rep.get("measurement") or {}, syscalls=dict(per_kind))

    return edit


def without_syscalls(doc):
    (doc.get("measurement") or {}).pop("syscalls", None)
    doc["counters"].pop("syscalls_per_req", None)
    doc.get("ranges", {}).pop("syscalls_per_req", None)
    for rep in doc.get("repetitions") or []:
        (rep.get("measurement") or {}).pop("syscalls", None)
        (rep.get("counters") or {}).pop("syscalls_per_req", None)


READINESS = {"read": 1.0, "write": 1.0, "poll": 0.1, "accept": 0.0, "wakeup": 0.0}
COMPLETION = {"read": 0.0, "write": 0.0, "poll": 0.0, "accept": 0.0, "wakeup": 0.0}


def add_uring(run_dir, connections=16, uring_enter=0.12, total=(0.12, 0.11, 0.13)):
    """A uring case made from the fixture's reuseport case of the same cell, with its
    own system calls; the reuseport case gets counts by kind too (2.1 [2.05-2.2])."""
    src_id = f"matrix-reuseport-frame-tiny-c{connections}"
    with open(os.path.join(run_dir, "cases", src_id + ".json"), encoding="utf-8") as f:
        doc = copy.deepcopy(json.load(f))
    case_id = f"matrix-uring-frame-tiny-c{connections}"
    doc["case"].update(id=case_id, name=f"matrix/uring/frame/tiny/c{connections}", pattern="uring")
    with open(os.path.join(run_dir, "cases", case_id + ".json"), "w", encoding="utf-8") as f:
        json.dump(doc, f)
    rewrite_case(run_dir, case_id, with_syscalls(dict(COMPLETION, uring_enter=uring_enter), *total))
    rewrite_case(run_dir, src_id, with_syscalls(dict(READINESS, uring_enter=0.0), 2.1, 2.05, 2.2))


class Rendered:
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pb-test-uring-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def report(self, edit, charts=False):
        run = copy_fixture(self.tmp, f"run-{len(os.listdir(self.tmp))}")
        edit(run)
        args = [run] + ([] if charts and HAVE_GNUPLOT else ["--no-charts"])
        tool("report", *args)
        with open(os.path.join(run, "REPORT.md"), encoding="utf-8") as f:
            return run, f.read()


class UnavailableTest(Rendered, unittest.TestCase):
    NOTE = "**Not available on this machine:** server-uring: " + REASON

    def test_note_names_the_pattern_and_its_reason(self):
        _, md = self.report(mark_unavailable)
        head = md.split("\n## ")[0]
        self.assertIn(self.NOTE, head)
        self.assertIn("Its 2 case(s) did not run", head)
        # Not listed among the patterns that ran.
        patterns_line = next(line for line in head.splitlines() if "patterns:" in line)
        self.assertNotIn("uring", patterns_line)

    def test_no_note_without_unavailable_json(self):
        _, md = self.report(lambda run: None)
        self.assertNotIn("Not available on this machine", md)

    def test_absent_from_tables_not_an_error(self):
        # The server passed the check and exited 69 at case start: gbench has error rows.
        _, md = self.report(lambda run: mark_unavailable(run, "case start", True))
        self.assertIn(self.NOTE, md)
        # The fixture's own errors only: one case with errors, one that could not run.
        self.assertIn("1 case(s) reported errors and 1 could not run", md.split("\n## ")[0])
        self.assertNotIn("uring", sections(md)["Errors"])
        # No row of a table of cases or patterns (the claims table counts the lines of
        # every listed pattern's source, whether it ran or not).
        for t in tables(md):
            for row in t:
                for key in ("case", "pattern", "server", "workload"):
                    self.assertNotIn("uring", row.get(key, ""), f"a table row names uring: {row}")

    def test_the_same_rows_without_unavailable_json_are_errors(self):
        # What the test above would see if the report did not know the pattern was out.
        _, md = self.report(
            lambda run: add_error_rows(run, "not available on this machine: " + REASON)
        )
        self.assertIn("1 case(s) reported errors and 3 could not run", md.split("\n## ")[0])
        self.assertIn("matrix/uring/frame/tiny/c16", sections(md)["Errors"])

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_charts_draw_without_the_pattern(self):
        plain_run, _ = self.report(lambda run: None, charts=True)
        run, md = self.report(lambda run: mark_unavailable(run, "case start", True), charts=True)
        self.assertNotIn("could not be drawn", md)
        drawn = sorted(os.listdir(os.path.join(run, "charts")))
        self.assertTrue(drawn)
        self.assertEqual(drawn, sorted(os.listdir(os.path.join(plain_run, "charts"))))
        for name in drawn:
            if name.endswith(".gp"):
                with open(os.path.join(run, "charts", name), encoding="utf-8") as f:
                    self.assertNotIn("uring", f.read(), name)


class UringSyscallsTest(Rendered, unittest.TestCase):
    def syscall_rows(self, md):
        return {r["pattern"]: r for r in table_with(md, "uring_enter", "wakeup")}

    def test_uring_enter_column(self):
        _, md = self.report(add_uring)
        rows = self.syscall_rows(md)
        self.assertAlmostEqual(parse_number(rows["uring"]["uring_enter"]), 0.12, delta=0.0006)
        self.assertEqual(parse_number(rows["uring"]["read"]), 0)
        self.assertEqual(parse_number(rows["reuseport"]["uring_enter"]), 0)
        self.assertAlmostEqual(parse_number(rows["reuseport"]["read"]), 1.0, delta=0.0006)
        cost = sections(md)["Server cost per request"]
        self.assertIn("uring_enter (io_uring_enter()", cost)

    def test_reading_states_the_ratio(self):
        _, md = self.report(add_uring)
        reading = sections(md)["Reading"]
        self.assertIn(
            "**System calls, uring vs reuseport:** server-uring made 0.12 [0.11-0.13] system "
            "calls per request against server-reuseport's 2.10 [2.05-2.20] (tiny, 16 "
            "connections): 17.5x fewer.",
            reading,
        )

    def test_ratio_follows_the_numbers(self):
        _, md = self.report(lambda run: add_uring(run, uring_enter=4.2, total=(4.2, 4.1, 4.3)))
        self.assertIn("(tiny, 16 connections): 2.0x more.", sections(md)["Reading"])
        _, md = self.report(lambda run: add_uring(run, uring_enter=2.1, total=(2.1, 2.0, 2.15)))
        self.assertIn(
            "(tiny, 16 connections): no measurable difference (ranges overlap).",
            sections(md)["Reading"],
        )

    def test_highest_connection_count_both_ran(self):
        def both(run):
            add_uring(run, connections=1, uring_enter=0.5, total=(0.5, 0.5, 0.5))
            add_uring(run, connections=16)

        _, md = self.report(both)
        reading = sections(md)["Reading"]
        self.assertIn("(tiny, 16 connections): 17.5x fewer.", reading)
        self.assertNotIn("(tiny, 1 connections)", reading)

    def test_no_sentence_when_either_lacks_counts(self):
        for case_id in ("matrix-reuseport-frame-tiny-c16", "matrix-uring-frame-tiny-c16"):

            def edit(run, case_id=case_id):
                add_uring(run)
                rewrite_case(run, case_id, without_syscalls)

            _, md = self.report(edit)
            self.assertNotIn("System calls, uring vs reuseport", md, case_id)
        _, md = self.report(lambda run: None)
        self.assertNotIn("System calls, uring vs reuseport", md)


if __name__ == "__main__":
    unittest.main()
