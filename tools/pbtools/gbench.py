"""Google Benchmark's JSON (gbench.json): its rows, one per repetition of a case, as the
case's counters (medians) with their [min, max] ranges."""

from __future__ import annotations

import re

from .values import num

# Google Benchmark appends these to a benchmark's name; the case name is the name
# without them.
_GBENCH_SUFFIX = re.compile(
    r"/(real_time|manual_time|process_time|iterations:\d+|repeats:\d+|threads:\d+|min_time:[^/]+|min_warmup_time:[^/]+)$"
)


def strip_gbench_name(name: str) -> str:
    while True:
        stripped = _GBENCH_SUFFIX.sub("", name)
        if stripped == name:
            return name
        name = stripped


def median(values) -> float | None:
    """The median (mean of the two middle values for an even count), as the harness
    computes it (bench/case_file.cpp)."""
    xs = sorted(values)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def gbench_rows(doc) -> dict:
    """{case name: {"counters": {...}, "ranges": {...}, "n": repetitions, "error": str|None}}
    from a Google Benchmark JSON document. The harness writes one plain row per
    repetition, all with the case's name: those give the median and [min, max] of each
    counter, as in the case file. With Google Benchmark's own --benchmark_repetitions,
    the "mean" aggregate stands for the case (as compare.py does), without a range."""
    rows = doc.get("benchmarks") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        return {}
    has_aggregates = any(isinstance(r, dict) and r.get("run_type") == "aggregate" for r in rows)
    grouped: dict = {}
    for r in rows:
        if not isinstance(r, dict):
            continue
        if has_aggregates:
            if r.get("run_type") != "aggregate" or r.get("aggregate_name") != "mean":
                continue
            base = r.get("run_name") or re.sub(r"_mean$", "", str(r.get("name", "")))
        else:
            base = r.get("run_name") or r.get("name")
        if not base:
            continue
        name = strip_gbench_name(str(base))
        g = grouped.setdefault(name, {"rows": [], "error": None})
        if r.get("error_occurred"):
            g["error"] = str(r.get("error_message") or "error")
            continue
        g["rows"].append(r)
    out = {}
    skip = {
        "name",
        "run_name",
        "run_type",
        "aggregate_name",
        "aggregate_unit",
        "family_index",
        "per_family_instance_index",
        "repetitions",
        "repetition_index",
        "threads",
        "iterations",
        "real_time",
        "cpu_time",
        "time_unit",
        "label",
        "error_occurred",
        "error_message",
    }
    for name, g in grouped.items():
        values: dict = {}
        for r in g["rows"]:
            for k, v in r.items():
                if k in skip:
                    continue
                x = num(v)
                if x is not None:
                    values.setdefault(k, []).append(x)
        n = len(g["rows"])
        ranges = {k: [min(xs), max(xs)] for k, xs in values.items()} if n > 1 else {}
        out[name] = {
            "counters": {k: median(xs) for k, xs in values.items()},
            "ranges": ranges,
            "n": n,
            "error": g["error"],
        }
    return out
