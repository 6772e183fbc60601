"""Derived figures: the knee of an offered-load sweep, the connection count a
workload is shown at, groupings of cases. Pure functions over rundir.Case lists so
the tests can feed them crafted data."""

from __future__ import annotations

from dataclasses import dataclass

from .rundir import Case, num, pattern_key, workload_key

KNEE_FACTOR = 10.0


@dataclass
class Knee:
    pattern: str
    base_rate: float | None      # the lowest offered rate of the sweep
    base_p99: float | None       # its p99, the "unloaded" latency
    threshold: float | None      # KNEE_FACTOR x base_p99
    rate: float | None           # the knee: highest rate before p99 first crosses
    p99: float | None            # p99 at the knee
    crossed: bool                # False: the sweep never left the flat part
    points: list                 # [(offered, p99)] sorted, the curve itself


def knee(points, factor: float = KNEE_FACTOR, pattern: str = "") -> Knee:
    """The knee of a p99-vs-offered-load curve.

    points: (offered_rps, p99_us) pairs; entries with a missing value are ignored.
    The knee is the highest offered rate whose p99 stays under factor x the p99 at
    the lowest rate, walking up from that rate and stopping at the first crossing:
    a later point that dips back under the line (noise, or a run that shed load
    with errors) does not move the knee past a rate where latency already blew up.
    """
    pts = sorted((float(r), float(p)) for r, p in points
                 if num(r) is not None and num(p) is not None and r > 0)
    if not pts:
        return Knee(pattern, None, None, None, None, None, False, [])
    base_rate, base_p99 = pts[0]
    if base_p99 <= 0:
        # No unloaded latency to scale from: a knee would be made up.
        return Knee(pattern, base_rate, base_p99, None, None, None, False, pts)
    threshold = factor * base_p99
    k_rate, k_p99, crossed = None, None, False
    for r, p in pts:
        if p >= threshold:
            crossed = True
            break
        k_rate, k_p99 = r, p
    return Knee(pattern, base_rate, base_p99, threshold, k_rate, k_p99, crossed, pts)


def sweep_knees(cases: list[Case]) -> dict[str, Knee]:
    by_pattern: dict[str, list] = {}
    for c in cases:
        by_pattern.setdefault(c.pattern, []).append((c.offered_rps, c.latency("p99")))
    return {p: knee(pts, pattern=p) for p, pts in sorted(by_pattern.items(), key=lambda kv: pattern_key(kv[0]))}


def group(cases: list[Case], *keys) -> dict:
    """{(key values...): [cases]} in a stable, readable order."""
    out: dict = {}
    for c in cases:
        out.setdefault(tuple(getattr(c, k) for k in keys), []).append(c)

    def order(kv):
        parts = []
        for k, v in zip(keys, kv[0]):
            if k == "pattern":
                parts.append(pattern_key(v))
            elif k == "workload":
                parts.append(workload_key(v))
            else:
                parts.append((0, "") if v is None else (1, v) if isinstance(v, str) else (1, f"{v:012.3f}"))
        return parts
    return dict(sorted(out.items(), key=order))


def focus_connections(cases: list[Case]) -> int | None:
    """The connection count a workload is shown at in the one-chart-per-workload
    views (spectrum, costs, spread): the count the most patterns were measured at;
    among those, the middle one (the upper median), because the lowest count barely
    loads a server and the highest is dominated by queueing in every pattern."""
    per_count: dict[int, set] = {}
    for c in cases:
        if c.connections is not None:
            per_count.setdefault(c.connections, set()).add(c.pattern)
    if not per_count:
        return None
    best = max(len(s) for s in per_count.values())
    counts = sorted(n for n, s in per_count.items() if len(s) == best)
    return counts[len(counts) // 2]


def by_pattern(cases: list[Case]) -> dict[str, Case]:
    """One case per pattern (the first when there are several)."""
    out: dict[str, Case] = {}
    for c in sorted(cases, key=lambda c: pattern_key(c.pattern)):
        out.setdefault(c.pattern, c)
    return out


def matrix_groups(run) -> dict:
    """{(workload, protocol): [matrix cases]}."""
    return group(run.of_kind("matrix"), "workload", "protocol")


def group_slug(workload: str, protocol: str, protocols: set) -> str:
    """File-name part for a (workload, protocol) group: the protocol is named only
    when the run has more than one."""
    base = workload if len(protocols) <= 1 else f"{workload}-{protocol}"
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in base)


def baseline_for(run, protocol: str) -> Case | None:
    base = run.of_kind("baseline")
    for c in base:
        if c.protocol == protocol:
            return c
    return base[0] if base else None
