"""Loading a run directory (see results/README.md for the contract).

Everything here is forgiving on purpose: a run that crashed half-way, a case file
that is missing or malformed, a counter the harness did not write, or a zero where
a rate was expected must still give a report. Missing numbers are None, never 0,
so that tables print a dash instead of a misleading zero. Problems are collected
in Run.warnings and shown in the report.

What a run is made of lives beside this file: case.py (the Case model), gbench.py
(Google Benchmark's rows), patterns.py (the pattern list and orders), values.py
(forgiving reads of JSON values), fairness.py (Jain's index and busiest/idlest).
Their public names are re-exported here, so `from .rundir import Case, num` is the
one import of a tool that reads runs.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field

from .case import (
    COUNTER_NAMES,
    LATENCY_COUNTERS,
    SERVER_COUNTERS,
    STALL_US,
    VERDICT_CODES,
    VERDICTS,
    Case,
    onoff,
)
from .fairness import jain, maxmin, thread_values
from .gbench import gbench_rows, median, strip_gbench_name
from .patterns import (
    EXTERNAL,
    PATTERN_ORDER,
    PATTERNS,
    PATTERNS_FILE,
    WORKLOAD_ORDER,
    WRITE_ORDER,
    label,
    pattern_key,
    read_patterns,
    workload_key,
)
from .values import as_bool, dig, num

KINDS = ["matrix", "sweep", "baseline", "nagle", "nagle-upside", "claims", "scaling"]


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
    # Patterns this machine could not run (unavailable.json): {pattern: {"reason",
    # "found", "cases"}}. Their cases did not run and are in no table.
    unavailable: dict = field(default_factory=dict)

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

    def per_request(totals: dict, n: float) -> None:
        for counter, key in (
            ("cpu_us_per_req", "cpu_us"),
            ("vcsw_per_req", "vcsw"),
            ("ivcsw_per_req", "ivcsw"),
        ):
            v = num(totals.get(key))
            put(counter, None if v is None else v / n)

    if requests:
        per_request(srv, requests)
    # The window's own figures: its exact request count (schema 2) or rate x length.
    win = srv.get("window") if isinstance(srv.get("window"), dict) else {}
    win_req = num(win.get("requests")) or num(win.get("requests_estimated"))
    if not win_req and num(c.get("rps")) and num(win.get("seconds")):
        win_req = num(c.get("rps")) * num(win.get("seconds"))
    if win_req:
        per_request(win, win_req)
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
        experiment=doc.get("experiment") if isinstance(doc.get("experiment"), dict) else None,
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


# The message the harness gives a case whose server cannot run on this machine.
UNAVAILABLE_MESSAGE = "not available on this machine"


def _load_unavailable(path: str, warnings: list) -> dict:
    """unavailable.json (results/README.md) as {pattern: {"reason", "found", "cases"}};
    {} when the run has none."""
    doc = _load_json(os.path.join(path, "unavailable.json"), warnings)
    if doc is None:
        return {}
    entries = doc.get("patterns") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        warnings.append("unavailable.json: no list of patterns")
        return {}
    out = {}
    for e in entries:
        if not isinstance(e, dict) or not e.get("pattern"):
            continue
        cases = e.get("cases") if isinstance(e.get("cases"), list) else []
        out[str(e["pattern"])] = {
            "reason": str(e.get("reason") or "no reason given"),
            "found": str(e.get("found") or ""),
            "cases": [str(c) for c in cases],
        }
    return out


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
        if isinstance(case.extra.get("external"), dict):
            EXTERNAL.add(case.pattern)
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

    # A pattern this machine could not run is named with its reason, not listed as
    # errors: the gbench rows of its cases (a server that exited 69 at case start)
    # are left out.
    unavailable = _load_unavailable(path, warnings)
    skipped = {n for u in unavailable.values() for n in u["cases"]}
    gbench_only = [
        (n, r["counters"], r["error"])
        for n, r in rows.items()
        if n not in seen
        and n not in skipped
        and not (unavailable and str(r["error"] or "").startswith(UNAVAILABLE_MESSAGE))
    ]
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
        unavailable=unavailable,
    )


__all__ = [
    "KINDS",
    "UNAVAILABLE_MESSAGE",
    "Run",
    "load_run",
    # case.py
    "COUNTER_NAMES",
    "LATENCY_COUNTERS",
    "SERVER_COUNTERS",
    "STALL_US",
    "VERDICTS",
    "VERDICT_CODES",
    "Case",
    "onoff",
    # fairness.py
    "jain",
    "maxmin",
    "thread_values",
    # gbench.py
    "gbench_rows",
    "median",
    "strip_gbench_name",
    # patterns.py
    "PATTERNS",
    "PATTERNS_FILE",
    "EXTERNAL",
    "PATTERN_ORDER",
    "WORKLOAD_ORDER",
    "WRITE_ORDER",
    "label",
    "pattern_key",
    "read_patterns",
    "workload_key",
    # values.py
    "as_bool",
    "dig",
    "num",
]
