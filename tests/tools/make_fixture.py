#!/usr/bin/env python3
"""Writes tests/tools/fixtures/run-small/: a small, hand-shaped run directory in
the format the bench harness produces (results/README.md).

The numbers are made up but physical (server-single's p99 collapses under
blocking-tail, thread-per-conn holds a thread per connection, Nagle + delayed ACK
stalls ~44 ms). Latencies are drawn from a seeded generator and stored as loadgen
histograms; every percentile counter is computed from that histogram, so the
counters, the loadgen record and the charts agree exactly. Re-run after changing
the shape; the output is deterministic.

Every case runs REPETITIONS times (section D of the case schema): each repetition
is a full case document with its own histogram and a spread like a real machine's
(req/s within about 2%, CPU per request 3%, tails as the samples fall); the file
holds their medians, [min, max] ranges and per-repetition records, aggregated as
bench/case_file.cpp does. `--repetitions 1` writes a quick-profile run (one
repetition, zero-width ranges).

This file holds the run's shape: which cases, with which numbers. The records of one
repetition are made by fixture_records.py, the run directory by fixture_builder.py.
The tables are read in order, and every case draws from one seeded generator: a row
moved or inserted changes the numbers of every case after it.

    python3 tests/tools/make_fixture.py [OUT_DIR] [--repetitions N]
"""

from __future__ import annotations

import argparse
import os
import sys

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fixture_builder import CPU_SPREAD, RPS_SPREAD, Builder  # noqa: E402
from fixture_records import draw  # noqa: E402

# Requests per repetition of a closed-loop case.
N = 1500

# The closed-loop matrix. Per case: pattern, workload, connections, req/s, median
# latency (us), the server's CPU us, voluntary and involuntary context switches per
# request, peak RSS (KiB), and what else sets it apart:
#   tail=(fraction, us)   that fraction of the requests near us (a sleeping request)
#   accepts=(a, b)        reuseport's accept split between its two loops
#   gen_busy              the generator thread's busy share (0.6)
#   even_window           the window's requests split evenly across the loops
#   foreign=(cpus, s)     other work on the run's CPUs, and steal seconds
#   up                    connections that came up (all of them)
#   source                where the window's figures came from (server-snapshot)
#   errors                read errors
#   cpr                   a new connection per request (churn)
# fmt: off
MATRIX = [
    # tiny: reuseport scales with connections, single saturates its one loop. At one
    # connection single and reuseport are within 3%: their ranges overlap, no ranking.
    ("single",          "tiny",           1,  45210.0,   21,  9.1, 0.9,  0.002,  3000, {}),
    ("thread-per-conn", "tiny",           1,  40115.0,   24, 10.2, 1.0,  0.004,  3400, {}),
    ("reuseport",       "tiny",           1,  44020.0,   22,  9.4, 0.92, 0.003,  3300,
     dict(accepts=(1, 0))),
    ("single",          "tiny",          16, 110400.0,  140,  6.3, 0.04, 0.0,    3000, {}),
    ("thread-per-conn", "tiny",          16,  70250.0,  220, 11.8, 0.97, 0.21,   5200, {}),
    # The fastest at 16 connections, but its generator thread was 97% busy: the rate
    # is the generator's, and the reading must compare CPU per request instead.
    ("reuseport",       "tiny",          16, 150800.0,  100,  6.8, 0.05, 0.01,   3500,
     dict(accepts=(10, 6), gen_busy=0.97, even_window=True)),
    # blocking-tail: 0.5% of requests sleep 10 ms. On the single loop everyone waits.
    ("single",          "blocking-tail", 16,   1480.0, 9500,  7.0, 0.5,  0.01,   3000,
     dict(tail=(0.04, 19500))),
    # Something else ran on the CPUs during this window.
    ("thread-per-conn", "blocking-tail", 16,  14900.0,  180, 12.1, 1.1,  0.2,    5200,
     dict(tail=(0.005, 10200), foreign=(0.12, 0.05))),
    ("reuseport",       "blocking-tail", 16,   2950.0, 4800,  7.2, 0.5,  0.01,   3500,
     dict(tail=(0.03, 14000), accepts=(9, 7))),
    # idle-heavy: 64 connections, mostly idle. thread-per-conn pays a thread each.
    ("single",          "idle-heavy",    64,   3100.0,   60,  8.0, 0.95, 0.01,   3900, {}),
    # Four connections never came up within the bring-up timeout; CPU from /proc ticks.
    ("thread-per-conn", "idle-heavy",    64,   3050.0,   75, 14.5, 1.02, 0.05,  71680,
     dict(up=60, source="proc-stat")),
    ("reuseport",       "idle-heavy",    64,   3095.0,   62,  8.3, 0.96, 0.01,   4100,
     dict(accepts=(40, 24), errors=2)),
    # churn: connect per request; the accept path. No thread-per-conn here.
    ("single",          "churn",         16,  18300.0,  650, 38.0, 1.2,  0.05,   3000,
     dict(cpr=True)),
    ("reuseport",       "churn",         16,  26900.0,  480, 36.5, 1.1,  0.0,    3600,
     dict(accepts=(15000, 11900), cpr=True)),
]
# fmt: on

# The naive blocking server: one client at a time. At 16 keep-alive connections it
# serves the first only (up=1: S4's evidence); over churn it keeps up with single.
# Built last, so the cases above keep the numbers they had before it existed.
# fmt: off
NAIVE = [
    ("iterative", "tiny",   1, 44100.0,  22,  8.6, 1.0, 0.002, 2900, {}),
    ("iterative", "tiny",  16, 44500.0,  21,  8.7, 1.0, 0.002, 2900, dict(up=1)),
    ("iterative", "churn", 16, 18100.0, 700, 37.0, 1.2, 0.05,  2900, dict(cpr=True)),
]
# fmt: on


# Open-loop sweeps, one per workload (ids as bench/cases.cpp writes them): the points of
# each pattern, (offered req/s, latency median us, extra), where extra sets a verdict or
# a noisy repetition: saturated, late (p99 send lateness, us, in every repetition), busy
# (the generator's busy share in every repetition), noisy ({repetition: tail us}).
SWEEPS = {
    # cpu (50 us of work; objective p99 <= 1 ms). single queues past 14k and saturates at
    # 17k. reuseport's lowest point is noisy (another process took the CPU in two of its
    # repetitions: the median p99 is huge) and its top point had the generator sending
    # late: knee 14k+.
    ("single", "cpu", 64): [
        (2000, 70, {}),
        (5000, 75, {}),
        (8000, 90, {}),
        (11000, 130, {}),
        (14000, 260, {}),
        (17000, 22000, {"saturated": True}),
    ],
    ("reuseport", "cpu", 64): [
        (2000, 68, {"noisy": {0: 30000, 1: 30000}}),
        (5000, 72, {}),
        (8000, 85, {}),
        (11000, 120, {}),
        (14000, 230, {}),
        (17000, 380, {"late": 2600}),
    ],
    # tiny (objective 500 us): the generator is the limit first. single saturates at 40k;
    # reuseport's sends were late at 20k and its generator thread busy at 40k.
    ("single", "tiny", 16): [
        (5000, 40, {}),
        (10000, 55, {}),
        (20000, 110, {}),
        (40000, 30000, {"saturated": True}),
    ],
    ("reuseport", "tiny", 16): [
        (5000, 38, {}),
        (10000, 45, {}),
        (20000, 60, {"late": 2600}),
        (40000, 110, {"busy": 0.96}),
    ],
}

# Nagle matrix (a slice of it): split writes with client Nagle on stall on the
# server's delayed ACK (40 ms + one 4 ms tick at HZ=250). Per cell: client nodelay,
# server nodelay, write pattern, quickack, latency median us, stalled fraction, the
# client's and the server's segments (out, in) per request, req/s.
NAGLE = [
    (False, True, "split", False, 43900, 1.0, (2.0, 2.0), (2.0, 2.0), 22.7),
    (False, True, "split", True, 43900, 1.0, (2.0, 1.99), (1.99, 2.0), 22.7),
    (True, True, "split", False, 48, 0.0, (2.0, 1.0), (1.0, 2.0), 19800.0),
    (False, True, "writev", False, 31, 0.0, (1.0, 1.0), (1.0, 1.0), 29500.0),
]

# Nagle's upside: 50 writes of 20 bytes per request. Per case: client nodelay, client
# segments out per request, req/s, latency median us, CPU us per request. Case schema 2
# writes rps and cpu_us_per_req for these (schema 1 left rps at 0).
NAGLE_UPSIDE = [
    (True, 50.0, 9100.0, 105, 31.5),
    (False, 3.2, 14200.0, 68, 9.8),
]


def onoff(x):
    return "on" if x else "off"


def case_info(kind, pattern, workload, conns, *more, **fields):
    """The "case" block of a matrix, sweep or baseline case, with its id and name as
    bench/cases.cpp writes them: kind, pattern, protocol, workload, cN[, more]."""
    parts = [kind, pattern, "frame", workload, f"c{conns}", *more]
    return {
        "id": "-".join(parts),
        "name": "/".join(parts),
        "kind": kind,
        "pattern": pattern,
        "workload": workload,
        "connections": conns,
        **fields,
    }


def peak_threads(pattern, conns):
    """The server's threads: one loop (or the naive server's one thread), a thread per
    connection plus the acceptor, or reuseport's two loops."""
    if pattern in ("single", "iterative"):
        return 1
    return conns + 1 if pattern == "thread-per-conn" else 2


def add_matrix(b, pattern, workload, conns, rps, median, cpu, vcsw, ivcsw, rss, more):
    tail_fraction, tail_us = more.get("tail", (0.0, 0.0))
    accepts, cpr, up = more.get("accepts"), more.get("cpr", False), more.get("up")
    rf, cf = b.spread(RPS_SPREAD), b.spread(CPU_SPREAD)
    info = case_info("matrix", pattern, workload, conns)

    def one(i):
        # Closed loop: latency moves opposite to the rate (Little's law).
        samples = draw(b.rng, N, median / rf[i], tail_fraction=tail_fraction, tail_us=tail_us)
        srv = b.server(
            pattern,
            conns,
            len(samples),
            cpu * cf[i],
            vcsw * cf[i],
            ivcsw * cf[i],
            rss + 40 * i,
            peak_threads(pattern, conns),
            accepts,
            churn=cpr,
            source=more.get("source", "server-snapshot"),
            even_window=more.get("even_window", False),
        )
        return b.rep(
            info,
            samples,
            round(rps * rf[i], 1),
            server=srv,
            errors=more.get("errors", 0),
            foreign=more.get("foreign", (0.008, 0.0)),
            loadgen_kw={
                "connect_per_request": cpr,
                "gen_busy": more.get("gen_busy", 0.6),
                "up": up,
                "bringup_s": 10.0 if up is not None and up < conns else 0.02 + conns / 4000,
            },
        )

    b.case(one)


def add_sweep(
    b,
    pattern,
    workload,
    conns,
    offered,
    median,
    *,
    blocked=0.0,
    sleepers=0.0,
    saturated=False,
    late=None,
    busy=None,
    noisy=None,
):
    """One point of an open-loop sweep. blocked: the fraction of the requests that waits
    behind a sleeping request (blocking-tail's head-of-line blocking); sleepers: the
    fraction that sleeps itself."""
    info = case_info("sweep", pattern, workload, conns, f"r{offered}", offered_rps=offered)
    rf = b.spread((0.997, 1.0, 1.002, 0.999, 1.001))
    lf = b.spread((0.93, 1.0, 1.08, 0.96, 1.04))

    def one(i):
        n = 1000
        tail_frac = blocked * lf[i] + sleepers
        samples = draw(
            b.rng,
            n,
            median * lf[i],
            sigma=0.3,
            tail_fraction=tail_frac,
            tail_us=5000 if blocked else 10000,
            tail_sigma=0.6 if blocked else 0.02,
        )
        if noisy and i in noisy:
            # Another process took the CPU for a few ms in this repetition.
            samples = draw(
                b.rng, n, median, sigma=0.3, tail_fraction=0.05, tail_us=noisy[i], tail_sigma=0.2
            )
        srv = b.server(
            pattern,
            conns,
            len(samples),
            6.0 if workload != "cpu" else 58.0,
            0.3,
            0.01,
            3500,
            peak_threads(pattern, conns),
        )
        achieved = round(offered * (0.962 if saturated else 0.999) * rf[i], 1)
        return b.rep(
            info,
            samples,
            achieved,
            server=srv,
            foreign=(0.09, 0.0) if noisy and i in noisy else (0.008, 0.0),
            loadgen_kw={
                "gen_busy": 0.35 if busy is None else busy,
                "lateness_p99": 240 if late is None else late,
                "unsent": 1200 if saturated else 0,
            },
        )

    b.case(one)


def add_nagle(b, cnd, snd, wp, qa, median, stall_frac, segs, srv_segs, rps):
    info = {
        "id": f"nagle-c{onoff(cnd)}-s{onoff(snd)}-{wp}-qa{onoff(qa)}",
        "name": f"nagle/single/frame/c_nodelay={onoff(cnd)}/s_nodelay={onoff(snd)}/{wp}/quickack={onoff(qa)}",
        "kind": "nagle",
        "pattern": "single",
        "workload": "nagle",
        "connections": 1,
        "client_nodelay": cnd,
        "server_nodelay": snd,
        "write_pattern": wp,
        "quickack": qa,
    }
    rf = b.spread(RPS_SPREAD)

    def one(i):
        n = 240
        samples = draw(
            b.rng, n, median, sigma=0.2, tail_fraction=stall_frac, tail_us=43900, tail_sigma=0.01
        )
        stalls = sum(1 for v in samples if v >= 30000)
        return b.rep(
            info,
            samples,
            round(rps * rf[i], 1),
            extra_counters={
                "stalls": stalls,
                "stall_fraction": round(stalls / n, 4),
                "segs_out_per_req": segs[0],
                "segs_in_per_req": segs[1],
                "srv_segs_out_per_req": srv_segs[0],
                "srv_segs_in_per_req": srv_segs[1],
            },
            # The Nagle request: a 10-byte write, then the other 100 bytes (32-byte header + 78).
            loadgen_kw={
                "nodelay": cnd,
                "write_mode": wp,
                "quickack": qa,
                "segs": segs,
                "request_size": 78,
                "split_at": 10,
            },
        )

    b.case(one)


def add_nagle_upside(b, cnd, segs, rps, median, cpu):
    info = {
        "id": f"nagle-upside-c{onoff(cnd)}",
        "name": f"nagle-upside/single/frame/c_nodelay={onoff(cnd)}",
        "kind": "nagle-upside",
        "pattern": "single",
        "workload": "many-small-writes",
        "connections": 1,
        "client_nodelay": cnd,
        "write_pattern": "split",
    }
    rf, cf = b.spread(RPS_SPREAD), b.spread(CPU_SPREAD)
    b.case(
        lambda i: b.rep(
            info,
            draw(b.rng, N, median / rf[i]),
            round(rps * rf[i], 1),
            extra_counters={
                "segs_out_per_req": segs,
                "segs_in_per_req": 1.0,
                "srv_segs_out_per_req": 1.0,
                "srv_segs_in_per_req": segs,
                "cpu_us_per_req": round(cpu * cf[i], 3),
            },
            loadgen_kw={"nodelay": cnd, "write_mode": "split", "segs": (segs, 1.0)},
        )
    )


def build(out, repetitions=3):
    b = Builder(out, repetitions)
    for row in MATRIX:
        add_matrix(b, *row)
    for (pattern, workload, conns), points in SWEEPS.items():
        for offered, median, extra in points:
            add_sweep(b, pattern, workload, conns, offered, median, **extra)
    # blocking-tail (objective 1 ms): 0.5% of requests sleep 10 ms. On server-single a
    # sleeping request stops the only loop, so at R req/s 0.005 x R x 10 ms of every
    # second is spent asleep and that share of everyone's requests waits behind it;
    # reuseport's two loops halve it; thread-per-conn only delays the sleepers.
    for offered in (500, 1000, 2000, 4000):
        asleep = 0.005 * offered * 0.010
        add_sweep(b, "single", "blocking-tail", 16, offered, 80, blocked=asleep, sleepers=0.005)
        add_sweep(b, "thread-per-conn", "blocking-tail", 16, offered, 95, sleepers=0.005)
        add_sweep(
            b, "reuseport", "blocking-tail", 16, offered, 82, blocked=asleep / 2, sleepers=0.005
        )

    # The loopback floor: blocking ping-pong, one connection.
    base_info = case_info("baseline", "pingpong", "tiny", 1)
    bf = b.spread(RPS_SPREAD)
    b.case(
        lambda i: b.rep(
            base_info, draw(b.rng, N, 18 / bf[i], sigma=0.15), round(52000.0 * bf[i], 1)
        )
    )

    for cell in NAGLE:
        add_nagle(b, *cell)
    for case in NAGLE_UPSIDE:
        add_nagle_upside(b, *case)
    for row in NAIVE:
        add_matrix(b, *row)
    b.write()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=os.path.join(HERE, "fixtures", "run-small"))
    ap.add_argument(
        "--repetitions", type=int, default=3, help="repetitions per case (1: a quick-profile run)"
    )
    args = ap.parse_args()
    build(args.out, args.repetitions)
