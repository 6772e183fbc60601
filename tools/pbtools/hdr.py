"""Reading the loadgen's latency histograms (loadgen/histogram.hpp, serialised by
loadgen/result.cpp as ``{"unit": "ns", "significant_digits": 3, "buckets":
[[value, count], ...]}`` inside each ``*_latency_us`` object).

The bucket values are in the histogram object's ``unit``: nanoseconds since
loadgen schema 3, microseconds in schema 1 and 2 records. Everything this module
returns is in microseconds whatever the unit (a float with the nanoseconds as
decimals for an "ns" histogram, an int for a "us" one), as are the latency
object's ``min`` and ``max`` it takes.

The step arithmetic mirrors the C++ exactly so that a percentile computed here is
the same number the loadgen printed: bucket 0 holds every value below 2048 in
steps of 1; bucket b >= 1 covers [1024 << b, 2048 << b) in steps of 2^b (in the
histogram's unit). A bucket entry's ``value`` is the lowest value of its step; a
percentile is reported as the top of the step, clamped to the recorded maximum."""

from __future__ import annotations

import math

SUB_BUCKET_HALF_MAGNITUDE = 10
SUB_BUCKET_MASK = (1 << (SUB_BUCKET_HALF_MAGNITUDE + 1)) - 1
# unit -> (the histogram's highest value, in that unit; units per microsecond).
UNITS = {"us": (3_600_000_000, 1), "ns": (3_600_000_000_000, 1000)}
HIGHEST = UNITS["us"][0]

# The points of the "percentile spectrum" tables and charts, as in HdrHistogram's
# percentile distribution output.
SPECTRUM_LABELS = [
    (50.0, "p50"),
    (90.0, "p90"),
    (99.0, "p99"),
    (99.9, "p99.9"),
    (99.99, "p99.99"),
    (99.999, "p99.999"),
]


def _bucket_of(value: int) -> int:
    return (value | SUB_BUCKET_MASK).bit_length() - (SUB_BUCKET_HALF_MAGNITUDE + 1)


def lowest_equivalent(value: int, unit: str = "us") -> int:
    value = min(max(int(value), 0), UNITS[unit][0])
    b = _bucket_of(value)
    return (value >> b) << b


def highest_equivalent(value: int, unit: str = "us") -> int:
    value = min(max(int(value), 0), UNITS[unit][0])
    return lowest_equivalent(value, unit) + (1 << _bucket_of(value)) - 1


class Histogram:
    """A read-only view of one serialised histogram: sorted (value, count) steps in
    the histogram's unit; min, max and every result in microseconds."""

    def __init__(self, buckets, max_value=None, min_value=None, unit: str = "us"):
        if unit not in UNITS:
            raise ValueError(f"histogram unit {unit!r} is not one of {sorted(UNITS)}")
        self.unit = unit
        self._per_us = UNITS[unit][1]
        merged: dict[int, int] = {}
        for value, count in buckets:
            if count > 0:
                key = lowest_equivalent(value, unit)
                merged[key] = merged.get(key, 0) + int(count)
        self.steps = sorted(merged.items())
        self.total = sum(c for _, c in self.steps)
        top = highest_equivalent(self.steps[-1][0], unit) if self.steps else 0
        self._max = self._native(max_value) if max_value is not None else top
        self._min = (
            self._native(min_value)
            if min_value is not None
            else (self.steps[0][0] if self.steps else 0)
        )
        self.max = self.to_us(self._max)
        self.min = self.to_us(self._min)

    def _native(self, us) -> int:
        """Microseconds (min, max of the latency object) in the histogram's unit."""
        return round(float(us) * self._per_us)

    def to_us(self, value: int):
        """A value in the histogram's unit as microseconds."""
        return value if self._per_us == 1 else value / self._per_us

    def __bool__(self):
        return self.total > 0

    def value_at_percentile(self, percentile: float):
        """Same rule as Histogram::value_at_percentile in the loadgen, in microseconds."""
        if self.total == 0:
            return 0
        percentile = min(max(percentile, 0.0), 100.0)
        # The epsilon matches the C++: 99.9% of 2000 must be rank 1998, not 1999.
        wanted = math.ceil(percentile / 100.0 * self.total - 1e-9)
        wanted = min(max(wanted, 1), self.total)
        seen = 0
        for value, count in self.steps:
            seen += count
            if seen >= wanted:
                return self.to_us(min(highest_equivalent(value, self.unit), self._max))
        return self.max

    def spectrum(self, ticks_per_half: int = 5, limit: float = 1e6):
        """Points (x, latency_us) with x = 1/(1-p), the HdrHistogram plot's axis.

        Percentiles step as HdrHistogram's outputPercentileDistribution does
        (ticks_per_half points per halving of the remaining distance), and stop
        where the sample count can no longer resolve them: beyond 1 - 1/total a
        percentile is just the maximum, drawn once at the end."""
        if self.total == 0:
            return []
        points = []
        resolvable = min(float(self.total), limit)
        k = 0
        while True:
            remaining = 0.5 ** (k / ticks_per_half)
            x = 1.0 / remaining
            if x > resolvable:
                break
            points.append((x, self.value_at_percentile(100.0 * (1.0 - remaining))))
            k += 1
        points.append((resolvable, self.max))
        return points


def from_latency_object(obj) -> Histogram | None:
    """Histogram from a loadgen latency object ({count, p50, ..., histogram: {...}}),
    or from a bare histogram object or bucket list (a bare list is in us). None when
    there is none, or when its unit is one this reader does not know."""
    if obj is None:
        return None
    if isinstance(obj, list):
        return _from_buckets(obj, None, None, "us")
    if not isinstance(obj, dict):
        return None
    hist = obj.get("histogram", obj)
    if isinstance(hist, list):
        return _from_buckets(hist, obj.get("max"), obj.get("min"), "us")
    if not isinstance(hist, dict):
        return None
    unit = hist.get("unit", "us")
    if unit not in UNITS:
        return None  # read as another unit it would silently scale every chart
    buckets = hist.get("buckets")
    if buckets is None:
        return None
    return _from_buckets(
        buckets, obj.get("max", hist.get("max")), obj.get("min", hist.get("min")), unit
    )


def _from_buckets(buckets, max_value, min_value, unit):
    pairs = []
    for b in buckets:
        if isinstance(b, (list, tuple)) and len(b) == 2:
            try:
                pairs.append((int(b[0]), int(b[1])))
            except (TypeError, ValueError):
                continue
    if not pairs:
        return None
    try:
        mx = float(max_value) if max_value is not None else None
        mn = float(min_value) if min_value is not None else None
    except (TypeError, ValueError):
        mx = mn = None
    if (mx is not None and not math.isfinite(mx)) or (mn is not None and not math.isfinite(mn)):
        mx = mn = None
    return Histogram(pairs, mx, mn, unit)


def to_buckets(values, unit: str = "us") -> list[list[int]]:
    """Quantises raw values (in `unit`) into [lowest_value_of_step, count] pairs, as
    the loadgen writes them. Used to build test fixtures."""
    counts: dict[int, int] = {}
    for v in values:
        key = lowest_equivalent(int(v), unit)
        counts[key] = counts.get(key, 0) + 1
    return [[k, counts[k]] for k in sorted(counts)]
