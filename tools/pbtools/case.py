"""One case of a run (cases/<case>.json): what ran, its counters with their ranges over
the repetitions, the loadgen record and the server's stats, and what they say about how
trustworthy the numbers are (verdicts, generator-bound, foreign load)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from . import hdr
from .fairness import thread_values
from .values import as_bool, dig, num

# What a case measured of the server: rate, latencies, cost per request, memory
# (tools/compare compares these, and errors, by default).
SERVER_COUNTERS = [
    "rps",
    "p50_us",
    "p99_us",
    "p999_us",
    "cpu_us_per_req",
    "vcsw_per_req",
    "ivcsw_per_req",
    "peak_rss_kb",
]
# Every counter a case file may hold (results/README.md).
COUNTER_NAMES = [
    *SERVER_COUNTERS,
    "peak_threads",
    "syscalls_per_req",
    "jain_requests",
    "maxmin_requests",
    "jain_accepts",
    "maxmin_accepts",
    "errors",
    "offered_rps",
    "stalls",
    "stall_fraction",
    "segs_out_per_req",
    "segs_in_per_req",
    "srv_segs_out_per_req",
    "srv_segs_in_per_req",
    "accept_queue_max",
    "listen_overflows",
    "listen_drops",
    # Conditions of the measurement (case schema 2), not properties of the server.
    "generator_bound",
    "gen_busy",
    "foreign_cpu",
    "verdict_code",
]

# A Nagle exchange of this many microseconds or more is a stall (the harness's kStallUs).
STALL_US = 30_000.0

# Latency keys of Case.latency() that have a counter (and so a range).
LATENCY_COUNTERS = {"p50": "p50_us", "p99": "p99_us", "p99.9": "p999_us"}

# Verdicts of a case (results/README.md), in the loadgen's precedence order after "ok".
VERDICTS = ["ok", "server-saturated", "generator-late", "generator-busy"]
# counters.verdict_code -> verdict kind.
VERDICT_CODES = {0: "ok", 1: "server-saturated", 2: "generator-late", 3: "generator-busy"}


def onoff(b: bool | None) -> str:
    """A TCP option's setting as the report prints it: on, off, or ? when unknown."""
    return "?" if b is None else ("on" if b else "off")


@dataclass
class Case:
    id: str
    name: str
    kind: str
    pattern: str
    protocol: str
    workload: str
    connections: int | None
    offered_rps: float | None
    client_nodelay: bool | None = None
    server_nodelay: bool | None = None
    write_pattern: str | None = None
    quickack: bool | None = None
    counters: dict = field(default_factory=dict)
    loadgen: dict | None = None
    server: dict | None = None
    source: str = ""
    extra: dict = field(default_factory=dict)  # unknown "case" fields, kept for labels
    schema: str = ""
    verdict_obj: dict | None = None  # the case file's top-level "verdict" (schema 2)
    measurement: dict | None = None  # the case file's "measurement" (schema 2)
    # A claims case's own figures (bench/experiments.hpp): the case file's "experiment",
    # the repetition of record's; each repetition's own is in repetitions[i]["experiment"].
    experiment: dict | None = None
    # Repetitions: counters are medians over the repetitions, ranges their
    # [min, max]; repetitions keeps each run's own counters, verdict and measurement.
    ranges: dict = field(default_factory=dict)
    repetitions: list = field(default_factory=list)
    repetition_of_record: int | None = None

    def c(self, name: str) -> float | None:
        """A counter, None when absent. max/min ratios may be infinite (an idle
        thread); every other counter must be finite to count."""
        v = self.counters.get(name)
        if name.startswith("maxmin_") and isinstance(v, float) and math.isinf(v) and v > 0:
            return v
        return num(v)

    # --- repetitions (results/README.md, "Repetitions") ---

    @property
    def n_reps(self) -> int:
        """How many repetitions the counters summarise (1 for older files)."""
        return max(1, len(self.repetitions))

    def measure(self, counter: str):
        """The counter as a Measure: median, [min, max] over the repetitions, and how
        many repetitions there were. Latency keys ("p50", "p99", "p99.9") are accepted
        for their counters. None when the counter is missing."""
        from .analysis import Measure  # analysis imports this module

        key = LATENCY_COUNTERS.get(counter, counter)
        value = self.latency(counter) if counter in LATENCY_COUNTERS else self.c(key)
        if value is None:
            return None
        lo, hi = value, value
        r = self.ranges.get(key)
        n = self.n_reps
        if (
            isinstance(r, list)
            and len(r) == 2
            and num(r[0]) is not None
            and num(r[1]) is not None
            and self.c(key) is not None
        ):
            lo, hi = num(r[0]), num(r[1])
        else:
            n = 1  # a number no repetition vouches for (derived, or from the loadgen record)
        return Measure(value, min(lo, value), max(hi, value), n)

    def rep_experiments(self) -> list[dict]:
        """Each repetition's "experiment" object (claims cases); [] when absent."""
        return [
            r["experiment"]
            for r in self.repetitions
            if isinstance(r, dict) and isinstance(r.get("experiment"), dict)
        ]

    def rep_counters(self) -> list[dict]:
        return [r.get("counters") or {} for r in self.repetitions if isinstance(r, dict)]

    def rep_verdicts(self) -> list[str]:
        """Each repetition's verdict kind; [the case's verdict] for a single run."""
        kinds = []
        for r in self.repetitions:
            if not isinstance(r, dict):
                continue
            kind = dig(r, "verdict", "kind")
            code = num(dig(r, "counters", "verdict_code"))
            if kind not in VERDICTS and code is not None:
                kind = VERDICT_CODES.get(int(code))
            if num(dig(r, "counters", "generator_bound")) == 1:
                kind = "generator-busy"
            if kind in VERDICTS:
                kinds.append(kind)
        return kinds or [self.verdict()[0]]

    def verdict_counts(self) -> dict:
        """{verdict kind: repetitions with it}, in VERDICTS order."""
        out: dict = {}
        for k in self.rep_verdicts():
            out[k] = out.get(k, 0) + 1
        return {k: out[k] for k in VERDICTS if k in out}

    @property
    def generator_limited(self) -> bool:
        """Any repetition's rate or latency describes the generator: busy or late."""
        return self.generator_bound or any(
            k in ("generator-late", "generator-busy") for k in self.rep_verdicts()
        )

    @property
    def has_errors(self) -> bool:
        e = self.c("errors")
        return e is not None and e > 0

    def latency(self, key: str) -> float | None:
        """A latency percentile in us ("p50", "p99.9", "max", ...), from the counters
        when the harness wrote it, else from the loadgen record."""
        counter = LATENCY_COUNTERS.get(key)
        if counter and self.c(counter) is not None:
            return self.c(counter)
        return num(dig(self.loadgen, "latency_us", key))

    def histogram(self) -> hdr.Histogram | None:
        lat = dig(self.loadgen, "latency_us")
        h = hdr.from_latency_object(lat)
        if h is None:
            # Older records kept the histogram at the top level.
            h = hdr.from_latency_object(dig(self.loadgen, "histogram"))
        return h

    def threads(self) -> list[dict]:
        """Per-thread counters: the measured window's deltas (server.window.per_thread)
        when the harness took snapshots, else the server's lifetime stats (warm-up,
        bring-up and drain included)."""
        ts = dig(self.server, "window", "per_thread")
        if not (isinstance(ts, list) and ts):
            ts = dig(self.server, "stats", "threads")
        return [t for t in ts if isinstance(t, dict)] if isinstance(ts, list) else []

    def threads_source(self) -> str:
        ts = dig(self.server, "window", "per_thread")
        return "window" if isinstance(ts, list) and ts else ("lifetime" if self.threads() else "")

    def fairness(self, counter: str) -> tuple[float | None, bool]:
        """(value, not_applicable) for jain_* / maxmin_*. Not applicable when fewer than
        two threads do that work: the harness then leaves the counter out (schema 2),
        and an older harness wrote a meaningless 1 that is ignored here."""
        key = "accepted" if counter.endswith("accepts") else "requests"
        threads = self.threads()
        if threads and len(thread_values(threads, key)) < 2:
            return None, True
        v = self.c(counter)
        if v is None and self.schema_version >= 2:
            return None, True
        return v, False

    @property
    def schema_version(self) -> int:
        m = re.search(r"/(\d+)$", self.schema or "")
        return int(m.group(1)) if m else 1

    # --- how trustworthy the numbers are (results/README.md, "Verdicts") ---

    def verdict(self) -> tuple[str, str]:
        """(kind, reason): "ok", "server-saturated", "generator-late" or "generator-busy".

        From the case file's verdict (schema 2), its verdict_code counter, the loadgen's
        own verdict, and for older files derived from the loadgen record with the
        loadgen's rules: generator busy, then sends late, then achieved < 99% of plan."""
        for obj in (self.verdict_obj, dig(self.loadgen, "verdict")):
            kind = dig(obj, "kind")
            if kind in VERDICTS:
                return kind, str(dig(obj, "reason") or "")
        code = self.c("verdict_code")
        if code is not None and int(code) in VERDICT_CODES:
            return VERDICT_CODES[int(code)], ""
        lg = self.loadgen or {}
        gen = lg.get("generator") if isinstance(lg.get("generator"), dict) else {}
        ol = lg.get("open_loop") if isinstance(lg.get("open_loop"), dict) else None
        busy = num(gen.get("max_thread_busy"))
        if as_bool(gen.get("bound")) or as_bool(gen.get("saturated")):
            return "generator-busy", (
                f"a generator thread was {100 * busy:.0f}% busy"
                if busy is not None
                else "a generator thread was busy"
            )
        if ol is None:
            return "ok", ""
        late, bound = num(dig(ol, "lateness_us", "p99")), num(ol.get("max_lateness_us"))
        if late is not None and bound is not None and late > bound:
            return (
                "generator-late",
                f"p99 send lateness {late:.0f} us over the {bound:.0f} us bound",
            )
        target, achieved = num(ol.get("target_rps")), num(ol.get("achieved_rps"))
        if target and achieved is not None and achieved < 0.99 * target:
            return (
                "server-saturated",
                f"achieved {achieved:.0f} req/s, under 99% of the planned {target:.0f}",
            )
        return "ok", ""

    @property
    def generator_bound(self) -> bool:
        """A load-generator thread was busy for (nearly) the whole window: the rate and
        the latencies describe the generator as much as the server."""
        if "generator-busy" in (self.rep_verdicts() if self.repetitions else []):
            return True
        gb = self.c("generator_bound")
        r = self.ranges.get("generator_bound")
        if isinstance(r, list) and len(r) == 2 and num(r[1]) is not None:
            gb = max(gb or 0.0, num(r[1]))  # any repetition generator-bound
        if gb is not None:
            return gb >= 1
        if as_bool(dig(self.loadgen, "generator", "bound")):
            return True
        return self.verdict()[0] == "generator-busy"

    def gen_busy(self) -> float | None:
        v = self.c("gen_busy")
        return v if v is not None else num(dig(self.loadgen, "generator", "max_thread_busy"))

    @property
    def unsent(self) -> float | None:
        """Planned requests of an open-loop window that never went out."""
        return num(dig(self.loadgen, "open_loop", "unsent"))

    @property
    def latency_is_lower_bound(self) -> bool:
        """Overload: requests that were never sent are in the histogram at the time they
        had waited when the run ended (or, in older records, not at all), so every
        percentile is a lower bound."""
        return (self.unsent or 0) > 0

    def foreign(self) -> dict | None:
        f = dig(self.measurement, "foreign")
        return f if isinstance(f, dict) else None

    @property
    def foreign_load(self) -> bool:
        """Other work (not the server, generator or harness) used more than 5% of a CPU
        over the window."""
        for r in self.repetitions:
            if isinstance(r, dict) and as_bool(dig(r, "measurement", "foreign", "flag")):
                return True
        f = self.foreign()
        if f is not None and as_bool(f.get("flag")) is not None:
            return bool(as_bool(f.get("flag")))
        cpus = num(dig(f, "cpus"))
        if cpus is None:
            cpus = self.c("foreign_cpu")
        return cpus is not None and cpus > 0.05

    def bringup(self) -> dict | None:
        b = dig(self.loadgen, "bringup")
        return b if isinstance(b, dict) else None

    @property
    def bringup_incomplete(self) -> bool:
        b = self.bringup()
        return b is not None and as_bool(b.get("complete")) is False

    @property
    def nagle_label(self) -> str:
        parts = [
            f"nodelay c={onoff(self.client_nodelay)} s={onoff(self.server_nodelay)}",
            self.write_pattern or "?",
            f"quickack={onoff(self.quickack)}",
        ]
        return "  ".join(parts)
