"""Loading a run directory (see results/README.md for the contract).

Everything here is forgiving on purpose: a run that crashed half-way, a case file
that is missing or malformed, a counter the harness did not write, or a zero where
a rate was expected must still give a report. Missing numbers are None, never 0,
so that tables print a dash instead of a misleading zero. Problems are collected
in Run.warnings and shown in the report.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field

from . import hdr

# The pattern servers' list, in report order (servers/README.md, "Adding a
# pattern"): the build, the harness and these tools all read it.
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATTERNS_FILE = os.path.join(_REPO, "servers", "patterns.txt")


def read_patterns(path: str = PATTERNS_FILE) -> list[tuple[str, str, str]] | None:
    """(name, source, threads) for each line of a patterns list, in its order; None
    when the file cannot be read. Comments ('#') and blank lines are skipped, and
    so is a line without three fields (the build refuses such a file)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    out = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) == 3:
            out.append((fields[0], fields[1], fields[2]))
    return out


# Canonical order of the server patterns; anything else sorts after them
# alphabetically. Charts and tables follow this order and the colours in charts are
# assigned from it, so a pattern looks the same everywhere. Tools copied away from
# the repository find no list: then every pattern sorts alphabetically and
# colours follow that order.
PATTERNS = read_patterns()
PATTERN_ORDER = [name for name, _, _ in PATTERNS or []]
WORKLOAD_ORDER = ["tiny", "cpu", "blocking-tail", "churn", "idle-heavy"]
WRITE_ORDER = ["single", "split", "writev", "cork"]
KINDS = ["matrix", "sweep", "baseline", "nagle", "nagle-upside"]

# Counters and where to find each one in the loadgen record or server block when
# the harness did not write it (an older harness, a partly written case).
COUNTER_NAMES = [
    "rps",
    "p50_us",
    "p99_us",
    "p999_us",
    "cpu_us_per_req",
    "vcsw_per_req",
    "ivcsw_per_req",
    "peak_rss_kb",
    "peak_threads",
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
    # Conditions of the measurement (case schema 2), not properties of the server.
    "generator_bound",
    "gen_busy",
    "foreign_cpu",
    "verdict_code",
]

# Latency keys of Case.latency() that have a counter (and so a range).
LATENCY_COUNTERS = {"p50": "p50_us", "p99": "p99_us", "p99.9": "p999_us"}

# Verdicts of a case (results/README.md), in the loadgen's precedence order after "ok".
VERDICTS = ["ok", "server-saturated", "generator-late", "generator-busy"]
# counters.verdict_code -> verdict kind.
VERDICT_CODES = {0: "ok", 1: "server-saturated", 2: "generator-late", 3: "generator-busy"}

# Google Benchmark appends these to a benchmark's name; the case name is the name
# without them.
_GBENCH_SUFFIX = re.compile(
    r"/(real_time|manual_time|process_time|iterations:\d+|repeats:\d+|threads:\d+|min_time:[^/]+|min_warmup_time:[^/]+)$"
)


def pattern_key(p: str):
    return (PATTERN_ORDER.index(p), "") if p in PATTERN_ORDER else (len(PATTERN_ORDER), p)


def workload_key(w: str):
    return (WORKLOAD_ORDER.index(w), "") if w in WORKLOAD_ORDER else (len(WORKLOAD_ORDER), w or "")


def strip_gbench_name(name: str) -> str:
    while True:
        stripped = _GBENCH_SUFFIX.sub("", name)
        if stripped == name:
            return name
        name = stripped


def num(value) -> float | None:
    """A finite float, or None for anything else (missing, null, text, NaN)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, str):
        try:
            v = float(value)
        except ValueError:
            return None
        return v if math.isfinite(v) else None
    return None


def dig(obj, *path):
    """obj[path[0]][path[1]]... or None when any step is missing."""
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


def as_bool(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("on", "true", "yes", "1"):
            return True
        if v in ("off", "false", "no", "0"):
            return False
    return None


def jain(values) -> float | None:
    """Jain's fairness index (sum x)^2 / (n * sum x^2): 1 when every thread did the
    same work, 1/n when one thread did all of it. None for fewer than two threads:
    over one value the index is 1 by construction and says nothing."""
    xs = [float(v) for v in values if v is not None]
    sq = sum(x * x for x in xs)
    if len(xs) < 2 or sq == 0:
        return None
    return sum(xs) ** 2 / (len(xs) * sq)


def maxmin(values) -> float | None:
    """Busiest over idlest; None for fewer than two threads (1 by construction)."""
    xs = [float(v) for v in values if v is not None]
    if len(xs) < 2 or max(xs) == 0:
        return None
    return math.inf if min(xs) == 0 else max(xs) / min(xs)


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
        counter = {"p50": "p50_us", "p99": "p99_us", "p99.9": "p999_us"}.get(key)
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
        def onoff(b):
            return "?" if b is None else ("on" if b else "off")

        parts = [
            f"nodelay c={onoff(self.client_nodelay)} s={onoff(self.server_nodelay)}",
            self.write_pattern or "?",
            f"quickack={onoff(self.quickack)}",
        ]
        return "  ".join(parts)


@dataclass
class Run:
    path: str
    name: str
    cases: list
    gbench: dict | None
    sysinfo: dict
    run: dict
    warnings: list
    gbench_only: list  # gbench rows with no case file: (name, counters, error message)

    def of_kind(self, kind: str) -> list:
        return [c for c in self.cases if c.kind == kind]

    def patterns(self) -> list[str]:
        """Server patterns present anywhere in the run (the baseline's ping-pong is
        not a server pattern)."""
        ps = {c.pattern for c in self.cases if c.kind != "baseline" and c.pattern}
        return sorted(ps, key=pattern_key)

    def wall_seconds(self) -> float | None:
        w = num(self.run.get("wall_seconds"))
        if w is not None:
            return w
        return None


def _load_json(path: str, warnings: list):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        warnings.append(f"{os.path.basename(path)}: unreadable ({e})")
        return None


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


def _fill_counters(case: Case) -> None:
    """Derives counters the harness did not write from the loadgen and server
    blocks, so tables and charts still have them."""
    c = case.counters
    lg = case.loadgen or {}
    srv = case.server or {}

    def put(name, value):
        if num(c.get(name)) is None and value is not None:
            c[name] = value
            # Derived from the repetition of record: no repetition vouches for a range.
            case.ranges.pop(name, None)

    # A closed-loop record whose window replies were never counted (the Nagle's-upside
    # client of case schema 1 left window_replies at 0) has rps 0 with every request
    # answered: that 0 is a missing number, not a measurement.
    requests = num(lg.get("requests"))
    if (
        num(c.get("rps")) == 0
        and requests
        and lg.get("mode") == "closed"
        and num(lg.get("window_replies")) == 0
        and not num(lg.get("throughput_rps"))
    ):
        del c["rps"]
        case.ranges.pop("rps", None)
        dur = num(lg.get("duration_s"))
        put("rps", requests / dur if dur else None)
        case.extra["rps_derived"] = "loadgen requests / duration_s (window_replies was not counted)"
    put("rps", num(lg.get("throughput_rps")))
    put("p50_us", num(dig(lg, "latency_us", "p50")))
    put("p99_us", num(dig(lg, "latency_us", "p99")))
    put("p999_us", num(dig(lg, "latency_us", "p99.9")))
    errs = lg.get("errors")
    if isinstance(errs, dict):
        total = num(errs.get("total"))
        if total is None:
            total = sum(num(v) or 0 for v in errs.values())
        put("errors", total)
    if requests:
        for counter, key in (
            ("cpu_us_per_req", "cpu_us"),
            ("vcsw_per_req", "vcsw"),
            ("ivcsw_per_req", "ivcsw"),
        ):
            v = num(srv.get(key))
            put(counter, None if v is None else v / requests)
    # The window's own figures: its exact request count (schema 2) or rate x length.
    win = srv.get("window") if isinstance(srv.get("window"), dict) else {}
    win_req = num(win.get("requests")) or num(win.get("requests_estimated"))
    if not win_req and num(c.get("rps")) and num(win.get("seconds")):
        win_req = num(c.get("rps")) * num(win.get("seconds"))
    if win_req:
        for counter, key in (
            ("cpu_us_per_req", "cpu_us"),
            ("vcsw_per_req", "vcsw"),
            ("ivcsw_per_req", "ivcsw"),
        ):
            v = num(win.get(key))
            put(counter, None if v is None else v / win_req)
    put("peak_rss_kb", num(srv.get("peak_rss_kb")))
    put("peak_threads", num(srv.get("peak_threads")) or num(dig(srv, "stats", "peak_threads")))
    put("segs_out_per_req", num(dig(lg, "tcp_info", "segs_out_per_request")))
    put("segs_in_per_req", num(dig(lg, "tcp_info", "segs_in_per_request")))
    if case.offered_rps is None:
        case.offered_rps = num(c.get("offered_rps")) or num(dig(lg, "open_loop", "target_rps"))
    put("offered_rps", case.offered_rps)
    threads = case.threads()
    if threads and case.schema_version < 2:
        # Schema 2 harnesses compute these over the window and leave them out when
        # fewer than two threads do the work; only older files need them derived.
        req = thread_values(threads, "requests")
        acc = thread_values(threads, "accepted")
        put("jain_requests", jain(req))
        put("maxmin_requests", maxmin(req))
        put("jain_accepts", jain(acc))
        put("maxmin_accepts", maxmin(acc))


def thread_values(threads: list[dict], key: str) -> list[float]:
    """Per-thread values of `key` over the threads whose role does that kind of work.

    A role counts when any thread of that role has a non-zero value: the loops of
    reuseport for requests, the acceptor of reactor-pool for accepts, the
    connection threads of thread-per-conn for requests. Threads of a role that
    never does the work (reactor-pool's reader loops for accepts) would only drag
    the fairness index down for no reason."""
    roles = {t.get("role", "loop") for t in threads if (num(t.get(key)) or 0) > 0}
    return [num(t.get(key)) or 0.0 for t in threads if t.get("role", "loop") in roles]


def _case_from_doc(doc: dict, path: str) -> Case:
    info = doc.get("case") if isinstance(doc.get("case"), dict) else {}
    known = {
        "id",
        "name",
        "kind",
        "pattern",
        "protocol",
        "workload",
        "connections",
        "offered_rps",
        "client_nodelay",
        "server_nodelay",
        "write_pattern",
        "quickack",
    }
    stem = os.path.splitext(os.path.basename(path))[0]
    conns = num(info.get("connections"))
    case = Case(
        id=str(info.get("id") or stem),
        name=str(info.get("name") or info.get("id") or stem),
        kind=str(info.get("kind") or "matrix"),
        pattern=str(info.get("pattern") or "?"),
        protocol=str(info.get("protocol") or "frame"),
        workload=str(info.get("workload") or "?"),
        connections=int(conns) if conns is not None else None,
        offered_rps=num(info.get("offered_rps")),
        client_nodelay=as_bool(info.get("client_nodelay")),
        server_nodelay=as_bool(info.get("server_nodelay")),
        write_pattern=info.get("write_pattern"),
        quickack=as_bool(info.get("quickack")),
        counters={
            k: v
            for k, v in (
                doc.get("counters") if isinstance(doc.get("counters"), dict) else {}
            ).items()
            if num(v) is not None or (k.startswith("maxmin_") and v == math.inf)
        },
        loadgen=doc.get("loadgen") if isinstance(doc.get("loadgen"), dict) else None,
        server=doc.get("server") if isinstance(doc.get("server"), dict) else None,
        source=path,
        extra={k: v for k, v in info.items() if k not in known},
        schema=str(doc.get("schema") or ""),
        verdict_obj=doc.get("verdict") if isinstance(doc.get("verdict"), dict) else None,
        measurement=doc.get("measurement") if isinstance(doc.get("measurement"), dict) else None,
        ranges=doc.get("ranges") if isinstance(doc.get("ranges"), dict) else {},
        repetitions=[r for r in doc.get("repetitions") or [] if isinstance(r, dict)]
        if isinstance(doc.get("repetitions"), list)
        else [],
        repetition_of_record=int(num(doc.get("repetition_of_record")))
        if num(doc.get("repetition_of_record")) is not None
        else None,
    )
    if case.connections is None:
        conns = num(dig(case.loadgen, "config", "connections"))
        case.connections = int(conns) if conns is not None else None
    return case


def load_run(path: str) -> Run:
    path = os.path.abspath(path)
    warnings: list = []
    gbench_path = os.path.join(path, "gbench.json")
    gbench = _load_json(gbench_path, warnings)
    if gbench is None and not os.path.exists(gbench_path):
        warnings.append("gbench.json is missing")
    rows = gbench_rows(gbench) if gbench else {}

    cases = []
    cases_dir = os.path.join(path, "cases")
    names = sorted(os.listdir(cases_dir)) if os.path.isdir(cases_dir) else []
    for fname in names:
        if not fname.endswith(".json"):
            continue
        doc = _load_json(os.path.join(cases_dir, fname), warnings)
        if not isinstance(doc, dict):
            if doc is not None:
                warnings.append(f"cases/{fname}: not a JSON object")
            continue
        case = _case_from_doc(doc, os.path.join(cases_dir, fname))
        if case.kind not in KINDS:
            warnings.append(f"cases/{fname}: unknown kind {case.kind!r}; listed, not charted")
        cases.append(case)

    seen = set()
    for case in cases:
        row = rows.get(case.name) or rows.get(case.id)
        if row:
            seen.add(case.name if case.name in rows else case.id)
            # The case file is the primary record; gbench fills what it lacks.
            for k, v in row["counters"].items():
                if num(case.counters.get(k)) is None:
                    case.counters[k] = v
            if row["error"]:
                case.extra["gbench_error"] = row["error"]
        _fill_counters(case)

    gbench_only = [(n, r["counters"], r["error"]) for n, r in rows.items() if n not in seen]
    if not cases:
        warnings.append("no case files under cases/")

    sysinfo = _load_json(os.path.join(path, "sysinfo.json"), warnings) or {}
    run = _load_json(os.path.join(path, "run.json"), warnings) or {}
    if not isinstance(sysinfo, dict):
        sysinfo = {}
    if not isinstance(run, dict):
        run = {}
    # tools/run-bench reports on RUN.tmp before renaming it into place: the run's
    # name is the final one.
    name = re.sub(r"\.tmp$", "", os.path.basename(os.path.realpath(path).rstrip("/")))
    return Run(
        path=path,
        name=name,
        cases=cases,
        gbench=gbench,
        sysinfo=sysinfo,
        run=run,
        warnings=warnings,
        gbench_only=gbench_only,
    )
