"""Builder: a fixture run directory from cases built one repetition at a time. It
aggregates each case's repetitions as bench/case_file.cpp does, shuffles the run order
as the harness does, and writes cases/, gbench.json, run.json and sysinfo.json as the
harness writes them (make_fixture.py)."""

from __future__ import annotations

import json
import os
import random
import shutil

from fixture_records import (
    VERDICT_CODE,
    draw,
    fairness,
    loadgen_record,
    server_threads,
    window_threads,
)  # (also puts tools/ on sys.path)
from pbtools.files import write_atomic  # noqa: E402

# Per-repetition multipliers of the rate: a 2-3% spread, as repeated runs on a quiet
# 2-CPU machine give. Their order is shuffled per case.
RPS_SPREAD = (0.982, 1.0, 1.019, 0.991, 1.012)
CPU_SPREAD = (0.97, 1.0, 1.03, 0.985, 1.015)
SEED = 20250115


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def aggregate(reps, run_order):
    """bench/case_file.cpp aggregate_repetitions(): medians, ranges, the repetition of
    record (median rps, lower middle), each repetition's own record."""
    by_rps = sorted((r["counters"].get("rps", -1.0), i) for i, r in enumerate(reps))
    rec = by_rps[(len(by_rps) - 1) // 2][1]
    doc = dict(reps[rec])
    names = []
    for r in reps:
        for k in r["counters"]:
            if k not in names:
                names.append(k)
    counters, ranges = {}, {}
    for k in names:
        xs = [r["counters"][k] for r in reps if isinstance(r["counters"].get(k), (int, float))]
        if xs:
            counters[k] = median(xs)
            ranges[k] = [min(xs), max(xs)]
    doc["counters"] = counters
    doc["ranges"] = ranges
    doc["repetitions"] = [
        {
            "index": i,
            "run_order": run_order[i],
            "counters": r["counters"],
            "verdict": r["verdict"],
            "measurement": r["measurement"],
            "window": (r.get("server") or {}).get("window"),
        }
        for i, r in enumerate(reps)
    ]
    doc["repetition_of_record"] = rec
    return doc


class Builder:
    def __init__(self, out, repetitions=3):
        self.out = out
        self.reps = repetitions
        self.rng = random.Random(SEED)
        self.cases = []  # aggregated case documents
        self.runs = []  # (case index, repetition) in the order they "ran"

    def spread(self, table):
        """This case's per-repetition multipliers, in a shuffled order."""
        xs = (
            list(table[: self.reps])
            if self.reps <= len(table)
            else [table[i % len(table)] for i in range(self.reps)]
        )
        if self.reps == 1:
            return [1.0]
        self.rng.shuffle(xs)
        return xs

    def case(self, make):
        """make(i) -> one repetition's document (from rep()); aggregated into one case."""
        reps = [make(i) for i in range(self.reps)]
        self.cases.append(reps)

    def rep(
        self,
        info,
        samples,
        rps,
        *,
        server=None,
        extra_counters=None,
        errors=0,
        loadgen_kw=None,
        foreign=(0.008, 0.0),
        snapshot_delay=(62, 71),
    ):
        kw = dict(loadgen_kw or {})
        kw.setdefault(
            "recv_delay", draw(self.rng, 200, 9, sigma=0.4, tail_fraction=0.02, tail_us=120)
        )
        lg = loadgen_record(
            samples, rps, info["connections"], errors=errors, offered=info.get("offered_rps"), **kw
        )
        lat = lg["latency_us"]
        kind = lg["verdict"]["kind"]
        counters = {
            "rps": rps,
            "p50_us": lat["p50"],
            "p99_us": lat["p99"],
            "p999_us": lat["p99.9"],
            "errors": errors,
            "generator_bound": 1 if lg["generator"]["bound"] else 0,
            "gen_busy": lg["generator"]["max_thread_busy"],
            "foreign_cpu": foreign[0],
            "verdict_code": VERDICT_CODE[kind],
        }
        if info.get("offered_rps"):
            counters["offered_rps"] = info["offered_rps"]
        if server:
            req = lg["requests"]
            counters.update(
                {
                    "cpu_us_per_req": round(server["cpu_us"] / req, 4),
                    "vcsw_per_req": round(server["vcsw"] / req, 4),
                    "ivcsw_per_req": round(server["ivcsw"] / req, 4),
                    "peak_rss_kb": server["peak_rss_kb"],
                    "peak_threads": server["peak_threads"],
                }
            )
            ts = server["window"]["per_thread"]
            counters["jain_requests"], counters["maxmin_requests"] = fairness(ts, "requests")
            counters["jain_accepts"], counters["maxmin_accepts"] = fairness(ts, "accepted")
            counters = {k: v for k, v in counters.items() if v is not None}
        counters.update(extra_counters or {})
        window_s = 2.0
        measurement = {
            "snapshot_delay_us": list(snapshot_delay),
            "harness_cost_us": [118, 131],
            "connections_up": lg.get("bringup", {}).get("up", info["connections"]),
            "connections": info["connections"],
            "foreign": {
                "cpu_s": round(foreign[0] * window_s, 4),
                "cpus": foreign[0],
                "steal_s": foreign[1],
                "irq_s": 0.002,
                "flag": foreign[0] > 0.05,
                "note": "CPU time of the run's CPUs not used by the server, generator or harness",
            },
        }
        base = {
            "id": None,
            "name": None,
            "kind": None,
            "pattern": None,
            "protocol": "frame",
            "workload": None,
            "connections": None,
            "offered_rps": None,
            "client_nodelay": True,
            "server_nodelay": True,
            "write_pattern": "single",
            "quickack": False,
        }
        base.update(info)
        return {
            "schema": "patternbench.case/2",
            "case": base,
            "counters": counters,
            "verdict": dict(lg["verdict"]),
            "measurement": measurement,
            "loadgen": lg,
            "server": server,
        }

    def server(
        self,
        pattern,
        conns,
        requests,
        cpu_per_req,
        vcsw,
        ivcsw,
        rss,
        threads,
        accepts=None,
        churn=False,
        source="server-snapshot",
        even_window=False,
    ):
        lifetime = server_threads(pattern, conns, requests, accepts)
        stats = {
            "schema": "patternbench.server-stats/1",
            "pattern": pattern,
            "protocol": "frame",
            "peak_threads": threads,
            "wall_seconds": 2.5,
            "threads": lifetime,
        }
        per_thread = window_threads(pattern, lifetime, churn, even_window)
        window = {
            "seconds": 2.0,
            "cpu_us": round(cpu_per_req * requests, 1),
            "vcsw": round(vcsw * requests),
            "ivcsw": round(ivcsw * requests),
            "requests": requests,
            "accepted": sum(t["accepted"] for t in per_thread),
            "per_thread": per_thread,
            "source": source,
        }
        return {
            "stats": stats,
            "cpu_us": round(cpu_per_req * requests),
            "vcsw": round(vcsw * requests),
            "ivcsw": round(ivcsw * requests),
            "peak_rss_kb": rss,
            "peak_threads": threads,
            "accounting": "window",
            "window": window,
        }

    def write(self):
        if os.path.isdir(self.out):
            shutil.rmtree(self.out)
        os.makedirs(os.path.join(self.out, "cases"))
        # One shuffled order of every (case, repetition), as the harness runs them.
        runs = [(i, r) for i in range(len(self.cases)) for r in range(self.reps)]
        random.Random(SEED).shuffle(runs)
        order = {run: k for k, run in enumerate(runs)}
        docs = [
            aggregate(reps, [order[(i, r)] for r in range(len(reps))])
            for i, reps in enumerate(self.cases)
        ]
        for c in docs:
            dump(os.path.join(self.out, "cases", c["case"]["id"] + ".json"), c)
        benchmarks = []
        for i, reps in enumerate(self.cases):
            for r, rep in enumerate(reps):
                name = rep["case"]["name"]
                row = {
                    "name": name,
                    "family_index": i,
                    "per_family_instance_index": 0,
                    "run_name": name,
                    "run_type": "iteration",
                    "repetitions": self.reps,
                    "repetition_index": r,
                    "threads": 1,
                    "iterations": 1,
                    "real_time": 2.0e9,
                    "cpu_time": 1.0e7,
                    "time_unit": "ns",
                }
                row.update(rep["counters"])
                benchmarks.append(row)
        # A case the harness could not run: it has a gbench row but no case file.
        benchmarks.append(
            {
                "name": "matrix/reuseport/frame/cpu/c16",
                "run_name": "matrix/reuseport/frame/cpu/c16",
                "run_type": "iteration",
                "error_occurred": True,
                "error_message": "server exited before listening",
                "iterations": 0,
                "real_time": 0,
                "cpu_time": 0,
                "time_unit": "ns",
            }
        )
        gbench = {
            "context": {
                "date": "2025-01-15T10:00:00+00:00",
                "host_name": "fixture",
                "executable": "build/bench/patternbench",
                "num_cpus": 2,
                "mhz_per_cpu": 2000,
                "cpu_scaling_enabled": False,
                "library_build_type": "release",
                "caches": [],
                "load_avg": [0.1, 0.1, 0.1],
            },
            "benchmarks": benchmarks,
        }
        dump(os.path.join(self.out, "gbench.json"), gbench)
        profile = "small" if self.reps > 1 else "quick"
        dump(
            os.path.join(self.out, "run.json"),
            {
                "profile": profile,
                "started": "2025-01-15T10:00:00Z",
                "finished": "2025-01-15T10:12:05Z",
                "wall_seconds": 725.3,
                "command": f"build/bench/patternbench --profile {profile} "
                f"--repetitions {self.reps} --seed 7301",
                "server_cpus": "0",
                "client_cpus": "1",
                "placement_reason": "2 CPUs: server and load generator each get one, so neither steals the other's CPU",
                "cases": len(self.cases),
                "runs": len(runs),
                "repetitions": self.reps,
                "seed": 7301,
            },
        )
        dump(
            os.path.join(self.out, "sysinfo.json"),
            {
                "schema": "patternbench.sysinfo/1",
                "collected_at": "2025-01-15T10:00:00Z",
                "hostname": "fixture",
                "kernel": {
                    "sysname": "Linux",
                    "release": "6.1.0-fixture",
                    "version": "#1 SMP",
                    "machine": "x86_64",
                },
                "os": "Debian GNU/Linux 12 (bookworm)",
                "cpu": {
                    "model": "Fixture CPU @ 2.00GHz",
                    "logical": 2,
                    "physical_cores": 2,
                    "sockets": 1,
                    "online": "0-1",
                    "affinity": [0, 1],
                    "governor": None,
                },
                "memory": {"total_kb": 4030000, "available_kb": 3500000},
                "placement": {"server_cpus": "0", "client_cpus": "1", "reason": "one CPU each"},
                "sysctls": {
                    "net.core.somaxconn": 4096,
                    "net.ipv4.tcp_tw_reuse": 2,
                    "net.ipv4.ip_local_port_range": "32768\t60999",
                    "net.ipv4.tcp_max_syn_backlog": 512,
                    "net.core.netdev_max_backlog": 1000,
                    "fs.file-max": 9223372036854775807,
                    "net.ipv4.tcp_autocorking": 1,
                },
                "kernel_hz": {"value": 250, "source": "/boot/config-6.1.0-fixture"},
                "limits": {"nofile_soft": 1048576, "nofile_hard": 1048576},
                "tools": {"gnuplot": "gnuplot 5.4 patchlevel 4", "python3": "3.11.2"},
            },
        )


def dump(path, obj):
    """JSON as the loadgen writes it: indented, but each histogram's bucket list
    on one line."""
    flat = {}

    def strip(o):
        if isinstance(o, dict):
            return {k: (_token(flat, v) if k == "buckets" else strip(v)) for k, v in o.items()}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o

    text = json.dumps(strip(obj), indent=1)
    for token, value in flat.items():
        text = text.replace(f'"{token}"', json.dumps(value, separators=(",", ":")))
    write_atomic(path, text + "\n")


def _token(flat, value):
    token = f"@@buckets{len(flat)}@@"
    flat[token] = value
    return token
