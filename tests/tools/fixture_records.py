"""The records of one repetition of a fixture case, as the harness's parts write them:
the loadgen's record (latency histogram, verdict, bring-up, open-loop figures) and
the server's per-thread stats with the window's share of them (make_fixture.py)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))

from pbtools import hdr  # noqa: E402

PERCENTILES = [
    ("p50", 50.0),
    ("p75", 75.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("p99.99", 99.99),
    ("p99.999", 99.999),
]


def latency_object(samples):
    h = hdr.Histogram([(v, 1) for v in samples], max(samples), min(samples))
    obj = {"count": h.total, "min": min(samples)}
    for key, p in PERCENTILES:
        obj[key] = h.value_at_percentile(p)
    obj["max"] = max(samples)
    mids = [((v + hdr.highest_equivalent(v)) / 2, c) for v, c in h.steps]
    mean = sum(m * c for m, c in mids) / h.total
    obj["mean"] = round(mean, 3)
    obj["stdev"] = round((sum((m - mean) ** 2 * c for m, c in mids) / h.total) ** 0.5, 3)
    obj["histogram"] = {
        "unit": "us",
        "lowest": 1,
        "highest": 3600000000,
        "significant_digits": 3,
        "saturated": 0,
        "buckets": hdr.to_buckets(samples),
    }
    return obj


def draw(rng, n, median, sigma=0.25, tail_fraction=0.0, tail_us=0.0, tail_sigma=0.05):
    """n latencies: a lognormal body around `median`, plus a tail_fraction of
    requests near tail_us (the slow downstream call, or the Nagle stall)."""
    out = []
    for _ in range(n):
        if rng.random() < tail_fraction:
            out.append(max(1, int(tail_us * rng.lognormvariate(0, tail_sigma))))
        else:
            out.append(max(1, int(median * rng.lognormvariate(0, sigma))))
    return out


MAX_LATENESS_US = 1000


def verdict_of(gen_busy, offered, achieved, lateness_p99):
    """The loadgen's verdict rules (loadgen/README.md): busy first, then late, then saturated."""
    if gen_busy > 0.90:
        return "generator-busy", f"a generator thread was {100 * gen_busy:.0f}% busy (> 90%)"
    if offered and lateness_p99 > MAX_LATENESS_US:
        return (
            "generator-late",
            f"p99 send lateness {lateness_p99} us over the {MAX_LATENESS_US} us bound",
        )
    if offered and achieved < 0.99 * offered:
        return (
            "server-saturated",
            f"achieved {achieved:.0f} req/s, under 99% of the planned {offered}",
        )
    return "ok", ""


VERDICT_CODE = {"ok": 0, "server-saturated": 1, "generator-late": 2, "generator-busy": 3}


def loadgen_record(
    samples,
    rps,
    conns,
    *,
    errors=0,
    offered=None,
    nodelay=True,
    write_mode="single",
    quickack=False,
    segs=(1.0, 1.0),
    connect_per_request=False,
    request_size=64,
    split_at=0,
    gen_busy=0.3,
    lateness_p99=250,
    unsent=0,
    up=None,
    bringup_s=0.02,
    recv_delay=None,
):
    requests = len(samples)
    lat = latency_object(samples)
    kind, reason = verdict_of(gen_busy, offered, rps, lateness_p99)
    rec = {
        "schema": "patternbench-loadgen",
        "schema_version": 2,
        "tool": "loadgen",
        "started_at": "2025-01-15T10:00:00Z",
        "runs": 1,
        "host": {
            "hostname": "fixture",
            "kernel": "Linux 6.1.0",
            "cpu_model": "Fixture CPU",
            "cpus": 2,
        },
        "config": {
            "target": "127.0.0.1:40000",
            "connections": conns,
            "threads": 1,
            "duration": "2s",
            "rate": offered or 0,
            "protocol": "frame",
            "request_size": request_size,
            "response_size": 64,
            "connect_per_request": connect_per_request,
            "nodelay": nodelay,
            "write_mode": write_mode,
            "split_at": split_at,
            "quickack": quickack,
        },
        "threads": 1,
        "mode": "open" if offered else "closed",
        "duration_s": round(requests / rps, 6),
        "requests": requests,
        "throughput_rps": rps,
        "sent": requests,
        "dropped": 0,
        "errors": {
            "connect": 0,
            "read": errors,
            "write": 0,
            "timeout": 0,
            "protocol": 0,
            "verify": 0,
            "status": 0,
            "total": errors,
        },
        "error_samples": ["read: connection reset by peer"] if errors else [],
        "ok": errors == 0,
        "open_loop": None,
        "latency_us": lat,
        "uncorrected_latency_us": lat,
        "fast_latency_us": None,
        "connect_latency_us": None,
        "first_byte_latency_us": None,
        "tcp_info": {
            "segs_out": round(segs[0] * requests),
            "segs_in": round(segs[1] * requests),
            "retransmits": 0,
            "connections": conns,
            "segs_out_per_request": segs[0],
            "segs_in_per_request": segs[1],
        },
        "generator": {
            "cpu_seconds": round(2 * gen_busy, 3),
            "max_thread_busy": gen_busy,
            "saturated": gen_busy > 0.95,
            "bound": gen_busy > 0.90,
        },
        "verdict": {"kind": kind, "reason": reason},
    }
    if recv_delay:
        rec["generator"]["recv_delay_us"] = latency_object(recv_delay)
    if not connect_per_request:
        up = conns if up is None else up
        rec["bringup"] = {
            "connections": conns,
            "up": up,
            "seconds": bringup_s,
            "complete": up == conns,
        }
    if offered:
        rec["open_loop"] = {
            "target_rps": offered,
            "achieved_rps": rps,
            "arrival": "uniform",
            "unsent": unsent,
            "unsent_recorded": True,
            "could_not_keep_up": kind != "ok",
            "reason": reason,
            "max_lateness_us": MAX_LATENESS_US,
            "lateness_us": {
                "count": requests,
                "p50": lateness_p99 // 5,
                "p99": lateness_p99,
                "max": lateness_p99 * 2,
            },
        }
    return rec


def server_threads(pattern, conns, requests, accepts_split=None):
    if pattern in ("single", "iterative"):
        return [{"role": "loop", "accepted": conns, "requests": requests}]
    if pattern == "reuseport":
        a = accepts_split or (conns - conns // 3, conns // 3)
        share = [round(requests * x / sum(a)) for x in a]
        return [
            {"role": "loop", "accepted": a[0], "requests": share[0]},
            {"role": "loop", "accepted": a[1], "requests": requests - share[0]},
        ]
    if pattern == "thread-per-conn":
        per = requests // conns
        threads = [{"role": "acceptor", "accepted": conns, "requests": 0}]
        for i in range(conns):
            threads.append(
                {
                    "role": "connection",
                    "accepted": 0,
                    "requests": per + (requests - per * conns if i == 0 else 0),
                }
            )
        return threads
    raise ValueError(pattern)


def window_threads(pattern, threads, churn, even=False):
    """server.window.per_thread: the window's deltas. Keep-alive connections came up
    before the window (bring-up), so only churn accepts inside it. Thread-per-conn's
    connection threads are one summed entry. even: the window's requests split evenly
    (the lifetime's warm-up skew left out)."""
    out = []
    conn = [t for t in threads if t["role"] == "connection"]
    rest = [t for t in threads if t["role"] != "connection"]
    for i, t in enumerate(rest):
        out.append(
            {
                "id": i,
                "role": t["role"],
                "requests": t["requests"],
                "accepted": t["accepted"] if churn else 0,
            }
        )
    if conn:
        out.append(
            {
                "id": len(rest),
                "role": "connection",
                "requests": sum(t["requests"] for t in conn),
                "accepted": 0,
            }
        )
    if even:
        total = sum(t["requests"] for t in out)
        workers = [t for t in out if t["requests"] > 0]
        for t in workers:
            t["requests"] = total // len(workers)
        workers[0]["requests"] += total - sum(t["requests"] for t in workers)
    return out


def jain(xs):
    s = sum(xs)
    q = sum(x * x for x in xs)
    return s * s / (len(xs) * q) if q else None


def fairness(threads, key):
    """The harness's rule: only roles that do the work; absent below two threads."""
    roles = {t["role"] for t in threads if t[key] > 0}
    xs = [t[key] for t in threads if t["role"] in roles]
    if len(xs) < 2:
        return None, None
    j = jain(xs)
    mm = max(xs) / min(xs) if min(xs) > 0 else None
    return round(j, 4) if j else None, round(mm, 4) if mm else None
