#!/usr/bin/env python3
"""Fixture-based tests of tools/report, tools/compare and tools/sysinfo.

The fixture (fixtures/run-small, written by make_fixture.py) is a small run
directory in the harness's format. The tools run as a user runs them, as
subprocesses on a copy of it; the expected numbers come from the fixture's JSON,
never from the code under test.

    python3 tests/tools/test_tools.py [-v]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, "tools")
FIXTURE = os.path.join(HERE, "fixtures", "run-small")
sys.path.insert(0, TOOLS)

from pbtools import analysis, hdr  # noqa: E402

HAVE_GNUPLOT = shutil.which("gnuplot") is not None
PATTERNS = ["single", "thread-per-conn", "reuseport"]
SWEEP_WORKLOADS = ["tiny", "cpu", "blocking-tail"]
WORKLOADS = ["tiny", "blocking-tail", "churn", "idle-heavy"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tool(name, *args, check=True):
    r = subprocess.run([sys.executable, os.path.join(TOOLS, name), *args], capture_output=True, text=True,
                       timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"tools/{name} {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def fixture_cases():
    out = {}
    for f in os.listdir(os.path.join(FIXTURE, "cases")):
        with open(os.path.join(FIXTURE, "cases", f), encoding="utf-8") as fh:
            doc = json.load(fh)
        out[doc["case"]["id"]] = doc
    return out


def copy_fixture(tmp, name="run"):
    dst = os.path.join(tmp, name)
    shutil.copytree(FIXTURE, dst)
    return dst


# --- reading REPORT.md back ----------------------------------------------------------

UNITS = {"us": 1, "ms": 1e3, "s": 1e6, "KiB": 1, "MiB": 1024, "GiB": 1024 ** 2, "k": 1e3, "M": 1e6, "%": 1}


def _one(text: str, unit: str | None = None) -> tuple[float, str | None] | None:
    m = re.fullmatch(r"(-?[\d.]+)\s*(us|ms|s|KiB|MiB|GiB|%|x|k|M)?", text.replace(",", "").strip())
    if not m:
        return None
    u = m.group(2) or unit
    return float(m.group(1)) * UNITS.get(u, 1), u


def parse_ranged(cell: str):
    """"81.7k [79.9k-83.0k]" -> (81700, 79900, 83000); "9.50 ms [9.31-9.77]" -> in us
    (the range shares the median's unit unless it names its own); a plain "1.23 ms"
    -> (1230, None, None). None when the cell is not a number."""
    cell = re.sub(r"[⚠◇△□※◔≥+]", "", cell).strip()
    m = re.fullmatch(r"(.*?)\s*\[(.*)\]", cell)
    main = _one(m.group(1) if m else cell)
    if main is None:
        return None
    if not m:
        return main[0], None, None
    parts = re.split(r"(?<=[\d%a-zA-Z])-(?=[\d])| to ", m.group(2))
    if len(parts) != 2:
        return None
    lo, hi = _one(parts[0], main[1]), _one(parts[1], main[1])
    if lo is None or hi is None:
        return None
    return main[0], lo[0], hi[0]


def parse_number(cell: str) -> float | None:
    """The median of a cell: "12,345" -> 12345; "1.23 ms" -> 1230 (us); "70.0 MiB [..]" -> 71680 (KiB)."""
    r = parse_ranged(cell)
    return None if r is None else r[0]


def sections(md: str) -> dict:
    """{heading text: body} for ## and ### headings (### nested under its ##)."""
    out, current, parent = {}, None, None
    for line in md.splitlines():
        m = re.match(r"(#{2,3}) (.*)", line)
        if m:
            if len(m.group(1)) == 2:
                parent = m.group(2)
                current = parent
            else:
                current = f"{parent} / {m.group(2)}"
            out[current] = []
            continue
        if current is not None:
            out[current].append(line)
            if parent and current != parent:
                out[parent].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def tables(text: str) -> list[list[dict]]:
    """Markdown tables in text, each as a list of {header: cell} rows."""
    result, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in block]
            headers = cells[0]
            result.append([dict(zip(headers, r)) for r in cells[2:]])
        block = []
    return result


def table_with(text: str, *headers) -> list[dict]:
    for t in tables(text):
        if t and all(h in t[0] for h in headers):
            return t
    raise AssertionError(f"no table with columns {headers}")


def last_digit(text: str) -> float:
    """Half of the last printed digit of a number in text, in the unit of parse_number."""
    m = re.search(r"([\d.,]+)\s*(us|ms|s|KiB|MiB|GiB|k|M)?", re.sub(r"[≥⚠◇△□※◔]", "", text))
    if not m:
        return 0.0
    decimals = len(m.group(1).partition(".")[2])
    return 0.5 * 10 ** -decimals * UNITS.get(m.group(2), 1)


class NumberMatch:
    def assertClose(self, cell, expected, what=""):
        got = parse_number(cell)
        self.assertIsNotNone(got, f"{what}: cell {cell!r} is not a number")
        # Tables round: to the unit, to 3 significant digits, or to 2 decimals of ms.
        tol = max(0.51, 0.006 * abs(expected), 1.01 * last_digit(cell))
        self.assertLessEqual(abs(got - expected), tol, f"{what}: table says {cell!r}, fixture has {expected}")

    def assertRange(self, cell, doc, counter, what=""):
        """cell is "median [min-max]" with the fixture's median and range of counter."""
        r = parse_ranged(cell)
        self.assertIsNotNone(r, f"{what}: {cell!r}")
        self.assertIsNotNone(r[1], f"{what}: {cell!r} has no range")
        self.assertClose(cell, doc["counters"][counter], what)
        lo, hi = doc["ranges"][counter]
        inner = re.search(r"\[(.*)\]", cell).group(1)
        tol = max(0.51, 0.006 * abs(hi), 1.01 * last_digit(inner + " " + (re.search(r"(us|ms|s|KiB|MiB|GiB|k|M)\b", cell) or [None, ""])[1]))
        self.assertLessEqual(abs(r[1] - lo), tol, f"{what}: range {cell!r} vs [{lo}, {hi}]")
        self.assertLessEqual(abs(r[2] - hi), tol, f"{what}: range {cell!r} vs [{lo}, {hi}]")


# --- report --------------------------------------------------------------------------

class ReportTest(unittest.TestCase, NumberMatch):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pb-report-")
        cls.run_dir = copy_fixture(cls.tmp)
        args = [cls.run_dir] if HAVE_GNUPLOT else [cls.run_dir, "--no-charts"]
        cls.result = tool("report", *args)
        with open(os.path.join(cls.run_dir, "REPORT.md"), encoding="utf-8") as f:
            cls.md = f.read()
        cls.sec = sections(cls.md)
        cls.cases = fixture_cases()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def expected_charts(self):
        names = ["cpu-per-request", "ctxsw-per-request", "nagle", "nagle-upside"]
        names += [f"p99-vs-load-{w}" for w in SWEEP_WORKLOADS]
        for w in WORKLOADS:
            names += [f"throughput-{w}", f"latency-spectrum-{w}", f"spread-{w}"]
        return names

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_every_chart_is_valid_svg_naming_every_pattern(self):
        for name in self.expected_charts():
            path = os.path.join(self.run_dir, "charts", name + ".svg")
            self.assertTrue(os.path.isfile(path), f"{name}.svg missing")
            root = ET.parse(path).getroot()
            self.assertTrue(root.tag.endswith("svg"), name)
            text = " ".join(t for t in root.itertext())
            for p in PATTERNS:
                self.assertRegex(text, rf"(?<![\w-]){re.escape(p)}(?![\w-])", f"{name}.svg does not name {p}")

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

    def reading_line(self, start):
        return next(ln for ln in self.sec["Reading"].splitlines() if ln.startswith(start))

    def test_head_of_line_claim_rests_on_the_blocking_tail_sweep(self):
        line = self.reading_line("- **Head-of-line blocking")
        single = self.cases["sweep-single-frame-blocking-tail-c16-r4000"]
        tpc = self.cases["sweep-thread-per-conn-frame-blocking-tail-c16-r4000"]
        m = re.search(r"at 4,000 req/s offered to each, server-single (.+?\]) vs server-thread-per-conn "
                      r"(.+?\]) \(([\d.]+)x lower\)", line)
        self.assertIsNotNone(m, line)
        self.assertRange(m.group(1), single, "p99_us")
        self.assertRange(m.group(2), tpc, "p99_us")
        self.assertAlmostEqual(float(m.group(3)), single["counters"]["p99_us"] / tpc["counters"]["p99_us"],
                               delta=0.06 * single["counters"]["p99_us"] / tpc["counters"]["p99_us"])
        self.assertIn("head-of-line".lower(), line.lower())
        self.assertIn("waits behind it", line)
        # The closed-loop figures are there, labelled, not the evidence.
        self.assertIn("Closed loop, patterns at different throughput", line)

    def test_closed_loop_latency_is_labelled_everywhere(self):
        note = "closed loop: latency = connections / throughput (Little's law); patterns at different throughput"
        for title, body in self.sec.items():
            if title.startswith("Latency percentile spectrum / "):
                self.assertIn(f"*{note}.*", body, title)
        self.assertIn("p99 at every connection count (tiny; " + note, self.sec["Latency percentile spectrum"])
        if HAVE_GNUPLOT:
            for w in WORKLOADS:
                with open(os.path.join(self.run_dir, "charts", f"latency-spectrum-{w}.gp"), encoding="utf-8") as f:
                    self.assertIn("Little's law", f.read(), w)
        # A closed-loop p99 claim says so, and is backed by the sweep at equal load.
        line = self.reading_line("- **p99, tiny at 16")
        self.assertIn("closed loop, patterns at different throughput", line)
        self.assertRegex(line, r"At equal load \(open loop, 10,000 req/s offered to each\)")

    def test_reading_names_run_time_and_machine(self):
        reading = self.sec["Reading"]
        self.assertIn("12 min 05 s", reading)        # run.json wall_seconds 725.3
        self.assertIn("Fixture CPU @ 2.00GHz", reading)
        self.assertIn("HZ=250", reading)

    def test_idle_heavy_threads_and_rss(self):
        rows = {r["pattern"]: r for r in table_with(self.sec["Threads and memory with many idle connections"],
                                                     "peak threads", "peak RSS")}
        for p in PATTERNS:
            doc = self.cases[f"matrix-{p}-frame-idle-heavy-c64"]
            self.assertRange(rows[p]["peak threads"], doc, "peak_threads", p)
            self.assertRange(rows[p]["peak RSS"], doc, "peak_rss_kb", p)
        self.assertIn("⚠", rows["reuseport"]["peak threads"])  # that case had errors
        self.assertRegex(self.sec["Reading"], r"server-thread-per-conn held 65 \[65-65\] threads and 70\.0 MiB "
                                              r"\[70\.0-70\.1\] RSS")

    def test_fairness_table(self):
        t = table_with(self.sec["Load spread across threads"], "Jain requests", "Jain accepts")
        for r in t:
            w = r["workload"].split(",")[0]
            doc = next(d for d in self.cases.values() if d["case"]["kind"] == "matrix"
                       and d["case"]["workload"] == w and d["case"]["pattern"] == r["pattern"]
                       and r["workload"].endswith(f"{d['case']['connections']} conns"))
            for col, counter in (("Jain requests", "jain_requests"), ("Jain accepts", "jain_accepts")):
                if counter in doc["counters"]:
                    self.assertAlmostEqual(parse_number(r[col]), doc["counters"][counter], delta=0.0006)

    def test_cost_table(self):
        t = table_with(self.sec["Server cost per request"], "CPU us/req")
        self.assertGreaterEqual(len(t), 11)
        for r in t:
            w = r["workload"].split(",")[0]
            conns = int(re.search(r"(\d+) conns", r["workload"]).group(1))
            doc = self.cases[f"matrix-{r['pattern']}-frame-{w}-c{conns}"]
            self.assertRange(r["CPU us/req"], doc, "cpu_us_per_req", doc["case"]["id"])

    def test_knee_tables_one_per_sweep_workload(self):
        want = {"tiny": {"single": "20,000", "reuseport": "10,000+"},
                "cpu": {"single": "14,000", "reuseport": "14,000+"},
                "blocking-tail": {"single": "none", "thread-per-conn": "4,000+", "reuseport": "none"}}
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
            self.assertRegex(body[i_def:i_def + 400], r"p99 ≤ " + re.escape(
                {500.0: "500 us", 1000.0: "1.00 ms"}[objective]))
        # The noisy lowest point of reuseport's cpu sweep fails the objective, the rest stand.
        rows = {(r["pattern"], r["offered req/s"]): r for r in
                table_with(self.sec["p99 vs offered load / cpu"], "meets objective")}
        self.assertEqual(rows[("reuseport", "2,000")]["meets objective"], "no")
        self.assertEqual(rows[("reuseport", "5,000")]["meets objective"], "yes")
        self.assertEqual(rows[("reuseport", "17,000")]["meets objective"], "no")   # generator late

    def test_nagle_table_and_explanation(self):
        sec = self.sec["TCP_NODELAY, write patterns and delayed ACK"]
        t = table_with(sec, "stalls ≥30 ms", "client segs out/req")
        self.assertEqual(len(t), 4)
        for r in t:
            doc = next(d for d in self.cases.values() if d["case"]["kind"] == "nagle"
                       and ("on" if d["case"]["client_nodelay"] else "off") == r["client nodelay"]
                       and d["case"]["write_pattern"] == r["writes"]
                       and ("on" if d["case"]["quickack"] else "off") == r["quickack"])
            self.assertRange(r["p50"], doc, "p50_us", doc["case"]["id"])
            self.assertRange(r["stalls ≥30 ms"], doc, "stalls", doc["case"]["id"])
            self.assertRange(r["client segs out/req"], doc, "segs_out_per_req", doc["case"]["id"])
        # The explanation uses the machine's tick and the measured stall.
        self.assertIn("HZ=250 a tick is 4 ms", sec)
        self.assertIn("10 bytes and then 100 bytes", sec)   # from the loadgen config
        self.assertIn("40 to 44 ms", sec)
        self.assertIn("TCP_QUICKACK", sec)
        self.assertIn("writev", sec)

    def test_errors_are_reported(self):
        err = self.sec["Errors"]
        self.assertIn("matrix-reuseport-frame-idle-heavy-c64", err)
        self.assertIn("server exited before listening", err)   # the gbench row with no case file
        self.assertIn("**Errors:**", self.md)


    # --- issue 10: what the numbers are worth -------------------------------------------

    def test_generator_bound_is_marked_and_never_ranked(self):
        doc = self.cases["matrix-reuseport-frame-tiny-c16"]
        self.assertEqual(doc["counters"]["generator_bound"], 1)
        # The fixture's point: the generator-bound case is the fastest of its cell.
        cell = [d for d in self.cases.values() if d["case"]["kind"] == "matrix"
                and d["case"]["workload"] == "tiny" and d["case"]["connections"] == 16]
        self.assertEqual(max(cell, key=lambda d: d["counters"]["rps"])["case"]["pattern"], "reuseport")
        sec = self.sec["Throughput vs connections / tiny"]
        rows = {r["pattern"]: r for r in tables(sec)[0]}
        self.assertIn("◇", rows["reuseport"]["16 conns req/s"])
        self.assertNotIn("◇", rows["single"]["16 conns req/s"])
        self.assertRegex(sec, r"(?m)^- ◇ \*\*generator-bound\*\*")
        reading = self.sec["Reading"]
        line = next(ln for ln in reading.splitlines() if ln.startswith("- **Throughput, tiny at 16"))
        self.assertNotIn("serves the most", line)
        self.assertIn("not ranked", line)
        # Compared on server CPU per request instead: single is the cheapest, with the
        # rate one server CPU could give at that cost (1e6 / 6.3 us).
        single_cpu = self.cases["matrix-single-frame-tiny-c16"]["counters"]["cpu_us_per_req"]
        self.assertRegex(line, r"server-single is the cheapest per request")
        self.assertIn(f"≈ {1e6 / single_cpu:,.0f} req/s", line)
        # Nor is it the winner on latency.
        p99 = next(ln for ln in reading.splitlines() if ln.startswith("- **p99, tiny at 16"))
        self.assertNotIn("lowest server-reuseport", p99)
        self.assertIn("server-reuseport left out", p99)

    def sweep_rows(self):
        return {(r["pattern"], r["offered req/s"]): r
                for r in table_with(self.sec["p99 vs offered load / tiny"], "offered req/s", "verdict")}

    def test_sweep_verdicts_have_their_own_marks(self):
        rows = self.sweep_rows()
        self.assertEqual(rows[("single", "40,000")]["verdict"], "□ server saturated")
        self.assertEqual(rows[("reuseport", "20,000")]["verdict"], "△ generator late")
        self.assertEqual(rows[("reuseport", "40,000")]["verdict"], "◇ generator busy")
        self.assertEqual(rows[("single", "5,000")]["verdict"], "ok")
        sec = self.sec["p99 vs offered load"]
        self.assertNotIn("could not keep up", sec)
        for mark in "□△◇":
            self.assertRegex(sec, rf"(?m)^- {mark} \*\*")

    def test_sweep_chart_draws_each_verdict_with_its_own_point(self):
        from pbtools import charts
        from pbtools.rundir import load_run
        cases = [c for c in load_run(FIXTURE).of_kind("sweep") if c.workload == "tiny"]
        chart = charts.sweep("s", "tiny", "frame", cases, analysis.sweep_knees(cases), PATTERNS,
                             charts.Palette(PATTERNS))
        blocks = dict(re.findall(r"\$(\w+) << EOD\n(.*?)EOD", chart.body, re.S))
        want = {"sat": ("40000", 4), "late": ("20000", 8), "busy": ("40000", 12)}
        for block, (rate, pt) in want.items():
            lines = blocks[block].strip().splitlines()
            self.assertEqual(len(lines), 1, block)
            self.assertEqual(float(lines[0].split()[0]), float(rate), block)
            self.assertRegex(chart.body, rf"\${block} using 1:2 with points pt {pt} ")
        self.assertNotIn("could not keep up", chart.body)

    def test_unsent_requests_make_percentiles_lower_bounds(self):
        rows = self.sweep_rows()
        sat = rows[("single", "40,000")]
        self.assertGreater(self.cases["sweep-single-frame-tiny-c16-r40000"]["loadgen"]["open_loop"]["unsent"], 0)
        for col in ("p50", "p99", "p99.9"):
            self.assertTrue(sat[col].startswith("≥ "), sat[col])
        self.assertRange(sat["p99"], self.cases["sweep-single-frame-tiny-c16-r40000"], "p99_us")
        self.assertFalse(rows[("single", "20,000")]["p99"].startswith("≥"))
        self.assertRegex(self.sec["p99 vs offered load"], r"(?m)^- ≥ \*\*lower bound\*\*")

    def test_foreign_load_is_flagged_and_listed(self):
        self.assertNotIn("load average", self.md)
        rows = {r["pattern"]: r for r in tables(self.sec["Throughput vs connections / blocking-tail"])[0]}
        self.assertIn("※", rows["thread-per-conn"]["16 conns req/s"])
        self.assertNotIn("※", rows["single"]["16 conns req/s"])
        sec = self.sec["How this was measured / Foreign load"]
        t = {r["case"]: r for r in table_with(sec, "foreign CPUs", "steal")}
        # The sweep point had foreign load in two of its three repetitions.
        self.assertEqual(set(t), {"matrix-thread-per-conn-frame-blocking-tail-c16", "sweep-reuseport-frame-cpu-c64-r2000"})
        self.assertClose(t["matrix-thread-per-conn-frame-blocking-tail-c16"]["foreign CPUs"], 0.12)
        self.assertEqual(t["matrix-thread-per-conn-frame-blocking-tail-c16"]["steal"], "0.05 s [0.05-0.05]")
        self.assertEqual(t["sweep-reuseport-frame-cpu-c64-r2000"]["repetitions flagged"], "2 of 3")

    def test_jain_is_na_with_one_thread(self):
        t = table_with(self.sec["Load spread across threads"], "Jain requests", "Jain accepts")
        single = [r for r in t if r["pattern"] == "single"]
        self.assertTrue(single)
        for r in single:
            self.assertEqual((r["Jain requests"], r["max/min requests"], r["Jain accepts"]), ("n/a", "n/a", "n/a"))
        # Two loops that both serve requests do get an index.
        reuse = next(r for r in t if r["pattern"] == "reuseport" and r["workload"].startswith("churn"))
        self.assertNotEqual(reuse["Jain requests"], "n/a")

    def test_nagle_upside_rate_and_cpu(self):
        t = table_with(self.sec["Nagle's upside: many small writes"], "req/s", "server CPU us/req")
        self.assertEqual(len(t), 2)
        for r in t:
            doc = self.cases[f"nagle-upside-c{r['client nodelay']}"]
            self.assertGreater(parse_number(r["req/s"]), 0)
            self.assertClose(r["req/s"], doc["counters"]["rps"])
            self.assertClose(r["server CPU us/req"], doc["counters"]["cpu_us_per_req"])

    def test_how_this_was_measured(self):
        sec = self.sec["How this was measured"]
        t = {r["class"]: r for r in table_with(sec, "server figures", "bring-up")}
        self.assertIn("server-snapshot ×13", t["matrix"]["server figures"])
        # Section D: the repetition count and the seed, from run.json.
        self.assertIn("**Repetitions: 3** per case, 159 runs in all", sec)
        self.assertIn("seed **7301**", sec)
        self.assertIn("proc-stat ×1", t["matrix"]["server figures"])
        self.assertIn("11 of 12 complete", t["matrix"]["bring-up"])
        self.assertRegex(t["sweep"]["generator receive delay p50 / p99"], r"us / \d+ us")
        # The incomplete bring-up is the case's finding, not an error.
        self.assertIn("matrix-thread-per-conn-frame-idle-heavy-c64: 60 of 64 connections accepted within 10.0 s",
                      sec)
        self.assertNotIn("matrix-thread-per-conn-frame-idle-heavy-c64", self.sec["Errors"])

    # --- issue 11: statistics a reader can trust ------------------------------------------

    # Columns that hold settings or structure, not measurements: no range expected.
    NOT_MEASURED_COLUMNS = {"conns", "connections", "offered", "offered req/s", "objective p99", "knee req/s",
                            "threads", "cases", "repetitions flagged", "above the knee", "note", "value",
                            "snapshot delay", "bring-up", "generator receive delay p50 / p99", "server figures",
                            "client errors by class", "server errors", "message", "errors"}

    def test_every_measured_number_has_its_range(self):
        # The claims table's evidence is prose (thread counts, lines of code); test_claims.py checks its ranges.
        skip_sections = {"Machine", "Errors", "What the textbook claims"}
        checked = 0
        for title, body in self.sec.items():
            if "/" in title or title in skip_sections:
                continue
            for t in tables(body):
                for row in t:
                    if row.get("case", "").count("/") >= 3:   # a gbench row without a case file
                        continue
                    for col, cell in row.items():
                        if col in self.NOT_MEASURED_COLUMNS or col in ("pattern", "workload", "case", "kind",
                                                                       "class", "writes", "client nodelay",
                                                                       "server nodelay", "quickack", "verdict",
                                                                       "meets objective", "counted over", ""):
                            continue
                        if not re.search(r"\d", cell) or cell in ("n/a", "–"):
                            continue
                        self.assertRegex(cell, r"\[[^\]]+\]", f"{title}: column {col!r}: {cell!r} has no range")
                        checked += 1
        self.assertGreater(checked, 500)

    def test_ranged_run_says_how_many_repetitions_at_the_top(self):
        head = self.md.split("## Reading")[0]
        self.assertIn("**median of 3 repetitions**", head)
        self.assertNotIn("one repetition per case", self.md)

    def test_reading_ranks_only_separated_ranges(self):
        # churn: 26.9k [26.4k-27.4k] vs 18.3k [18.0k-18.6k]: apart, ranked.
        self.assertIn("server-reuseport serves the most", self.reading_line("- **Throughput, churn at 16"))
        # idle-heavy: 3.10k vs 3.05k vs 3.10k with overlapping ranges: not ranked.
        line = self.reading_line("- **Throughput, idle-heavy at 64")
        self.assertIn("no measurable difference", line)
        self.assertNotIn("serves the most", line)
        # The equal-load check of the tiny p99 claim: 10,000 req/s, ranges overlap.
        self.assertIn("no measurable difference (ranges overlap)", self.reading_line("- **p99, tiny at 16"))

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_charts_draw_ranges(self):
        def script(name):
            with open(os.path.join(self.run_dir, "charts", name + ".gp"), encoding="utf-8") as f:
                return f.read()
        tp = script("throughput-tiny")
        self.assertIn("with yerrorlines", tp)
        blocks = dict(re.findall(r"\$(\w+) << EOD\n(.*?)EOD", tp, re.S))
        single = [ln.split() for ln in blocks["p0"].strip().splitlines()]
        doc = self.cases["matrix-single-frame-tiny-c16"]
        row = next(r for r in single if float(r[0]) == 16)
        self.assertEqual([float(x) for x in row[1:4]], [doc["counters"]["rps"], *doc["ranges"]["rps"]])
        for name in ("cpu-per-request", "ctxsw-per-request"):
            self.assertIn("with yerrorbars", script(name))
        for w in SWEEP_WORKLOADS:
            sw = script(f"p99-vs-load-{w}")
            self.assertIn("with yerrorlines", sw)
            self.assertIn(f"objective: p99 ≤", sw)

    @unittest.skipUnless(HAVE_GNUPLOT, "gnuplot not installed")
    def test_every_legend_is_outside_the_plot(self):
        charts_dir = os.path.join(self.run_dir, "charts")
        scripts = [f for f in os.listdir(charts_dir) if f.endswith(".gp")]
        self.assertEqual(len(scripts), len(self.expected_charts()))
        for f in scripts:
            with open(os.path.join(charts_dir, f), encoding="utf-8") as fh:
                gp = fh.read().split("set output")[1]          # one terminal's worth
            keys = re.findall(r"(?m)^set key (.*)$", gp)
            titled = re.search(r"(?m)^plot .*\btitle ['\"]", gp)
            if titled:
                self.assertTrue(keys, f"{f}: titled plot with gnuplot's default key (inside the plot)")
            for k in keys:
                if "outside" in k or "below" in k:
                    continue
                m = re.search(r"at screen [\d.]+, screen ([\d.]+)", k)
                b = re.search(r"set bmargin at screen ([\d.]+)", gp)
                self.assertTrue(m and b and float(m.group(1)) < float(b.group(1)),
                                f"{f}: 'set key {k}' may sit inside the plot")


def rewrite_case(run_dir, case_id, edit):
    path = os.path.join(run_dir, "cases", case_id + ".json")
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    edit(doc)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def strip_schema2(doc):
    """A case file as schema 1 wrote it: none of issue 10's fields."""
    doc["schema"] = "patternbench.case/1"
    for k in ("verdict", "measurement", "ranges", "repetitions", "repetition_of_record"):
        doc.pop(k, None)
    for k in ("generator_bound", "gen_busy", "foreign_cpu", "verdict_code"):
        doc["counters"].pop(k, None)
    lg = doc.get("loadgen") or {}
    lg["schema_version"] = 1
    for k in ("verdict", "bringup"):
        lg.pop(k, None)
    gen = lg.get("generator") or {}
    for k in ("bound", "recv_delay_us"):
        gen.pop(k, None)
    if (doc.get("server") or {}).get("window"):
        doc["server"]["window"].pop("per_thread", None)
        doc["server"]["window"].pop("source", None)


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
        zero = {"schema": "patternbench.case/1",
                "case": {"id": "matrix-zero", "name": "matrix/zero", "kind": "matrix", "pattern": "multi-accept",
                         "protocol": "frame", "workload": "tiny", "connections": 16},
                "counters": {"rps": 0, "p50_us": 0, "p99_us": 0, "p999_us": 0, "cpu_us_per_req": 0,
                             "vcsw_per_req": 0, "errors": 5},
                "loadgen": {"requests": 0, "latency_us": {"count": 0, "p50": 0, "p99": 0, "max": 0,
                                                          "histogram": {"unit": "us", "buckets": []}}},
                "server": {"stats": {"threads": [{"role": "loop", "accepted": 0, "requests": 0},
                                                 {"role": "loop", "accepted": 0, "requests": 0}]}}}
        with open(os.path.join(cases, "matrix-zero.json"), "w") as f:
            json.dump(zero, f)
        # A sweep with a zero unloaded p99: no knee can be derived.
        sweep = dict(zero, case=dict(zero["case"], id="sweep-zero", kind="sweep", offered_rps=1000))
        with open(os.path.join(cases, "sweep-zero.json"), "w") as f:
            json.dump(sweep, f)
        os.unlink(os.path.join(run, "sysinfo.json"))
        os.unlink(os.path.join(run, "run.json"))
        md = self.report(run)
        self.assertIn("truncated.json", md)          # named as a problem, not fatal
        self.assertIn("multi-accept", md)
        self.assertIn("wall time **unknown**", md)

    def test_no_foreign_load_sentence(self):
        run = copy_fixture(self.tmp)
        def quiet(d):
            for m in [d["measurement"]] + [r["measurement"] for r in d.get("repetitions", [])]:
                m["foreign"].update(cpus=0.01, flag=False)
            d["counters"].update(foreign_cpu=0.01)
            d["ranges"]["foreign_cpu"] = [0.01, 0.01]
        for cid in ("matrix-thread-per-conn-frame-blocking-tail-c16", "sweep-reuseport-frame-cpu-c64-r2000"):
            rewrite_case(run, cid, quiet)
        md = self.report(run)
        self.assertIn("no case had foreign load above 5% of a CPU", md)
        self.assertNotIn("※", md)

    def test_schema1_files_old_verdicts_derived_and_one_thread_jain_na(self):
        run = copy_fixture(self.tmp)
        for f in os.listdir(os.path.join(run, "cases")):
            rewrite_case(run, f[:-5], strip_schema2)
        # An old harness wrote Jain 1 over a single loop.
        rewrite_case(run, "matrix-single-frame-tiny-c16",
                     lambda d: d["counters"].update(jain_requests=1.0, maxmin_requests=1.0))
        # Gbench rows would fill the stripped counters back in.
        os.unlink(os.path.join(run, "gbench.json"))
        md = self.report(run)
        sec = sections(md)
        rows = {(r["pattern"], r["offered req/s"]): r["verdict"]
                for r in table_with(sec["p99 vs offered load / tiny"], "offered req/s", "verdict")}
        self.assertEqual(rows[("single", "40,000")], "□ server saturated")
        self.assertEqual(rows[("reuseport", "20,000")], "△ generator late")
        self.assertEqual(rows[("reuseport", "40,000")], "◇ generator busy")   # generator.saturated
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
            d["server"] = {"cpu_us": None, "accounting": "none",
                           "window": {"seconds": 1.95, "cpu_us": 41907.0, "vcsw": 170, "ivcsw": 5,
                                      "requests_estimated": 0}}
        rewrite_case(run, "nagle-upside-coff", old)
        os.unlink(os.path.join(run, "gbench.json"))
        with open(os.path.join(run, "cases", "nagle-upside-coff.json"), encoding="utf-8") as f:
            requests = json.load(f)["loadgen"]["requests"]
        sec = sections(self.report(run))["Nagle's upside: many small writes"]
        r = next(r for r in table_with(sec, "req/s", "server CPU us/req") if r["client nodelay"] == "off")
        self.assertAlmostEqual(parse_number(r["req/s"]), requests / 2, delta=1)
        self.assertAlmostEqual(parse_number(r["server CPU us/req"]), 41907.0 / (requests / 2 * 1.95), delta=0.05)

    def test_one_repetition_run_says_so_and_shows_no_ranges(self):
        sys.path.insert(0, HERE)
        import make_fixture
        run = os.path.join(self.tmp, "quick")
        make_fixture.build(run, repetitions=1)
        md = self.report(run)
        head = md.split("## Reading")[0]
        self.assertIn("one repetition per case: no ranges, differences are not tested", head.lower())
        sec = sections(md)
        self.assertIn("**Repetitions: 1** per case", sec["How this was measured"])
        for title in ("Throughput vs connections / tiny", "Server cost per request", "p99 vs offered load / cpu"):
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
        line = next(ln for ln in sections(self.report(run))["Reading"].splitlines()
                    if ln.startswith("- **Throughput, churn at 16"))
        self.assertIn("no measurable difference", line)
        self.assertNotIn("serves the most", line)
        self.assertNotRegex(line, r"\d\.\dx")            # no ratio, no ranking

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
        line = next(ln for ln in sections(self.report(run))["Reading"].splitlines()
                    if ln.startswith("- **Head-of-line blocking"))
        self.assertIn("server-thread-per-conn", line)
        self.assertRegex(line, r"server-thread-per-conn [^(]+\(no measurable difference, ranges overlap\)")
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


# --- knee ------------------------------------------------------------------------------

class KneeTest(unittest.TestCase):
    """The knee: the highest offered rate meeting a fixed objective (p99 <= bound,
    achieved >= 99% of offered, not generator-limited)."""

    def test_knee_is_the_highest_rate_meeting_the_objective(self):
        k = analysis.knee([(8000, 1200), (1000, 100), (2000, 120), (4000, 300), (16000, 5000)], 1000)
        self.assertEqual((k.rate, k.p99, k.bounded, k.lower_bound), (4000, 300, True, False))

    def test_a_noisy_first_point_does_not_move_the_knee(self):
        clean = [(2000, 120), (4000, 150), (8000, 400), (16000, 9000)]
        noisy = [(1000, 80_000)] + clean          # a huge p99 at the lowest rate
        self.assertEqual(analysis.knee(noisy, 1000).rate, analysis.knee(clean, 1000).rate)
        self.assertEqual(analysis.knee(noisy, 1000).rate, 8000)
        # The old rule (10x the lowest point's p99) would have put it at 16,000.

    def test_a_noisy_point_in_the_middle_moves_only_itself(self):
        k = analysis.knee([(1000, 50), (2000, 60), (3000, 5000), (4000, 70), (5000, 2000)], 1000)
        self.assertEqual((k.rate, k.bounded), (4000, True))

    def test_a_generator_late_point_is_not_a_knee(self):
        pts = [analysis.SweepPoint(1000, 100, 1000), analysis.SweepPoint(2000, 150, 2000),
               analysis.SweepPoint(4000, 200, 4000, generator=True)]   # meets p99, but the generator was late
        k = analysis.knee(pts, 1000)
        self.assertEqual(k.rate, 2000)
        self.assertTrue(k.lower_bound)           # nothing the server did failed above it: "2,000+"
        self.assertEqual([p.rate for p in k.above], [4000])

    def test_saturated_point_fails_on_achieved_rate(self):
        k = analysis.knee([(1000, 100, 1000), (2000, 200, 1960)], 1000)   # 98% of offered
        self.assertEqual((k.rate, k.bounded), (1000, True))

    def test_exactly_the_objective_meets_it(self):
        self.assertEqual(analysis.knee([(1000, 50), (2000, 1000)], 1000).rate, 2000)

    def test_never_met_and_never_failed(self):
        k = analysis.knee([(1000, 5000), (2000, 6000)], 1000)
        self.assertIsNone(k.rate)
        self.assertTrue(k.bounded)
        k = analysis.knee([(1000, 50), (2000, 60)], 1000)
        self.assertEqual((k.rate, k.lower_bound), (2000, True))

    def test_missing_values(self):
        self.assertIsNone(analysis.knee([], 1000).rate)
        k = analysis.knee([(1000, None), (2000, 50), (None, 10), (4000, 80)], 1000)
        self.assertEqual(k.rate, 4000)

    def test_objectives_are_one_constant_per_workload(self):
        self.assertEqual(analysis.knee_objective_us("cpu"), 1000.0)
        self.assertEqual(analysis.knee_objective_us("tiny"), 500.0)
        self.assertEqual(analysis.knee_objective_us("blocking-tail"), 1000.0)
        self.assertEqual(analysis.knee_objective_us("unknown"), analysis.KNEE_P99_DEFAULT_US)

    def test_fixture_sweeps(self):
        from pbtools.rundir import load_run
        sweeps = load_run(FIXTURE).of_kind("sweep")
        got = {}
        for w in SWEEP_WORKLOADS:
            for p, k in analysis.sweep_knees([c for c in sweeps if c.workload == w], w).items():
                got[(w, p)] = (k.rate, k.lower_bound)
        self.assertEqual(got[("cpu", "single")], (14000, False))
        self.assertEqual(got[("cpu", "reuseport")], (14000, True))     # noisy 2,000 ignored; 17,000 generator late
        self.assertEqual(got[("tiny", "reuseport")], (10000, True))
        self.assertEqual(got[("blocking-tail", "single")], (None, False))
        self.assertEqual(got[("blocking-tail", "thread-per-conn")], (4000, True))


class DiffersTest(unittest.TestCase):
    """THE noise rule: ranges that do not overlap; a 5% threshold without ranges."""
    M = analysis.Measure

    def test_overlapping_ranges_do_not_differ(self):
        d = analysis.differs(self.M(100, 95, 104, 3), self.M(103, 101, 108, 3))
        self.assertFalse(d.differ)
        self.assertTrue(d.tested)

    def test_separated_ranges_differ_whatever_the_size(self):
        d = analysis.differs(self.M(100, 99, 101, 3), self.M(102, 101.5, 103, 3))   # 2%, but apart
        self.assertTrue(d.differ)
        self.assertEqual(d.sign, 1)
        d = analysis.differs(self.M(100, 99, 101, 3), self.M(90, 80, 98, 3))
        self.assertEqual((d.differ, d.sign), (True, -1))

    def test_one_repetition_falls_back_to_the_threshold_untested(self):
        d = analysis.differs(self.M(100, 100, 100, 1), self.M(104, 104, 104, 1))
        self.assertEqual((d.differ, d.tested), (False, False))
        d = analysis.differs(100, 106)
        self.assertEqual((d.differ, d.tested, d.sign), (True, False, 1))
        # Ranges on one side only: still untested.
        self.assertFalse(analysis.differs(self.M(100, 90, 110, 3), self.M(120, 120, 120, 1)).tested)

    def test_cases_use_their_ranges(self):
        from pbtools.rundir import load_run
        cases = {c.id: c for c in load_run(FIXTURE).cases}
        a, b = cases["matrix-single-frame-tiny-c1"], cases["matrix-reuseport-frame-tiny-c1"]
        self.assertEqual(a.n_reps, 3)
        self.assertFalse(analysis.differs(a, b, "rps").differ)     # 45.2k vs 44.0k, ranges overlap
        c = cases["matrix-thread-per-conn-frame-tiny-c1"]
        self.assertTrue(analysis.differs(a, c, "rps").differ)      # 45.2k vs 40.1k


# --- histogram decoding ---------------------------------------------------------------

class HistogramTest(unittest.TestCase):
    def test_steps(self):
        self.assertEqual(hdr.highest_equivalent(2047), 2047)      # exact below 2048
        self.assertEqual(hdr.highest_equivalent(2048), 2049)      # steps of 2 above
        self.assertEqual(hdr.lowest_equivalent(5000), 5000)
        self.assertEqual(hdr.highest_equivalent(44_000), 44_031)  # steps of 32 here

    def test_percentiles_of_fixture_match_loadgen_record(self):
        for doc in fixture_cases().values():
            lat = doc["loadgen"]["latency_us"]
            h = hdr.from_latency_object(lat)
            self.assertEqual(h.total, lat["count"])
            for key, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9), ("p99.99", 99.99)):
                self.assertEqual(h.value_at_percentile(p), lat[key], f"{doc['case']['id']} {key}")

    def test_spectrum_is_monotonic_and_ends_at_max(self):
        h = hdr.Histogram(hdr.to_buckets(range(1, 10001)), 10000)
        pts = h.spectrum()
        self.assertEqual(pts[0], (1.0, 1))
        self.assertEqual(pts[-1], (10000.0, 10000))
        self.assertTrue(all(a[1] <= b[1] for a, b in zip(pts, pts[1:])))


class NanosecondHistogramTest(unittest.TestCase):
    """loadgen schema 3: buckets in nanoseconds ("unit": "ns"), min/max/percentiles in
    microseconds. Everything read from it is in microseconds, like a schema-2 record."""

    # 4,950 round trips of 20-25 us and 50 of 180-200 us, in ns.
    SAMPLES = sorted([20_000 + (i * 7919) % 5_000 for i in range(4_950)]
                     + [180_000 + (i * 397) % 20_000 for i in range(50)])

    @classmethod
    def exact_us(cls, p):
        rank = max(1, -(-p * len(cls.SAMPLES) // 100))
        return cls.SAMPLES[int(rank) - 1] / 1000

    @classmethod
    def ns_buckets(cls):
        # Steps of 16 ns in [16384, 32768) and of 128 ns in [131072, 262144).
        counts = {}
        for v in cls.SAMPLES:
            floor = v - v % (16 if v < 32_768 else 128)
            counts[floor] = counts.get(floor, 0) + 1
        return [[k, counts[k]] for k in sorted(counts)]

    @classmethod
    def v3_object(cls, unit="ns"):
        return {"count": len(cls.SAMPLES), "min": cls.SAMPLES[0] / 1000, "max": cls.SAMPLES[-1] / 1000,
                "histogram": {"unit": unit, "lowest": 1, "highest": 3_600_000_000_000,
                              "significant_digits": 3, "saturated": 0, "buckets": cls.ns_buckets()}}

    def test_steps_in_nanoseconds(self):
        self.assertEqual(hdr.to_buckets(self.SAMPLES, "ns"), self.ns_buckets())
        self.assertEqual(hdr.highest_equivalent(21_437, "ns"), 21_439)
        self.assertEqual(hdr.lowest_equivalent(21_440, "ns"), 21_440)
        # The clamp is the unit's hour: 3.6e12 ns, where microseconds stop at 3.6e9.
        self.assertEqual(hdr.lowest_equivalent(10 ** 10, "us"), hdr.lowest_equivalent(3_600_000_000, "us"))
        self.assertEqual(hdr.lowest_equivalent(10 ** 10, "ns"), 10 ** 10 - 10 ** 10 % (1 << 23))

    def test_percentiles_are_microseconds_with_nanosecond_digits(self):
        h = hdr.from_latency_object(self.v3_object())
        self.assertEqual(h.unit, "ns")
        self.assertEqual(h.total, len(self.SAMPLES))
        self.assertEqual(h.min, self.SAMPLES[0] / 1000)
        self.assertEqual(h.max, self.SAMPLES[-1] / 1000)
        for p in (10, 50, 90, 98, 99, 99.5, 99.9):
            got, want = h.value_at_percentile(p), self.exact_us(p)
            self.assertGreaterEqual(got, want, p)               # the top of the step
            self.assertLess(got - want, 0.128, p)               # within one step
            self.assertLessEqual(got, want * 1.001, p)          # 3 significant digits
        self.assertEqual(h.value_at_percentile(100), self.SAMPLES[-1] / 1000)
        # 20-25 us is resolved to 16 ns: the p50 is not a whole microsecond.
        self.assertNotEqual(h.value_at_percentile(50), round(h.value_at_percentile(50)))
        pts = h.spectrum()
        self.assertEqual(pts[-1][1], self.SAMPLES[-1] / 1000)
        self.assertTrue(all(20 <= v <= 200 for _, v in pts))

    def test_a_microsecond_record_of_the_same_round_trips_agrees(self):
        us = [round(v / 1000) for v in self.SAMPLES]
        old = hdr.from_latency_object({"min": us[0], "max": us[-1],
                                       "histogram": {"unit": "us", "buckets": hdr.to_buckets(us)}})
        new = hdr.from_latency_object(self.v3_object())
        for p in (50, 90, 99, 99.9):
            self.assertIsInstance(old.value_at_percentile(p), int)
            self.assertLessEqual(abs(old.value_at_percentile(p) - new.value_at_percentile(p)), 0.5 + 0.128)

    def test_an_unknown_unit_is_refused(self):
        self.assertIsNone(hdr.from_latency_object(self.v3_object(unit="ms")))

    def test_a_schema_3_case_in_a_run_charts_in_microseconds(self):
        from pbtools import charts, rundir
        tmp = tempfile.mkdtemp(prefix="pb-ns-")
        try:
            run_dir = copy_fixture(tmp)
            path = os.path.join(run_dir, "cases", "matrix-reuseport-frame-tiny-c1.json")
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            doc["loadgen"]["schema_version"] = 3
            doc["loadgen"]["latency_us"] = self.v3_object()
            with open(path, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            run = rundir.load_run(run_dir)
            case = next(c for c in run.cases if c.id == "matrix-reuseport-frame-tiny-c1")
            self.assertEqual(case.histogram().unit, "ns")
            pts, from_histogram = charts.spectrum_points(case)
            self.assertTrue(from_histogram)
            self.assertAlmostEqual(pts[-1][1], self.SAMPLES[-1] / 1000)
            self.assertTrue(all(20 <= v <= 200 for _, v in pts))
            # The report draws it with the schema-2 cases of the same run.
            tool("report", "--no-charts", "-q", run_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


# --- compare ---------------------------------------------------------------------------

def scale_case(run_dir, case_id, counter, factor):
    """Multiplies one counter of a case by factor in every repetition, its median and its
    range, as if the whole case had run that much faster or slower."""
    def edit(d):
        d["counters"][counter] *= factor
        d["ranges"][counter] = [x * factor for x in d["ranges"][counter]]
        for r in d["repetitions"]:
            r["counters"][counter] *= factor
    rewrite_case(run_dir, case_id, edit)


def scale_gbench(path, name, counter, factor):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    for b in doc["benchmarks"]:
        if b["name"] == name:
            b[counter] *= factor
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


class CompareTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pb-compare-")
        with open(os.path.join(FIXTURE, "gbench.json"), encoding="utf-8") as f:
            self.doc = json.load(f)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, doc):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        return path

    def contender(self, edits, doc=None):
        """gbench.json with every repetition's row of a case scaled."""
        doc = json.loads(json.dumps(doc or self.doc))
        for b in doc["benchmarks"]:
            for name, counter, factor in edits:
                if b["name"] == name:
                    b[counter] *= factor
        return self.write("b.json", doc)

    def verdicts(self, *args):
        r = tool("compare", *args, "--format", "json")
        self.assertEqual(r.returncode, 0)
        out = json.loads(r.stdout)
        return {(row["case"], row["counter"]): row["verdict"] for row in out["rows"]}, out

    def test_ranges_decide_not_a_threshold(self):
        a = self.write("a.json", self.doc)
        b = self.contender([("matrix/single/frame/tiny/c16", "rps", 0.80),        # -20%: ranges apart
                            ("matrix/single/frame/churn/c16", "p99_us", 1.02),    # +2%: ranges overlap
                            ("matrix/reuseport/frame/churn/c16", "p99_us", 0.70)])  # -30%: improvement
        v, out = self.verdicts(a, b)
        self.assertEqual(v[("matrix/single/frame/tiny/c16", "rps")], "regression")
        self.assertEqual(v[("matrix/single/frame/churn/c16", "p99_us")], "noise")
        self.assertEqual(v[("matrix/reuseport/frame/churn/c16", "p99_us")], "improvement")
        self.assertEqual(out["regressions"], 1)
        self.assertEqual(out["improvements"], 1)
        row = next(r for r in out["rows"] if r["case"] == "matrix/single/frame/tiny/c16" and r["counter"] == "rps")
        self.assertEqual(row["basis"], "ranges")
        self.assertIsNotNone(row["a_range"])
        # --threshold does not override the ranges: 2% inside overlapping ranges stays noise.
        v, _ = self.verdicts(a, b, "--threshold", "1")
        self.assertEqual(v[("matrix/single/frame/churn/c16", "p99_us")], "noise")

    def test_single_repetition_runs_fall_back_to_the_threshold_and_say_so(self):
        sys.path.insert(0, HERE)
        import make_fixture
        quick = os.path.join(self.tmp, "quick")
        make_fixture.build(quick, repetitions=1)
        with open(os.path.join(quick, "gbench.json"), encoding="utf-8") as f:
            doc = json.load(f)
        a = self.write("qa.json", doc)
        b = self.contender([("matrix/reuseport/frame/tiny/c16", "p99_us", 1.02)], doc)
        v, out = self.verdicts(a, b)
        self.assertEqual(v[("matrix/reuseport/frame/tiny/c16", "p99_us")], "noise")
        self.assertIn("one repetition per case", out["rule"])
        v, _ = self.verdicts(a, b, "--threshold", "1")
        self.assertEqual(v[("matrix/reuseport/frame/tiny/c16", "p99_us")], "regression")
        r = tool("compare", a, b, "--color", "never")
        self.assertIn("one repetition per case (no ranges): noise threshold 5%", r.stdout)
        self.assertIn("untested", r.stdout)

    def test_text_output_marks_regression_and_no_measurable_difference(self):
        a = self.write("a.json", self.doc)
        b = self.contender([("matrix/single/frame/tiny/c16", "rps", 0.80),
                            ("matrix/single/frame/churn/c16", "p99_us", 1.02)])
        r = tool("compare", a, b, "--color", "never")
        self.assertEqual(r.returncode, 0)
        lines = r.stdout.splitlines()
        flagged = [ln for ln in lines if "REGRESSION" in ln]
        self.assertEqual(len(flagged), 1, r.stdout)
        self.assertIn("matrix/single/frame/tiny/c16", flagged[0])
        self.assertIn("-20.0%", flagged[0])
        self.assertRegex(flagged[0], r"\d \[[\d,]+-[\d,]+\]")      # the ranges are printed
        churn = next(i for i, ln in enumerate(lines) if ln.startswith("matrix/single/frame/churn/c16"))
        p99 = next(ln for ln in lines[churn:] if "p99_us" in ln)
        self.assertTrue(p99.endswith("no measurable difference"), p99)
        self.assertIn("1 regression(s)", r.stdout)
        self.assertIn("ranges over their repetitions do not overlap", lines[0])

    def test_run_directories_overlapping_and_separated(self):
        a = copy_fixture(self.tmp, "a")
        b = copy_fixture(self.tmp, "b")
        scale_case(b, "matrix-single-frame-churn-c16", "rps", 1.10)      # ranges apart: improvement
        scale_case(b, "matrix-reuseport-frame-churn-c16", "rps", 1.02)   # ranges overlap
        # A case B did not run at all: no case file and no gbench row. (With only
        # the case file gone, compare would still use B's gbench row.)
        os.unlink(os.path.join(b, "cases", "nagle-upside-con.json"))
        gb = dict(self.doc, benchmarks=[r for r in self.doc["benchmarks"]
                                        if r["name"] != "nagle-upside/single/frame/c_nodelay=on"])
        with open(os.path.join(b, "gbench.json"), "w", encoding="utf-8") as f:
            json.dump(gb, f)
        v, out = self.verdicts(a, b)
        self.assertEqual(v[("matrix/single/frame/churn/c16", "rps")], "improvement")
        self.assertEqual(v[("matrix/reuseport/frame/churn/c16", "rps")], "noise")
        self.assertEqual(out["only_in_a"], ["nagle-upside/single/frame/c_nodelay=on"])
        r = tool("compare", a, b, "--color", "never")
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith("matrix/reuseport/frame/churn/c16"))
        self.assertTrue(line.endswith("no measurable difference"), line)


# --- sysinfo ---------------------------------------------------------------------------

class SysinfoTest(unittest.TestCase):
    def test_emits_json_with_the_keys(self):
        r = tool("sysinfo", "--server-cpus", "0", "--client-cpus", "1", "--reason", "one CPU each")
        info = json.loads(r.stdout)
        for key in ("schema", "hostname", "kernel", "os", "cpu", "memory", "placement", "sysctls",
                    "kernel_hz", "limits", "tools"):
            self.assertIn(key, info)
        self.assertEqual(info["placement"], {"server_cpus": "0", "client_cpus": "1", "reason": "one CPU each"})
        for key in ("model", "logical"):
            self.assertIn(key, info["cpu"])
        self.assertIn("total_kb", info["memory"])
        for name in ("net.core.somaxconn", "net.ipv4.tcp_tw_reuse", "net.ipv4.ip_local_port_range",
                     "net.ipv4.tcp_max_syn_backlog", "net.core.netdev_max_backlog", "fs.file-max"):
            self.assertIn(name, info["sysctls"])
        self.assertIn("value", info["kernel_hz"])
        self.assertIn("source", info["kernel_hz"])
        self.assertIn("nofile_soft", info["limits"])
        if sys.platform.startswith("linux"):
            self.assertEqual(info["kernel"]["sysname"], "Linux")
            self.assertGreater(info["cpu"]["logical"], 0)


if __name__ == "__main__":
    unittest.main()
