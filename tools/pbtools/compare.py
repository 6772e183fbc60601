"""tools/compare A B: per-case deltas of the main counters between two runs.

In the spirit of Google Benchmark's tools/compare.py: cases are matched by name,
each counter's relative change is printed, and a change larger than the noise
threshold is called an improvement or a regression according to which direction
is better for that counter. Always exits 0 on a successful comparison: this is a
tool for reading, not a gate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from . import units as u
from .rundir import gbench_rows, load_run, num

# Which way is better, per counter: +1 higher is better, -1 lower is better.
DIRECTION = {
    "rps": +1, "jain_requests": +1, "jain_accepts": +1,
    "p50_us": -1, "p90_us": -1, "p99_us": -1, "p999_us": -1, "cpu_us_per_req": -1,
    "vcsw_per_req": -1, "ivcsw_per_req": -1, "peak_rss_kb": -1, "peak_threads": -1,
    "maxmin_requests": -1, "maxmin_accepts": -1, "errors": -1, "stalls": -1, "stall_fraction": -1,
    "segs_out_per_req": -1, "segs_in_per_req": -1, "srv_segs_out_per_req": -1,
    "srv_segs_in_per_req": -1,
}
MAIN_COUNTERS = ["rps", "p50_us", "p99_us", "p999_us", "cpu_us_per_req", "vcsw_per_req",
                 "ivcsw_per_req", "peak_rss_kb", "errors"]
# Settings of a case and conditions of its measurement, not properties of the server:
# never compared.
NOT_MEASURED = {"offered_rps", "generator_bound", "gen_busy", "foreign_cpu", "verdict_code"}


def load_counters(path: str) -> tuple[dict, str]:
    """{case name: {counter: value}} from a run directory or a gbench.json file."""
    if os.path.isdir(path):
        run = load_run(path)
        out = {}
        for c in run.cases:
            out[c.name] = {k: v for k, v in c.counters.items() if num(v) is not None}
        for name, counters, err in run.gbench_only:
            if not err:
                out.setdefault(name, counters)
        return out, run.name
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    rows = gbench_rows(doc)
    return {n: r["counters"] for n, r in rows.items() if not r["error"]}, os.path.basename(path)


def verdict(counter: str, a: float, b: float, threshold: float) -> tuple[float | None, str]:
    """(relative change, label). label is "" within noise, else "better"/"worse",
    or "changed" for a counter with no known direction."""
    if a == b:
        return 0.0, ""
    direction = DIRECTION.get(counter)
    if a == 0:
        change = math.inf if b > 0 else -math.inf
    else:
        change = (b - a) / abs(a)
    if counter == "errors":
        # Any error where there was none is news, whatever the threshold.
        if a == 0 or b == 0:
            return change, "worse" if b > a else "better"
    if abs(change) <= threshold:
        return change, ""
    if direction is None:
        return change, "changed"
    return change, "better" if change * direction > 0 else "worse"


def compare(a: dict, b: dict, counters, threshold: float):
    """Rows (case, counter, a, b, change, label), and the cases only on one side."""
    rows = []
    common = [n for n in a if n in b]
    for name in sorted(common):
        ca, cb = a[name], b[name]
        names = counters or sorted(k for k in set(ca) & set(cb) if k not in NOT_MEASURED)
        for counter in names:
            va, vb = num(ca.get(counter)), num(cb.get(counter))
            if va is None or vb is None:
                continue
            change, label = verdict(counter, va, vb, threshold)
            rows.append((name, counter, va, vb, change, label))
    only_a = sorted(n for n in a if n not in b)
    only_b = sorted(n for n in b if n not in a)
    return rows, only_a, only_b


def fmt_change(change: float | None) -> str:
    if change is None:
        return u.DASH
    if math.isinf(change):
        return "+inf" if change > 0 else "-inf"
    return f"{100 * change:+.1f}%"


def parse_threshold(text: str) -> float:
    """"5", "5%" -> 0.05."""
    t = text.strip().rstrip("%")
    try:
        v = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}")
    if v < 0:
        raise argparse.ArgumentTypeError("the threshold cannot be negative")
    return v / 100.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="compare", description=(
        "Per-case deltas of the main counters between two patternbench runs (run directories or "
        "gbench.json files). Changes beyond the noise threshold are marked as improvements or "
        "regressions, according to which direction is better for each counter."))
    ap.add_argument("a", help="baseline: run directory or gbench.json")
    ap.add_argument("b", help="contender: run directory or gbench.json")
    ap.add_argument("-t", "--threshold", type=parse_threshold, default=0.05, metavar="PCT",
                    help="noise threshold in percent (default 5)")
    ap.add_argument("-c", "--counters", help="comma-separated counters to compare "
                    f"(default: {','.join(MAIN_COUNTERS)})")
    ap.add_argument("--all", action="store_true", help="every numeric counter both sides have")
    ap.add_argument("--changes-only", action="store_true", help="hide rows within the noise threshold")
    ap.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    ap.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    args = ap.parse_args(argv)

    try:
        a, name_a = load_counters(args.a)
        b, name_b = load_counters(args.b)
    except (OSError, ValueError) as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    counters = None if args.all else ([c.strip() for c in args.counters.split(",") if c.strip()]
                                      if args.counters else MAIN_COUNTERS)
    rows, only_a, only_b = compare(a, b, counters, args.threshold)
    better = sum(1 for r in rows if r[5] == "better")
    worse = sum(1 for r in rows if r[5] == "worse")
    ratios = [r[3] / r[2] for r in rows if r[1] == "rps" and r[2] > 0 and r[3] > 0]
    geomean = math.exp(sum(math.log(x) for x in ratios) / len(ratios)) if ratios else None

    if args.format == "json":
        json.dump({"a": name_a, "b": name_b, "threshold": args.threshold,
                   "rows": [{"case": n, "counter": c, "a": va, "b": vb,
                             "change": None if ch is None or math.isinf(ch) else ch,
                             "verdict": {"better": "improvement", "worse": "regression",
                                         "changed": "changed", "": "noise"}[lab]}
                            for n, c, va, vb, ch, lab in rows],
                   "only_in_a": only_a, "only_in_b": only_b, "improvements": better,
                   "regressions": worse, "rps_geomean_ratio": geomean}, sys.stdout, indent=2)
        print()
        return 0

    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty()
                                       and os.environ.get("NO_COLOR") is None)
    paint = {"better": "\033[32m", "worse": "\033[31m", "changed": "\033[33m"}
    words = {"better": "IMPROVEMENT", "worse": "REGRESSION", "changed": "CHANGED", "": ""}
    shown = [r for r in rows if r[5] or not args.changes_only]
    head = (f"Comparing {name_a} (A) to {name_b} (B); noise threshold {100 * args.threshold:g}%, "
            f"{len({r[0] for r in rows})} common cases")
    if args.format == "markdown":
        print(f"{head}\n")
        print("| case | counter | A | B | change | |\n|:---|:---|---:|---:|---:|:---|")
        for n, c, va, vb, ch, lab in shown:
            print(f"| {n} | {c} | {u.plain(va)} | {u.plain(vb)} | {fmt_change(ch)} | {words[lab]} |")
        print()
    else:
        print(head)
        wc = max([len(r[0]) for r in shown] + [4])
        wk = max([len(r[1]) for r in shown] + [7])
        print(f"{'case':<{wc}}  {'counter':<{wk}}  {'A':>12}  {'B':>12}  {'change':>9}")
        last = None
        for n, c, va, vb, ch, lab in shown:
            label = words[lab]
            if color and lab:
                label = paint[lab] + label + "\033[0m"
            print(f"{n if n != last else '':<{wc}}  {c:<{wk}}  {u.plain(va):>12}  {u.plain(vb):>12}  "
                  f"{fmt_change(ch):>9}  {label}".rstrip())
            last = n
    summary = f"{worse} regression(s), {better} improvement(s) beyond {100 * args.threshold:g}%"
    if geomean is not None:
        summary += f"; throughput geometric mean B/A {geomean:.3f}"
    print(summary)
    for label, names in (("only in A", only_a), ("only in B", only_b)):
        if names:
            print(f"{label} ({len(names)}): " + ", ".join(names))
    return 0
