#!/usr/bin/env python3
"""servers/patterns.txt, the one list of pattern servers, against its readers.

Read here with a parser of its own, the list must match what tools/pbtools reads
from it, what CMake generated from it (patterns.hpp, when PB_PATTERNS_HEADER
names it, as ctest does) and the files in servers/. Tools copied away from the
repository still report, with the patterns in alphabetical order.

    python3 tests/tools/test_patterns.py [-v]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, "tools")
SERVERS = os.path.join(REPO, "servers")
LIST = os.path.join(SERVERS, "patterns.txt")
FIXTURE = os.path.join(HERE, "fixtures", "run-small")
sys.path.insert(0, TOOLS)

from pbtools import rundir  # noqa: E402

THREADS = {
    "serial": "kSerial",
    "single": "kSingle",
    "per-connection": "kPerConnection",
    "loops": "kLoops",
    "workers": "kWorkers",
}
LINE = re.compile(r"^\s*([a-z][a-z0-9-]*)\s+([a-z0-9_]+\.cpp)\s+(\S+)\s*(#.*)?$")


def listed():
    """The list's lines as (name, source, threads); fails on a line that is neither
    a comment, blank, nor three valid fields."""
    out = []
    with open(LIST, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = LINE.match(line)
            if not m:
                raise AssertionError(f"patterns.txt:{number}: not 'name source threads': {line!r}")
            out.append(m.group(1, 2, 3))
    return out


class ListTest(unittest.TestCase):
    def test_lines_are_valid(self):
        lines = listed()
        self.assertTrue(lines)
        names = [n for n, _, _ in lines]
        self.assertEqual(len(names), len(set(names)), "a name is listed twice")
        self.assertNotIn("pingpong", names)  # the bench baseline's name
        for name, source, threads in lines:
            self.assertIn(threads, THREADS, name)

    def test_every_listed_source_exists_and_every_server_is_listed(self):
        sources = {s for _, s, _ in listed()}
        for s in sources:
            self.assertTrue(os.path.isfile(os.path.join(SERVERS, s)), f"servers/{s}")
        on_disk = {f for f in os.listdir(SERVERS) if f.endswith(".cpp")}
        self.assertEqual(on_disk - sources, set(), "server sources without a line")

    def test_the_tools_read_the_list(self):
        self.assertEqual(os.path.realpath(rundir.PATTERNS_FILE), os.path.realpath(LIST))
        self.assertEqual(rundir.PATTERNS, listed())
        self.assertEqual(rundir.PATTERN_ORDER, [n for n, _, _ in listed()])
        self.assertEqual(
            sorted(["unknown", *reversed(rundir.PATTERN_ORDER)], key=rundir.pattern_key),
            [*rundir.PATTERN_ORDER, "unknown"],
        )

    def test_the_reader_skips_comments_and_reads_none_from_nothing(self):
        tmp = tempfile.mkdtemp(prefix="pb-patterns-")
        try:
            path = os.path.join(tmp, "patterns.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write("# a comment\n\nb  b.cpp  loops   # trailing\n  a a.cpp single\n")
            self.assertEqual(
                rundir.read_patterns(path), [("b", "b.cpp", "loops"), ("a", "a.cpp", "single")]
            )
            self.assertIsNone(rundir.read_patterns(os.path.join(tmp, "missing.txt")))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @unittest.skipUnless(os.environ.get("PB_PATTERNS_HEADER"), "PB_PATTERNS_HEADER not set")
    def test_the_generated_header_is_the_list(self):
        with open(os.environ["PB_PATTERNS_HEADER"], encoding="utf-8") as f:
            header = f.read()
        entries = re.findall(r'\{"([^"]+)", "([^"]+)", Threads::(k\w+)\}', header)
        self.assertEqual(entries, [(n, s, THREADS[t]) for n, s, t in listed()])
        self.assertIn(f"std::array<Pattern, {len(entries)}> kPatterns", header)


class FallbackTest(unittest.TestCase):
    def test_tools_away_from_the_repository_report_alphabetically(self):
        tmp = tempfile.mkdtemp(prefix="pb-patterns-")
        try:
            tools = os.path.join(tmp, "tools")
            shutil.copytree(TOOLS, tools, ignore=shutil.ignore_patterns("__pycache__"))
            run_dir = os.path.join(tmp, "run")
            shutil.copytree(FIXTURE, run_dir)
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
            probe = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from pbtools import rundir; print(rundir.PATTERNS, rundir.PATTERN_ORDER, "
                    "sorted(['single', 'reuseport', 'thread-per-conn'], key=rundir.pattern_key))",
                ],
                cwd=tools,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            self.assertEqual(probe.returncode, 0, probe.stderr)
            self.assertEqual(
                probe.stdout.strip(), "None [] ['reuseport', 'single', 'thread-per-conn']"
            )
            r = subprocess.run(
                [sys.executable, os.path.join(tools, "report"), "--no-charts", "-q", run_dir],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(os.path.isfile(os.path.join(run_dir, "REPORT.md")))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
