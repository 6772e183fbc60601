#!/usr/bin/env python3
"""tools/report with an external server (--external NAME=COMMAND): its rows beside the
patterns, labelled external, the External servers section (command, what it skipped
and why, server CPU per request against every pattern), and the Reading's line on
which pattern nginx is and how close each pattern comes to it.

    python3 tests/tools/test_report_external.py [-v]
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

from test_support import HAVE_GNUPLOT, copy_fixture, sections, tables, tool  # noqa: E402

SECTION = "External servers"
SKIP_REASON = "each request asks the server to spin or sleep"


def add_external(run_dir, cpu_us=5.0, workers="1", name="nginx"):
    """An external server's tiny case at 16 connections, as the harness writes it,
    made from the fixture's server-single case of the same cell."""
    src = os.path.join(run_dir, "cases", "matrix-single-frame-tiny-c16.json")
    with open(src, encoding="utf-8") as f:
        doc = json.load(f)
    doc = copy.deepcopy(doc)
    case_id = f"matrix-{name}-frame-tiny-c16"
    doc["case"].update(
        id=case_id,
        name=f"matrix/{name}/frame/tiny/c16",
        pattern=name,
        external={
            "name": name,
            "command": f"bench/external/nginx {{port}} {workers}",
            "skipped": {"blocking-tail": SKIP_REASON + ", which only the project's servers do"},
        },
    )
    doc["counters"].update(cpu_us_per_req=cpu_us, peak_rss_kb=17000, peak_threads=3)
    doc["counters"].pop("jain_requests", None)
    doc.setdefault("ranges", {})["cpu_us_per_req"] = [cpu_us, cpu_us]
    server = doc.setdefault("server", {})
    server["argv"] = ["/bin/sh", "-c", f"bench/external/nginx 40123 {workers}"]
    server["stats"] = None
    server["accounting"] = "cgroup"
    if isinstance(server.get("window"), dict):
        server["window"]["per_thread"] = []
        server["window"]["source"] = "cgroup"
    for rep in doc.get("repetitions") or []:
        if isinstance(rep, dict) and isinstance(rep.get("counters"), dict):
            rep["counters"]["cpu_us_per_req"] = cpu_us
    with open(os.path.join(run_dir, "cases", case_id + ".json"), "w", encoding="utf-8") as f:
        json.dump(doc, f)


class ExternalReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pb-test-external-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def report(self, **kw):
        run = copy_fixture(self.tmp, f"run-{len(os.listdir(self.tmp))}")
        if kw.get("external", True):
            kw.pop("external", None)
            add_external(run, **kw)
        tool("report", run, *([] if HAVE_GNUPLOT else ["--no-charts"]))
        with open(os.path.join(run, "REPORT.md"), encoding="utf-8") as f:
            return run, f.read()

    def cpu_rows(self, md):
        for t in tables(sections(md)[SECTION]):
            if t and "CPU/req vs the external" in t[0]:
                return {r["server"]: r for r in t}
        self.fail("no CPU table in the External servers section")

    def test_section_lists_command_skips_and_cpu_per_request(self):
        _, md = self.report(cpu_us=5.0)
        sec = sections(md)[SECTION]
        self.assertIn("**nginx (external)**: `bench/external/nginx {port} 1`", sec)
        self.assertIn("Not run: blocking-tail: " + SKIP_REASON, sec)
        rows = self.cpu_rows(md)
        self.assertTrue(rows["nginx (external)"]["server CPU us/req"].startswith("5.00"))
        self.assertEqual(rows["nginx (external)"]["CPU/req vs the external"], "1.0x")
        # server-single's 6.3 us against nginx's 5.0.
        self.assertEqual(rows["server-single"]["CPU/req vs the external"], "1.3x")
        # Listed among the run's patterns, labelled external; in the throughput table.
        self.assertIn("nginx (external).", md.split("\n## ")[0])
        self.assertTrue(any(r.get("pattern") == "nginx" for t in tables(md) for r in t))

    def test_ratio_flips_when_the_numbers_flip(self):
        _, md = self.report(cpu_us=12.6)
        rows = self.cpu_rows(md)
        self.assertEqual(rows["server-single"]["CPU/req vs the external"], "0.5x")
        reading = sections(md)["Reading"]
        self.assertIn("server-single 6.30 [6.11-6.49] us (0.5x)", reading)

    def test_reading_says_which_pattern_nginx_is(self):
        _, md = self.report(workers="1")
        reading = sections(md)["Reading"]
        self.assertIn(
            "**nginx (external):** With 1 worker, nginx is the **single** pattern", reading
        )
        _, md = self.report(workers="2")
        reading = sections(md)["Reading"]
        self.assertIn(
            "with 2 workers, nginx is the **reuseport** pattern".capitalize()[:4], reading
        )
        self.assertIn("nginx is the **reuseport** pattern: 2 single-threaded", reading)
        self.assertNotIn("**single** pattern", reading)

    def test_no_section_without_an_external_server(self):
        _, md = self.report(external=False)
        self.assertNotIn(SECTION, sections(md))
        self.assertNotIn("(external)", md)

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot is not installed")
    def test_chart_key_labels_it_external(self):
        run, _ = self.report()
        scripts = ""
        for f in os.listdir(os.path.join(run, "charts")):
            if f.endswith(".gp"):
                with open(os.path.join(run, "charts", f), encoding="utf-8") as fh:
                    scripts += fh.read()
        self.assertIn("nginx (external)", scripts)


if __name__ == "__main__":
    unittest.main()
