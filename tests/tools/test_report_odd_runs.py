#!/usr/bin/env python3
"""tools/report on partial or odd run directories: kinds missing, broken or empty
files, schema-1 case files, one repetition, overlapping ranges, gbench-only runs.

    python3 tests/tools/test_report_odd_runs.py [-v]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import (
    FIXTURE,
    HAVE_GNUPLOT,
    HERE,
    TOOLS,
    copy_fixture,
    parse_number,
    rewrite_case,
    sections,
    strip_schema2,
    tables,
    table_with,
    tool,
)  # noqa: E402  (also puts tools/ on sys.path)


class ReportRobustnessTest(unittest.TestCase):
    """The report must come out whole from a partial or odd run directory."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pb-report-odd-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def report(self, run_dir):
        r = tool("report", run_dir, *([] if HAVE_GNUPLOT else ["--no-charts"]), check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(run_dir, "REPORT.md"), encoding="utf-8") as f:
            md = f.read()
        charts_dir = os.path.join(run_dir, "charts")
        for f in os.listdir(charts_dir) if os.path.isdir(charts_dir) else []:
            if f.endswith(".svg"):
                ET.parse(os.path.join(charts_dir, f))
        return md

    def test_sections_only_for_kinds_present(self):
        run = copy_fixture(self.tmp)
        for f in os.listdir(os.path.join(run, "cases")):
            if not f.startswith("matrix-"):
                os.unlink(os.path.join(run, "cases", f))
        md = self.report(run)
        self.assertNotIn("## TCP_NODELAY", md)
        self.assertNotIn("## Nagle's upside", md)
        self.assertNotIn("## p99 vs offered load", md)
        self.assertIn("## Throughput vs connections", md)
        if HAVE_GNUPLOT:
            self.assertFalse(os.path.exists(os.path.join(run, "charts", "nagle.svg")))
            self.assertTrue(os.path.exists(os.path.join(run, "charts", "throughput-tiny.svg")))

    def test_broken_zero_and_missing_inputs(self):
        run = copy_fixture(self.tmp)
        cases = os.path.join(run, "cases")
        with open(os.path.join(cases, "truncated.json"), "w") as f:
            f.write('{"schema": "patternbench.case/1", "case": {"id": "trunc')
        zero = {
            "schema": "patternbench.case/1",
            "case": {
                "id": "matrix-zero",
                "name": "matrix/zero",
                "kind": "matrix",
                "pattern": "multi-accept",
                "protocol": "frame",
                "workload": "tiny",
                "connections": 16,
            },
            "counters": {
                "rps": 0,
                "p50_us": 0,
                "p99_us": 0,
                "p999_us": 0,
                "cpu_us_per_req": 0,
                "vcsw_per_req": 0,
                "errors": 5,
            },
            "loadgen": {
                "requests": 0,
                "latency_us": {
                    "count": 0,
                    "p50": 0,
                    "p99": 0,
                    "max": 0,
                    "histogram": {"unit": "us", "buckets": []},
                },
            },
            "server": {
                "stats": {
                    "threads": [
                        {"role": "loop", "accepted": 0, "requests": 0},
                        {"role": "loop", "accepted": 0, "requests": 0},
                    ]
                }
            },
        }
        with open(os.path.join(cases, "matrix-zero.json"), "w") as f:
            json.dump(zero, f)
        # A sweep with a zero unloaded p99: no knee can be derived.
        sweep = dict(zero, case=dict(zero["case"], id="sweep-zero", kind="sweep", offered_rps=1000))
        with open(os.path.join(cases, "sweep-zero.json"), "w") as f:
            json.dump(sweep, f)
        os.unlink(os.path.join(run, "sysinfo.json"))
        os.unlink(os.path.join(run, "run.json"))
        md = self.report(run)
        self.assertIn("truncated.json", md)  # named as a problem, not fatal
        self.assertIn("multi-accept", md)
        self.assertIn("wall time **unknown**", md)

    def test_no_foreign_load_sentence(self):
        run = copy_fixture(self.tmp)

        def quiet(d):
            for m in [d["measurement"]] + [r["measurement"] for r in d.get("repetitions", [])]:
                m["foreign"].update(cpus=0.01, flag=False)
            d["counters"].update(foreign_cpu=0.01)
            d["ranges"]["foreign_cpu"] = [0.01, 0.01]

        for cid in (
            "matrix-thread-per-conn-frame-blocking-tail-c16",
            "sweep-reuseport-frame-cpu-c64-r2000",
        ):
            rewrite_case(run, cid, quiet)
        md = self.report(run)
        self.assertIn("no case had foreign load above 5% of a CPU", md)
        self.assertNotIn("※", md)

    def test_schema1_files_old_verdicts_derived_and_one_thread_jain_na(self):
        run = copy_fixture(self.tmp)
        for f in os.listdir(os.path.join(run, "cases")):
            rewrite_case(run, f[:-5], strip_schema2)
        # An old harness wrote Jain 1 over a single loop.
        rewrite_case(
            run,
            "matrix-single-frame-tiny-c16",
            lambda d: d["counters"].update(jain_requests=1.0, maxmin_requests=1.0),
        )
        # Gbench rows would fill the stripped counters back in.
        os.unlink(os.path.join(run, "gbench.json"))
        md = self.report(run)
        sec = sections(md)
        rows = {
            (r["pattern"], r["offered req/s"]): r["verdict"]
            for r in table_with(sec["p99 vs offered load / tiny"], "offered req/s", "verdict")
        }
        self.assertEqual(rows[("single", "40,000")], "□ server saturated")
        self.assertEqual(rows[("reuseport", "20,000")], "△ generator late")
        self.assertEqual(rows[("reuseport", "40,000")], "◇ generator busy")  # generator.saturated
        t = table_with(sec["Load spread across threads"], "Jain requests")
        r = next(r for r in t if r["pattern"] == "single" and r["workload"].startswith("tiny"))
        self.assertEqual(r["Jain requests"], "n/a")
        self.assertEqual(r["counted over"], "lifetime")
        self.assertIn("Not measured in this run", sec["How this was measured / Foreign load"])

    def test_fairness_prefers_window_per_thread(self):
        sys.path.insert(0, TOOLS)
        from pbtools.rundir import jain, load_run

        self.assertIsNone(jain([5]))
        self.assertAlmostEqual(jain([1, 1]), 1.0)
        run = copy_fixture(self.tmp)

        def old_counters(d):
            d["schema"] = "patternbench.case/1"
            for k in ("jain_requests", "maxmin_requests"):
                d["counters"].pop(k, None)

        rewrite_case(run, "matrix-reuseport-frame-tiny-c16", old_counters)
        os.unlink(os.path.join(run, "gbench.json"))
        case = next(c for c in load_run(run).cases if c.id == "matrix-reuseport-frame-tiny-c16")
        window = [t["requests"] for t in case.server["window"]["per_thread"]]
        lifetime = [t["requests"] for t in case.server["stats"]["threads"]]
        self.assertNotAlmostEqual(jain(window), jain(lifetime), places=3)
        self.assertAlmostEqual(case.c("jain_requests"), jain(window))

    def test_nagle_upside_rate_left_at_zero_by_an_old_harness(self):
        """Schema 1's Nagle's-upside client never counted its window replies: rps 0,
        throughput_rps 0, no server CPU, although every request was answered."""
        run = copy_fixture(self.tmp)

        def old(d):
            d["schema"] = "patternbench.case/1"
            d["counters"]["rps"] = 0
            d["counters"].pop("cpu_us_per_req", None)
            lg = d["loadgen"]
            lg.update(window_replies=0, throughput_rps=0, mode="closed", duration_s=2)
            d["server"] = {
                "cpu_us": None,
                "accounting": "none",
                "window": {
                    "seconds": 1.95,
                    "cpu_us": 41907.0,
                    "vcsw": 170,
                    "ivcsw": 5,
                    "requests_estimated": 0,
                },
            }

        rewrite_case(run, "nagle-upside-coff", old)
        os.unlink(os.path.join(run, "gbench.json"))
        with open(os.path.join(run, "cases", "nagle-upside-coff.json"), encoding="utf-8") as f:
            requests = json.load(f)["loadgen"]["requests"]
        sec = sections(self.report(run))["Nagle's upside: many small writes"]
        r = next(
            r for r in table_with(sec, "req/s", "server CPU us/req") if r["client nodelay"] == "off"
        )
        self.assertAlmostEqual(parse_number(r["req/s"]), requests / 2, delta=1)
        self.assertAlmostEqual(
            parse_number(r["server CPU us/req"]), 41907.0 / (requests / 2 * 1.95), delta=0.05
        )

    def test_one_repetition_run_says_so_and_shows_no_ranges(self):
        sys.path.insert(0, HERE)
        import make_fixture

        run = os.path.join(self.tmp, "quick")
        make_fixture.build(run, repetitions=1)
        md = self.report(run)
        head = md.split("## Reading")[0]
        self.assertIn(
            "one repetition per case: no ranges, differences are not tested", head.lower()
        )
        sec = sections(md)
        self.assertIn("**Repetitions: 1** per case", sec["How this was measured"])
        for title in (
            "Throughput vs connections / tiny",
            "Server cost per request",
            "p99 vs offered load / cpu",
        ):
            for t in tables(sec[title]):
                for row in t:
                    for cell in row.values():
                        self.assertNotRegex(cell, r"\d \[", f"{title}: {cell!r}")
        # Without ranges the latency table keeps every percentile of the one run.
        t = table_with(sec["Latency percentile spectrum / tiny, 16 connections"], "p90", "max")
        self.assertTrue(t)
        # The Reading still orders, by the fallback threshold, and says it is untested.
        self.assertIn("one repetition, untested", sec["Reading"])

    def test_overlapping_ranges_are_not_ranked(self):
        """The same fixture with churn's two patterns 0.5% apart and overlapping ranges."""
        run = copy_fixture(self.tmp)

        def close_to_single(d):
            d["counters"]["rps"] = 18400.0
            d["ranges"]["rps"] = [18050.0, 18700.0]
            for r, v in zip(d["repetitions"], (18050.0, 18400.0, 18700.0)):
                r["counters"]["rps"] = v

        rewrite_case(run, "matrix-reuseport-frame-churn-c16", close_to_single)
        os.unlink(os.path.join(run, "gbench.json"))
        line = next(
            ln
            for ln in sections(self.report(run))["Reading"].splitlines()
            if ln.startswith("- **Throughput, churn at 16")
        )
        self.assertIn("no measurable difference", line)
        self.assertNotIn("serves the most", line)
        self.assertNotRegex(line, r"\d\.\dx")  # no ratio, no ranking

    def test_head_of_line_without_a_difference_says_so(self):
        """blocking-tail sweep where thread-per-conn's p99 ranges overlap single's."""
        run = copy_fixture(self.tmp)
        for rate in (500, 1000, 2000, 4000):
            src = os.path.join(run, "cases", f"sweep-single-frame-blocking-tail-c16-r{rate}.json")
            with open(src, encoding="utf-8") as f:
                single = json.load(f)

            def like_single(d, single=single):
                d["counters"]["p99_us"] = single["counters"]["p99_us"]
                d["ranges"]["p99_us"] = single["ranges"]["p99_us"]

            rewrite_case(run, f"sweep-thread-per-conn-frame-blocking-tail-c16-r{rate}", like_single)
        os.unlink(os.path.join(run, "gbench.json"))
        line = next(
            ln
            for ln in sections(self.report(run))["Reading"].splitlines()
            if ln.startswith("- **Head-of-line blocking")
        )
        self.assertIn("server-thread-per-conn", line)
        self.assertRegex(
            line, r"server-thread-per-conn [^(]+\(no measurable difference, ranges overlap\)"
        )
        # reuseport's ranges at 4,000 req/s stay apart from single's: still called lower.
        self.assertRegex(line, r"server-reuseport [^(]+\([\d.]+x lower\)")

    def test_gbench_only_and_empty_dirs(self):
        only = os.path.join(self.tmp, "gbench-only")
        os.makedirs(only)
        shutil.copy(os.path.join(FIXTURE, "gbench.json"), only)
        md = self.report(only)
        self.assertIn("no case files", md)
        self.assertIn("matrix/single/frame/tiny/c16", md)
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        self.assertIn("No cases", self.report(empty))


if __name__ == "__main__":
    unittest.main()
