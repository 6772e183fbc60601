#!/usr/bin/env python3
"""Fixture tests of tools/report: REPORT.md's tables and Reading against the
fixture run's JSON, and the charts (SVG, PNG, what they embed and draw).

The tools run as a user runs them, as subprocesses on a copy of the fixture; the
expected numbers come from the fixture's JSON, never from the code under test.

    python3 tests/tools/test_report.py [-v]
"""

from __future__ import annotations

import os
import re
import sys
import unittest
import xml.etree.ElementTree as ET

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import (
    HAVE_GNUPLOT,
    PATTERNS,
    PNG_MAGIC,
    SWEEP_WORKLOADS,
    WORKLOADS,
    RenderedFixture,
    parse_number,
    tables,
    table_with,
)  # noqa: E402  (also puts tools/ on sys.path)
from pbtools import analysis  # noqa: E402


class ReportTest(RenderedFixture, unittest.TestCase):
    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_every_chart_is_valid_svg_naming_every_pattern(self):
        for name in self.expected_charts():
            path = os.path.join(self.run_dir, "charts", name + ".svg")
            self.assertTrue(os.path.isfile(path), f"{name}.svg missing")
            root = ET.parse(path).getroot()
            self.assertTrue(root.tag.endswith("svg"), name)
            text = " ".join(t for t in root.itertext())
            for p in PATTERNS:
                self.assertRegex(
                    text, rf"(?<![\w-]){re.escape(p)}(?![\w-])", f"{name}.svg does not name {p}"
                )

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_every_chart_has_a_png(self):
        for name in self.expected_charts():
            with open(os.path.join(self.run_dir, "charts", name + ".png"), "rb") as f:
                self.assertEqual(f.read(8), PNG_MAGIC, name)

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_report_embeds_each_chart_by_relative_path(self):
        embedded = set(re.findall(r"!\[[^\]]*\]\((charts/[^)]+\.svg)\)", self.md))
        self.assertEqual(embedded, {f"charts/{n}.svg" for n in self.expected_charts()})
        for rel in embedded:
            self.assertTrue(os.path.isfile(os.path.join(self.run_dir, rel)), rel)

    def test_throughput_tables_match_fixture(self):
        for w in WORKLOADS:
            t = tables(self.sec[f"Throughput vs connections / {w}"])[0]
            rows = {r["pattern"]: r for r in t}
            for doc in self.cases.values():
                c = doc["case"]
                if c["kind"] == "matrix" and c["workload"] == w:
                    cell = rows[c["pattern"]][f"{c['connections']} conns req/s"]
                    self.assertRange(cell, doc, "rps", c["id"])

    def test_latency_tables_match_fixture(self):
        checked = 0
        for title, body in self.sec.items():
            m = re.fullmatch(r"Latency percentile spectrum / (.+), (\d+) connections", title)
            if not m:
                continue
            w, conns = m.group(1), int(m.group(2))
            t = table_with(body, "p50", "p99.9", "req/s")
            # p90, p99.99 and max exist only in the repetition of record: no range, not tabled.
            self.assertNotIn("max", t[0])
            self.assertNotIn("p90", t[0])
            rows = {r["pattern"]: r for r in t}
            for doc in self.cases.values():
                c = doc["case"]
                if c["kind"] == "matrix" and c["workload"] == w and c["connections"] == conns:
                    row = rows[c["pattern"]]
                    self.assertRange(row["p50"], doc, "p50_us", c["id"])
                    self.assertRange(row["p99"], doc, "p99_us", c["id"])
                    self.assertRange(row["p99.9"], doc, "p999_us", c["id"])
                    checked += 1
            base = self.cases["baseline-pingpong-frame-tiny-c1"]
            self.assertRange(rows["loopback baseline (pingpong)"]["p50"], base, "p50_us")
        self.assertGreaterEqual(checked, 10)

    def test_head_of_line_claim_rests_on_the_blocking_tail_sweep(self):
        line = self.reading_line("- **Head-of-line blocking")
        single = self.cases["sweep-single-frame-blocking-tail-c16-r4000"]
        tpc = self.cases["sweep-thread-per-conn-frame-blocking-tail-c16-r4000"]
        m = re.search(
            r"at 4,000 req/s offered to each, server-single (.+?\]) vs server-thread-per-conn "
            r"(.+?\]) \(([\d.]+)x lower\)",
            line,
        )
        self.assertIsNotNone(m, line)
        self.assertRange(m.group(1), single, "p99_us")
        self.assertRange(m.group(2), tpc, "p99_us")
        self.assertAlmostEqual(
            float(m.group(3)),
            single["counters"]["p99_us"] / tpc["counters"]["p99_us"],
            delta=0.06 * single["counters"]["p99_us"] / tpc["counters"]["p99_us"],
        )
        self.assertIn("head-of-line".lower(), line.lower())
        self.assertIn("waits behind it", line)
        # The closed-loop figures are there, labelled, not the evidence.
        self.assertIn("Closed loop, patterns at different throughput", line)

    def test_closed_loop_latency_is_labelled_everywhere(self):
        note = "closed loop: latency = connections / throughput (Little's law); patterns at different throughput"
        for title, body in self.sec.items():
            if title.startswith("Latency percentile spectrum / "):
                self.assertIn(f"*{note}.*", body, title)
        self.assertIn(
            "p99 at every connection count (tiny; " + note, self.sec["Latency percentile spectrum"]
        )
        if HAVE_GNUPLOT:
            for w in WORKLOADS:
                with open(
                    os.path.join(self.run_dir, "charts", f"latency-spectrum-{w}.gp"),
                    encoding="utf-8",
                ) as f:
                    self.assertIn("Little's law", f.read(), w)
        # A closed-loop p99 claim says so, and is backed by the sweep at equal load.
        line = self.reading_line("- **p99, tiny at 16")
        self.assertIn("closed loop, patterns at different throughput", line)
        self.assertRegex(line, r"At equal load \(open loop, 10,000 req/s offered to each\)")

    def test_reading_names_run_time_and_machine(self):
        reading = self.sec["Reading"]
        self.assertIn("12 min 05 s", reading)  # run.json wall_seconds 725.3
        self.assertIn("Fixture CPU @ 2.00GHz", reading)
        self.assertIn("HZ=250", reading)

    def test_idle_heavy_threads_and_rss(self):
        rows = {
            r["pattern"]: r
            for r in table_with(
                self.sec["Threads and memory with many idle connections"],
                "peak threads",
                "peak RSS",
            )
        }
        for p in PATTERNS:
            doc = self.cases[f"matrix-{p}-frame-idle-heavy-c64"]
            self.assertRange(rows[p]["peak threads"], doc, "peak_threads", p)
            self.assertRange(rows[p]["peak RSS"], doc, "peak_rss_kb", p)
        self.assertIn("⚠", rows["reuseport"]["peak threads"])  # that case had errors
        self.assertRegex(
            self.sec["Reading"],
            r"server-thread-per-conn held 65 \[65-65\] threads and 70\.0 MiB "
            r"\[70\.0-70\.1\] RSS",
        )

    def test_fairness_table(self):
        t = table_with(self.sec["Load spread across threads"], "Jain requests", "Jain accepts")
        for r in t:
            w = r["workload"].split(",")[0]
            doc = next(
                d
                for d in self.cases.values()
                if d["case"]["kind"] == "matrix"
                and d["case"]["workload"] == w
                and d["case"]["pattern"] == r["pattern"]
                and r["workload"].endswith(f"{d['case']['connections']} conns")
            )
            for col, counter in (
                ("Jain requests", "jain_requests"),
                ("Jain accepts", "jain_accepts"),
            ):
                if counter in doc["counters"]:
                    self.assertAlmostEqual(
                        parse_number(r[col]), doc["counters"][counter], delta=0.0006
                    )

    def test_cost_table(self):
        t = table_with(self.sec["Server cost per request"], "CPU us/req")
        self.assertGreaterEqual(len(t), 11)
        for r in t:
            w = r["workload"].split(",")[0]
            conns = int(re.search(r"(\d+) conns", r["workload"]).group(1))
            doc = self.cases[f"matrix-{r['pattern']}-frame-{w}-c{conns}"]
            self.assertRange(r["CPU us/req"], doc, "cpu_us_per_req", doc["case"]["id"])

    def test_knee_tables_one_per_sweep_workload(self):
        want = {
            "tiny": {"single": "20,000", "reuseport": "10,000+"},
            "cpu": {"single": "14,000", "reuseport": "14,000+"},
            "blocking-tail": {"single": "none", "thread-per-conn": "4,000+", "reuseport": "none"},
        }
        for w, knees in want.items():
            body = self.sec[f"p99 vs offered load / {w}"]
            rows = {r["pattern"]: r for r in table_with(body, "knee req/s", "objective p99")}
            self.assertEqual({p: r["knee req/s"] for p, r in rows.items()}, knees, w)
            objective = analysis.knee_objective_us(w)
            for r in rows.values():
                self.assertClose(r["objective p99"], objective, w)
            # The definition sits under the chart, with this workload's objective.
            i_chart = body.index(f"charts/p99-vs-load-{w}.svg") if HAVE_GNUPLOT else 0
            i_def = body.index("**Knee** (circled)")
            self.assertLess(i_chart, i_def)
            self.assertIn("achieved ≥ 99% of offered", body)
            self.assertIn("generator-late or generator-busy", body)
            self.assertRegex(
                body[i_def : i_def + 400],
                r"p99 ≤ " + re.escape({500.0: "500 us", 1000.0: "1.00 ms"}[objective]),
            )
        # The noisy lowest point of reuseport's cpu sweep fails the objective, the rest stand.
        rows = {
            (r["pattern"], r["offered req/s"]): r
            for r in table_with(self.sec["p99 vs offered load / cpu"], "meets objective")
        }
        self.assertEqual(rows[("reuseport", "2,000")]["meets objective"], "no")
        self.assertEqual(rows[("reuseport", "5,000")]["meets objective"], "yes")
        self.assertEqual(rows[("reuseport", "17,000")]["meets objective"], "no")  # generator late

    def test_nagle_table_and_explanation(self):
        sec = self.sec["TCP_NODELAY, write patterns and delayed ACK"]
        t = table_with(sec, "stalls ≥30 ms", "client segs out/req")
        self.assertEqual(len(t), 4)
        for r in t:
            doc = next(
                d
                for d in self.cases.values()
                if d["case"]["kind"] == "nagle"
                and ("on" if d["case"]["client_nodelay"] else "off") == r["client nodelay"]
                and d["case"]["write_pattern"] == r["writes"]
                and ("on" if d["case"]["quickack"] else "off") == r["quickack"]
            )
            self.assertRange(r["p50"], doc, "p50_us", doc["case"]["id"])
            self.assertRange(r["stalls ≥30 ms"], doc, "stalls", doc["case"]["id"])
            self.assertRange(r["client segs out/req"], doc, "segs_out_per_req", doc["case"]["id"])
        # The explanation uses the machine's tick and the measured stall.
        self.assertIn("HZ=250 a tick is 4 ms", sec)
        self.assertIn("10 bytes and then 100 bytes", sec)  # from the loadgen config
        self.assertIn("40 to 44 ms", sec)
        self.assertIn("TCP_QUICKACK", sec)
        self.assertIn("writev", sec)

    def test_errors_are_reported(self):
        err = self.sec["Errors"]
        self.assertIn("matrix-reuseport-frame-idle-heavy-c64", err)
        self.assertIn("server exited before listening", err)  # the gbench row with no case file
        self.assertIn("**Errors:**", self.md)

    def test_jain_is_na_with_one_thread(self):
        t = table_with(self.sec["Load spread across threads"], "Jain requests", "Jain accepts")
        single = [r for r in t if r["pattern"] == "single"]
        self.assertTrue(single)
        for r in single:
            self.assertEqual(
                (r["Jain requests"], r["max/min requests"], r["Jain accepts"]),
                ("n/a", "n/a", "n/a"),
            )
        # Two loops that both serve requests do get an index.
        reuse = next(
            r for r in t if r["pattern"] == "reuseport" and r["workload"].startswith("churn")
        )
        self.assertNotEqual(reuse["Jain requests"], "n/a")

    def test_nagle_upside_rate_and_cpu(self):
        t = table_with(self.sec["Nagle's upside: many small writes"], "req/s", "server CPU us/req")
        self.assertEqual(len(t), 2)
        for r in t:
            doc = self.cases[f"nagle-upside-c{r['client nodelay']}"]
            self.assertGreater(parse_number(r["req/s"]), 0)
            self.assertClose(r["req/s"], doc["counters"]["rps"])
            self.assertClose(r["server CPU us/req"], doc["counters"]["cpu_us_per_req"])

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_charts_draw_ranges(self):
        def script(name):
            with open(os.path.join(self.run_dir, "charts", name + ".gp"), encoding="utf-8") as f:
                return f.read()

        tp = script("throughput-tiny")
        self.assertIn("with yerrorlines", tp)
        blocks = dict(re.findall(r"\$(\w+) << EOD\n(.*?)EOD", tp, re.S))
        # One data block per pattern in servers/patterns.txt order: p0 is iterative.
        single = [ln.split() for ln in blocks["p1"].strip().splitlines()]
        doc = self.cases["matrix-single-frame-tiny-c16"]
        row = next(r for r in single if float(r[0]) == 16)
        self.assertEqual(
            [float(x) for x in row[1:4]], [doc["counters"]["rps"], *doc["ranges"]["rps"]]
        )
        for name in ("cpu-per-request", "ctxsw-per-request"):
            self.assertIn("with yerrorbars", script(name))
        for w in SWEEP_WORKLOADS:
            sw = script(f"p99-vs-load-{w}")
            self.assertIn("with yerrorlines", sw)
            self.assertIn("objective: p99 ≤", sw)

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_every_legend_is_outside_the_plot(self):
        charts_dir = os.path.join(self.run_dir, "charts")
        scripts = [f for f in os.listdir(charts_dir) if f.endswith(".gp")]
        self.assertEqual(len(scripts), len(self.expected_charts()))
        for f in scripts:
            with open(os.path.join(charts_dir, f), encoding="utf-8") as fh:
                gp = fh.read().split("set output")[1]  # one terminal's worth
            keys = re.findall(r"(?m)^set key (.*)$", gp)
            titled = re.search(r"(?m)^plot .*\btitle ['\"]", gp)
            if titled:
                self.assertTrue(
                    keys, f"{f}: titled plot with gnuplot's default key (inside the plot)"
                )
            for k in keys:
                if "outside" in k or "below" in k:
                    continue
                m = re.search(r"at screen [\d.]+, screen ([\d.]+)", k)
                b = re.search(r"set bmargin at screen ([\d.]+)", gp)
                self.assertTrue(
                    m and b and float(m.group(1)) < float(b.group(1)),
                    f"{f}: 'set key {k}' may sit inside the plot",
                )


class SyscallsTableTest(unittest.TestCase):
    """The cost section's "System calls per request by kind" table, from each focus
    case's measurement.syscalls (the fixture run predates the counts)."""

    @staticmethod
    def case(pattern, syscalls):
        from types import SimpleNamespace

        measurement = {"syscalls": syscalls} if syscalls is not None else {}
        return SimpleNamespace(pattern=pattern, measurement=measurement)

    def test_one_row_per_case_with_counts_in_kind_order(self):
        from pbtools.report_matrix import SYSCALL_KINDS, syscalls_table

        single = {"read": 1.0, "write": 1.0, "poll": 0.25, "accept": 0.0, "wakeup": 0.0}
        queue = {"read": 1.0, "write": 1.0, "poll": 0.18, "accept": 0.0, "wakeup": 1.32}
        single["uring_enter"] = queue["uring_enter"] = 0.0  # stats files since server-uring
        cats = [
            (
                "tiny\n16 conns",
                {
                    "single": self.case("single", single),
                    "worker-queue": self.case("worker-queue", queue),
                    "thread-per-conn": self.case("thread-per-conn", None),
                },
            )
        ]
        rows = {r["pattern"]: r for r in table_with(syscalls_table(cats), "wakeup")}
        self.assertEqual(set(rows), {"single", "worker-queue"})  # no counts, no row
        for p, want in (("single", single), ("worker-queue", queue)):
            self.assertEqual(rows[p]["workload"], "tiny, 16 conns")
            for k in SYSCALL_KINDS:
                self.assertAlmostEqual(parse_number(rows[p][k]), want[k], delta=0.0006, msg=k)

    def test_nothing_without_counts(self):
        from pbtools.report_matrix import syscalls_table

        self.assertEqual(
            syscalls_table([("tiny\n16 conns", {"single": self.case("single", None)})]), ""
        )


if __name__ == "__main__":
    unittest.main()
