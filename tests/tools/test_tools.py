#!/usr/bin/env python3
"""Every fixture test of the result tools in one run: tools/report, tools/compare,
tools/sysinfo and the statistics behind them. The tests live by subject beside
this file; ctest runs each file on its own (tests/tools/CMakeLists.txt).

    test_report.py           REPORT.md's tables, Reading and charts on the fixture
    test_report_marks.py     the marks on cells: generator, saturation, lower bounds,
                             foreign load; How this was measured
    test_report_odd_runs.py  partial, old or odd run directories
    test_statistics.py       the noise rule, knees, ranges in REPORT.md
    test_histograms.py       HDR histogram decoding
    test_compare.py          tools/compare
    test_sysinfo.py          tools/sysinfo

test_claims.py and test_patterns.py run on their own.

    python3 tests/tools/test_tools.py [-v] [-k PATTERN]
"""

import os
import sys
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODULES = [
    "test_report",
    "test_report_marks",
    "test_report_kernel",
    "test_report_odd_runs",
    "test_statistics",
    "test_histograms",
    "test_compare",
    "test_sysinfo",
]


def load_tests(loader, tests, pattern):
    """unittest's hook: this file's tests are those of MODULES."""
    return unittest.TestSuite(loader.loadTestsFromName(m) for m in MODULES)


if __name__ == "__main__":
    unittest.main()
