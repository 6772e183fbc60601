"""tools/compare A B: per-case deltas of the main counters between two runs.

In the spirit of Google Benchmark's tools/compare.py: cases are matched by name,
each counter's relative change is printed, and a change larger than the noise is
called an improvement or a regression according to which direction is better for
that counter. The noise is the report's own rule (analysis.differs): when both runs
have ranges over repetitions, a counter changed only when A's and B's ranges do
not overlap; for one-repetition runs (quick) it falls back to a fixed threshold,
and says so. Always exits 0 on a successful comparison: this is a tool for
reading, not a gate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from . import analysis
from . import units as u
from .rundir import SERVER_COUNTERS, gbench_rows, load_run, num

# Which way is better, per counter: +1 higher is better, -1 lower is better.
DIRECTION = {
    "rps": +1,
    "jain_requests": +1,
    "jain_accepts": +1,
    "p50_us": -1,
    "p90_us": -1,
    "p99_us": -1,
    "p999_us": -1,
    "cpu_us_per_req": -1,
    "vcsw_per_req": -1,
    "ivcsw_per_req": -1,
    "peak_rss_kb": -1,
    "peak_threads": -1,
    "maxmin_requests": -1,
    "maxmin_accepts": -1,
    "errors": -1,
    "stalls": -1,
    "stall_fraction": -1,
    "segs_out_per_req": -1,
    "segs_in_per_req": -1,
    "srv_segs_out_per_req": -1,
    "srv_segs_in_per_req": -1,
    "accept_queue_max": -1,
    "listen_overflows": -1,
    "listen_drops": -1,
}
MAIN_COUNTERS = [*SERVER_COUNTERS, "errors"]
# Settings of a case and conditions of its measurement, not properties of the server:
# never compared.
NOT_MEASURED = {"offered_rps", "generator_bound", "gen_busy", "foreign_cpu", "verdict_code"}


class Counters(dict):
    """One case's counters (medians) with their [min, max] over n repetitions."""

    def __init__(self, values: dict, ranges: dict | None = None, n: int = 1):
        super().__init__(values)
        self.ranges = ranges or {}
        self.n = n

    def measure(self, counter: str) -> analysis.Measure | None:
        v = num(self.get(counter))
        if v is None:
            return None
        r = self.ranges.get(counter)
        if (
            self.n >= 2
            and isinstance(r, list)
            and len(r) == 2
            and num(r[0]) is not None
            and num(r[1]) is not None
        ):
            return analysis.Measure(v, min(num(r[0]), v), max(num(r[1]), v), self.n)
        return analysis.Measure(v, v, v, 1)


def load_counters(path: str) -> tuple[dict, str]:
    """{case name: Counters} from a run directory or a gbench.json file."""
    if os.path.isdir(path):
        run = load_run(path)
        out = {}
        for c in run.cases:
            out[c.name] = Counters(
                {k: v for k, v in c.counters.items() if num(v) is not None}, c.ranges, c.n_reps
            )
        for name, counters, err in run.gbench_only:
            if not err:
                out.setdefault(name, Counters(counters))
        return out, run.name
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    rows = gbench_rows(doc)
    return (
        {
            n: Counters(r["counters"], r["ranges"], r["n"])
            for n, r in rows.items()
            if not r["error"]
        },
        os.path.basename(path),
    )


def verdict(counter: str, a, b, threshold: float) -> tuple[float | None, str, bool]:
    """(relative change of the medians, label, tested). label is "" within the noise,
    else "better"/"worse", or "changed" for a counter with no known direction. a, b:
    analysis.Measures (or numbers); the noise is analysis.differs(): non-overlapping
    ranges when both have them (tested), else `threshold`."""
    ma, mb = analysis.as_measure(a), analysis.as_measure(b)
    va, vb = ma.value, mb.value
    d = analysis.differs(ma, mb, threshold=threshold)
    change = (
        0.0
        if va == vb
        else ((math.inf if vb > va else -math.inf) if va == 0 else (vb - va) / abs(va))
    )
    if counter == "errors" and va != vb and (va == 0 or vb == 0):
        # Any error where there was none is news, whatever the noise.
        return change, "worse" if vb > va else "better", d.tested
    if not d.differ:
        return change, "", d.tested
    direction = DIRECTION.get(counter)
    if direction is None:
        return change, "changed", d.tested
    return change, "better" if d.sign * direction > 0 else "worse", d.tested


def compare(a: dict, b: dict, counters, threshold: float):
    """Rows (case, counter, A Measure, B Measure, change, label, tested), and the cases
    only on one side."""
    rows = []
    common = [n for n in a if n in b]
    for name in sorted(common):
        ca, cb = a[name], b[name]
        if not isinstance(ca, Counters):
            ca, cb = Counters(ca), Counters(cb)
        names = counters or sorted(k for k in set(ca) & set(cb) if k not in NOT_MEASURED)
        for counter in names:
            ma, mb = ca.measure(counter), cb.measure(counter)
            if ma is None or mb is None:
                continue
            change, label, tested = verdict(counter, ma, mb, threshold)
            rows.append((name, counter, ma, mb, change, label, tested))
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
    """ "5", "5%" -> 0.05."""
    t = text.strip().rstrip("%")
    try:
        v = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}")
    if v < 0:
        raise argparse.ArgumentTypeError("the threshold cannot be negative")
    return v / 100.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="compare",
        description=(
            "Per-case deltas of the main counters between two patternbench runs (run directories or "
            "gbench.json files). Changes beyond the noise threshold are marked as improvements or "
            "regressions, according to which direction is better for each counter."
        ),
    )
    ap.add_argument("a", help="baseline: run directory or gbench.json")
    ap.add_argument("b", help="contender: run directory or gbench.json")
    ap.add_argument(
        "-t",
        "--threshold",
        type=parse_threshold,
        default=analysis.FALLBACK_THRESHOLD,
        metavar="PCT",
        help="noise threshold in percent for cases without ranges (one repetition; default 5); "
        "cases with ranges in both runs differ only when the ranges do not overlap",
    )
    ap.add_argument(
        "-c",
        "--counters",
        help="comma-separated counters to compare " f"(default: {','.join(MAIN_COUNTERS)})",
    )
    ap.add_argument("--all", action="store_true", help="every numeric counter both sides have")
    ap.add_argument("--changes-only", action="store_true", help="hide rows within the noise")
    ap.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    ap.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    args = ap.parse_args(argv)

    try:
        a, name_a = load_counters(args.a)
        b, name_b = load_counters(args.b)
    except (OSError, ValueError) as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    counters = (
        None
        if args.all
        else (
            [c.strip() for c in args.counters.split(",") if c.strip()]
            if args.counters
            else MAIN_COUNTERS
        )
    )
    rows, only_a, only_b = compare(a, b, counters, args.threshold)
    better = sum(1 for r in rows if r[5] == "better")
    worse = sum(1 for r in rows if r[5] == "worse")
    ratios = [
        r[3].value / r[2].value for r in rows if r[1] == "rps" and r[2].value > 0 and r[3].value > 0
    ]
    geomean = math.exp(sum(math.log(x) for x in ratios) / len(ratios)) if ratios else None
    tested = sum(1 for r in rows if r[6])
    untested = len(rows) - tested
    pct = f"{100 * args.threshold:g}%"
    if rows and not untested:
        rule = "noise rule: a counter changed when A's and B's ranges over their repetitions do not overlap"
    elif rows and not tested:
        rule = (
            f"one repetition per case (no ranges): noise threshold {pct}, differences not tested "
            "against the machine's noise"
        )
    else:
        rule = (
            f"noise rule: ranges do not overlap ({tested} rows); {untested} rows without ranges use the "
            f"{pct} threshold, untested"
        )

    def word(label, tested_row):
        return {"better": "IMPROVEMENT", "worse": "REGRESSION", "changed": "CHANGED"}.get(
            label
        ) or ("no measurable difference" if tested_row else "")

    if args.format == "json":
        json.dump(
            {
                "a": name_a,
                "b": name_b,
                "threshold": args.threshold,
                "rule": rule,
                "rows": [
                    {
                        "case": n,
                        "counter": c,
                        "a": ma.value,
                        "b": mb.value,
                        "a_range": [ma.lo, ma.hi] if ma.has_range else None,
                        "b_range": [mb.lo, mb.hi] if mb.has_range else None,
                        "change": None if ch is None or math.isinf(ch) else ch,
                        "verdict": {
                            "better": "improvement",
                            "worse": "regression",
                            "changed": "changed",
                            "": "noise",
                        }[lab],
                        "basis": "ranges" if t else "threshold",
                    }
                    for n, c, ma, mb, ch, lab, t in rows
                ],
                "only_in_a": only_a,
                "only_in_b": only_b,
                "improvements": better,
                "regressions": worse,
                "rps_geomean_ratio": geomean,
            },
            sys.stdout,
            indent=2,
        )
        print()
        return 0

    color = args.color == "always" or (
        args.color == "auto" and sys.stdout.isatty() and os.environ.get("NO_COLOR") is None
    )
    paint = {"better": "\033[32m", "worse": "\033[31m", "changed": "\033[33m"}
    shown = [r for r in rows if r[5] or not args.changes_only]
    head = (
        f"Comparing {name_a} (A) to {name_b} (B); {rule}; {len({r[0] for r in rows})} common cases"
    )
    if args.format == "markdown":
        print(f"{head}\n")
        print("| case | counter | A | B | change | |\n|:---|:---|---:|---:|---:|:---|")
        for n, c, ma, mb, ch, lab, t in shown:
            print(
                f"| {n} | {c} | {u.measure(u.plain, ma)} | {u.measure(u.plain, mb)} | {fmt_change(ch)} | "
                f"{word(lab, t)} |"
            )
        print()
    else:
        print(head)
        wc = max([len(r[0]) for r in shown] + [4])
        wk = max([len(r[1]) for r in shown] + [7])
        wv = max([len(u.measure(u.plain, m)) for r in shown for m in r[2:4]] + [12])
        print(f"{'case':<{wc}}  {'counter':<{wk}}  {'A':>{wv}}  {'B':>{wv}}  {'change':>9}")
        last = None
        for n, c, ma, mb, ch, lab, t in shown:
            label = word(lab, t)
            if color and lab:
                label = paint[lab] + label + "\033[0m"
            print(
                f"{n if n != last else '':<{wc}}  {c:<{wk}}  {u.measure(u.plain, ma):>{wv}}  "
                f"{u.measure(u.plain, mb):>{wv}}  {fmt_change(ch):>9}  {label}".rstrip()
            )
            last = n
    summary = f"{worse} regression(s), {better} improvement(s) beyond the noise"
    if untested:
        summary += f" ({untested} row(s) by the {pct} threshold: one repetition, untested)"
    if geomean is not None:
        summary += f"; throughput geometric mean B/A {geomean:.3f}"
    print(summary)
    for label, names in (("only in A", only_a), ("only in B", only_b)):
        if names:
            print(f"{label} ({len(names)}): " + ", ".join(names))
    return 0
