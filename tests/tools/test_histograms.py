#!/usr/bin/env python3
"""Decoding the loadgen's HDR histograms (pbtools.hdr): bucket steps, the
fixture's percentiles, the spectrum, and schema 3's nanosecond buckets.

    python3 tests/tools/test_histograms.py [-v]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import (
    copy_fixture,
    fixture_cases,
    rewrite_case,
    tool,
)  # noqa: E402  (also puts tools/ on sys.path)
from pbtools import hdr  # noqa: E402


class HistogramTest(unittest.TestCase):
    def test_steps(self):
        self.assertEqual(hdr.highest_equivalent(2047), 2047)  # exact below 2048
        self.assertEqual(hdr.highest_equivalent(2048), 2049)  # steps of 2 above
        self.assertEqual(hdr.lowest_equivalent(5000), 5000)
        self.assertEqual(hdr.highest_equivalent(44_000), 44_031)  # steps of 32 here

    def test_percentiles_of_fixture_match_loadgen_record(self):
        for doc in fixture_cases().values():
            lat = doc["loadgen"]["latency_us"]
            h = hdr.from_latency_object(lat)
            self.assertEqual(h.total, lat["count"])
            for key, p in (
                ("p50", 50),
                ("p90", 90),
                ("p99", 99),
                ("p99.9", 99.9),
                ("p99.99", 99.99),
            ):
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
    SAMPLES = sorted(
        [20_000 + (i * 7919) % 5_000 for i in range(4_950)]
        + [180_000 + (i * 397) % 20_000 for i in range(50)]
    )

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
        return {
            "count": len(cls.SAMPLES),
            "min": cls.SAMPLES[0] / 1000,
            "max": cls.SAMPLES[-1] / 1000,
            "histogram": {
                "unit": unit,
                "lowest": 1,
                "highest": 3_600_000_000_000,
                "significant_digits": 3,
                "saturated": 0,
                "buckets": cls.ns_buckets(),
            },
        }

    def test_steps_in_nanoseconds(self):
        self.assertEqual(hdr.to_buckets(self.SAMPLES, "ns"), self.ns_buckets())
        self.assertEqual(hdr.highest_equivalent(21_437, "ns"), 21_439)
        self.assertEqual(hdr.lowest_equivalent(21_440, "ns"), 21_440)
        # The clamp is the unit's hour: 3.6e12 ns, where microseconds stop at 3.6e9.
        self.assertEqual(
            hdr.lowest_equivalent(10**10, "us"), hdr.lowest_equivalent(3_600_000_000, "us")
        )
        self.assertEqual(hdr.lowest_equivalent(10**10, "ns"), 10**10 - 10**10 % (1 << 23))

    def test_percentiles_are_microseconds_with_nanosecond_digits(self):
        h = hdr.from_latency_object(self.v3_object())
        self.assertEqual(h.unit, "ns")
        self.assertEqual(h.total, len(self.SAMPLES))
        self.assertEqual(h.min, self.SAMPLES[0] / 1000)
        self.assertEqual(h.max, self.SAMPLES[-1] / 1000)
        for p in (10, 50, 90, 98, 99, 99.5, 99.9):
            got, want = h.value_at_percentile(p), self.exact_us(p)
            self.assertGreaterEqual(got, want, p)  # the top of the step
            self.assertLess(got - want, 0.128, p)  # within one step
            self.assertLessEqual(got, want * 1.001, p)  # 3 significant digits
        self.assertEqual(h.value_at_percentile(100), self.SAMPLES[-1] / 1000)
        # 20-25 us is resolved to 16 ns: the p50 is not a whole microsecond.
        self.assertNotEqual(h.value_at_percentile(50), round(h.value_at_percentile(50)))
        pts = h.spectrum()
        self.assertEqual(pts[-1][1], self.SAMPLES[-1] / 1000)
        self.assertTrue(all(20 <= v <= 200 for _, v in pts))

    def test_a_microsecond_record_of_the_same_round_trips_agrees(self):
        us = [round(v / 1000) for v in self.SAMPLES]
        old = hdr.from_latency_object(
            {
                "min": us[0],
                "max": us[-1],
                "histogram": {"unit": "us", "buckets": hdr.to_buckets(us)},
            }
        )
        new = hdr.from_latency_object(self.v3_object())
        for p in (50, 90, 99, 99.9):
            self.assertIsInstance(old.value_at_percentile(p), int)
            self.assertLessEqual(
                abs(old.value_at_percentile(p) - new.value_at_percentile(p)), 0.5 + 0.128
            )

    def test_an_unknown_unit_is_refused(self):
        self.assertIsNone(hdr.from_latency_object(self.v3_object(unit="ms")))

    def test_a_schema_3_case_in_a_run_charts_in_microseconds(self):
        from pbtools import charts, rundir

        tmp = tempfile.mkdtemp(prefix="pb-ns-")
        try:
            run_dir = copy_fixture(tmp)

            def schema_3(doc):
                doc["loadgen"]["schema_version"] = 3
                doc["loadgen"]["latency_us"] = self.v3_object()

            rewrite_case(run_dir, "matrix-reuseport-frame-tiny-c1", schema_3)
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


if __name__ == "__main__":
    unittest.main()
