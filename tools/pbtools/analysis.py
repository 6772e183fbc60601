"""Derived figures: the noise rule that decides whether two numbers differ, the
knee of an offered-load sweep, the connection count a workload is shown at,
groupings of cases. Pure functions over rundir.Case lists so the tests can feed
them crafted data."""

from __future__ import annotations

from dataclasses import dataclass

from .rundir import Case, num, pattern_key, workload_key

# --- the noise rule (results/README.md, "Repetitions and the noise rule") -----------

# Without ranges (one repetition per case, or an older run) a difference counts when it
# is larger than this fraction of the first value: tools/compare's old threshold.
FALLBACK_THRESHOLD = 0.05


@dataclass(frozen=True)
class Measure:
    """One counter of one case: the median over its repetitions and their [lo, hi]."""

    value: float
    lo: float
    hi: float
    n: int = 1  # repetitions behind lo..hi; 1: no range

    @property
    def has_range(self) -> bool:
        return self.n >= 2


@dataclass(frozen=True)
class Difference:
    differ: bool  # larger than the noise
    sign: int  # +1: b above a, -1: b below a, 0: equal medians
    tested: bool  # True: decided by the ranges; False: by the fallback threshold
    ratio: float | None  # b / a, when a > 0

    @property
    def basis(self) -> str:
        return (
            "ranges" if self.tested else f"{100 * FALLBACK_THRESHOLD:g}% threshold, one repetition"
        )


def as_measure(x, counter: str | None = None) -> Measure | None:
    """A Measure from a Measure, a number, or anything with .measure(counter) (a Case)."""
    if x is None or isinstance(x, Measure):
        return x
    if hasattr(x, "measure"):
        return x.measure(counter)
    v = num(x)
    return None if v is None else Measure(v, v, v, 1)


def differs(
    a, b, counter: str | None = None, threshold: float = FALLBACK_THRESHOLD
) -> Difference | None:
    """THE rule for "these two differ" (the Reading, the sweeps and tools/compare).

    a, b: Cases (with counter), Measures or numbers. When both have a range over two
    or more repetitions, they differ exactly when the ranges do not overlap: every
    repetition of one is above every repetition of the other. Otherwise (one
    repetition) the medians differ when they are more than `threshold` apart,
    relative to a; that is untested against noise, and Difference.tested says so.
    None when either number is missing."""
    ma, mb = as_measure(a, counter), as_measure(b, counter)
    if ma is None or mb is None:
        return None
    sign = (mb.value > ma.value) - (mb.value < ma.value)
    ratio = mb.value / ma.value if ma.value > 0 else None
    if ma.has_range and mb.has_range:
        apart = ma.hi < mb.lo or mb.hi < ma.lo
        if apart:
            # With non-overlapping ranges the medians lie on the same sides.
            sign = 1 if mb.lo > ma.hi else -1
        return Difference(apart, sign if apart else 0, True, ratio)
    if ma.value == mb.value:
        return Difference(False, 0, False, ratio)
    if ma.value == 0:
        return Difference(True, sign, False, ratio)
    return Difference(abs(mb.value - ma.value) / abs(ma.value) > threshold, sign, False, ratio)


# --- the knee of an open-loop sweep ----------------------------------------------------

# The latency objective a sweep point must meet, per workload: p99 at most this many
# microseconds. One constant per workload, from what the workload does (the reasons are
# in results/README.md, "The knee"):
#   tiny: 64 B echo, ~10 us of server work; 500 us is 50 services, 10x a loopback round trip.
#   cpu: 50 us of spin per request; 1 ms is ~20 requests of work queued ahead (an M/D/1
#        queue reaches it near 90% utilisation).
#   blocking-tail: 0.5% of requests sleep 10 ms, so they are above the p99; 1 ms is a
#        tenth of one sleep: the p99 request was not held up behind a sleeper.
KNEE_P99_OBJECTIVE_US = {"tiny": 500.0, "cpu": 1000.0, "blocking-tail": 1000.0}
KNEE_P99_DEFAULT_US = 1000.0
# Achieved at least this share of the offered rate (the loadgen's server-saturated line).
KNEE_ACHIEVED_FRACTION = 0.99


def knee_objective_us(workload: str) -> float:
    return KNEE_P99_OBJECTIVE_US.get(workload, KNEE_P99_DEFAULT_US)


@dataclass
class SweepPoint:
    rate: float  # offered req/s
    p99: float | None  # median p99 over the repetitions
    achieved: float | None  # median achieved req/s
    generator: bool = False  # a repetition was generator-late or generator-busy
    case: Case | None = None

    def meets(self, objective_us: float) -> bool:
        return (
            not self.generator
            and self.p99 is not None
            and self.p99 <= objective_us
            and self.achieved is not None
            and self.achieved >= KNEE_ACHIEVED_FRACTION * self.rate
        )


@dataclass
class Knee:
    pattern: str
    objective: float  # the p99 bound, us
    rate: float | None  # the knee: the highest offered rate that meets the objective
    p99: float | None  # p99 there
    bounded: bool  # a higher rate was measured (by the server) and failed
    points: list  # [SweepPoint] sorted by rate
    above: list  # points above the knee the generator could not test

    @property
    def lower_bound(self) -> bool:
        """Nothing above the knee failed: the real knee may be higher ("+")."""
        return self.rate is not None and not self.bounded


def knee(points, objective_us: float, pattern: str = "") -> Knee:
    """The knee of a sweep: the highest offered rate at which the case meets the
    objective (p99 <= objective_us, achieved >= 99% of offered, no repetition
    generator-late or generator-busy).

    points: SweepPoints, or (rate, p99[, achieved[, generator]]) tuples (achieved
    defaults to the rate). Every point is judged on its own, against a fixed bound, so
    a noisy point (a huge p99 at the lowest rate, a dip in the middle) moves nothing
    but itself. A generator-limited point is never a knee and never bounds one."""
    pts = []
    for p in points:
        if not isinstance(p, SweepPoint):
            t = tuple(p) + (None,) * (4 - len(p))
            rate, p99, achieved, gen = t[0], t[1], t[2], t[3]
            p = SweepPoint(
                rate, num(p99), num(achieved) if achieved is not None else num(rate), bool(gen)
            )
        if num(p.rate) is not None and p.rate > 0:
            pts.append(p)
    pts.sort(key=lambda p: p.rate)
    ok = [p for p in pts if p.meets(objective_us)]
    if not ok:
        bounded = any(not p.generator and p.p99 is not None for p in pts)
        return Knee(pattern, objective_us, None, None, bounded, pts, [])
    best = ok[-1]
    higher = [p for p in pts if p.rate > best.rate]
    bounded = any(not p.generator for p in higher)
    above = [p for p in higher if p.generator]
    return Knee(pattern, objective_us, best.rate, best.p99, bounded, pts, above)


def sweep_points(cases: list[Case]) -> list[SweepPoint]:
    return [
        SweepPoint(c.offered_rps, c.latency("p99"), c.c("rps"), c.generator_limited, c)
        for c in cases
        if c.offered_rps
    ]


def sweep_knees(cases: list[Case], workload: str | None = None) -> dict[str, Knee]:
    """{pattern: Knee} for one workload's sweep cases."""
    by_pattern: dict[str, list] = {}
    for c in cases:
        by_pattern.setdefault(c.pattern, []).append(c)
    wl = workload or (cases[0].workload if cases else "")
    return {
        p: knee(sweep_points(cs), knee_objective_us(wl), pattern=p)
        for p, cs in sorted(by_pattern.items(), key=lambda kv: pattern_key(kv[0]))
    }


def equal_load_rate(a: list[Case], b: list[Case]) -> float | None:
    """The offered rate to compare two patterns' sweeps at: the highest rate both ran
    where neither was generator-limited, preferring rates where neither was saturated
    (their latencies are then not lower bounds)."""
    ra = {c.offered_rps: c for c in a if c.offered_rps and not c.generator_limited}
    rb = {c.offered_rps: c for c in b if c.offered_rps and not c.generator_limited}
    common = sorted(set(ra) & set(rb))
    if not common:
        return None
    clean = [
        r
        for r in common
        if "server-saturated" not in ra[r].rep_verdicts()
        and "server-saturated" not in rb[r].rep_verdicts()
    ]
    return (clean or common)[-1]


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
                parts.append(
                    (0, "") if v is None else (1, v) if isinstance(v, str) else (1, f"{v:012.3f}")
                )
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
