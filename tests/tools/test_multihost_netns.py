#!/usr/bin/env python3
"""Load from several client hosts, with network namespaces as the hosts: one server
namespace and two client namespaces on a bridge (bench/multihost_netns.sh), the
multi-host path of tools/run-bench through `ip netns exec {host}`, and then:

- the merged record's request count is the sum of the two hosts';
- the merged p99 is the p99 of the union of both hosts' samples, computed here from
  their histogram buckets (not by loadgen);
- the two measured windows opened within 10 ms of each other;
- REPORT.md has a row for each host and the merged row.

Skips (exit status 77, which ctest reports as skipped) with the reason where the
namespaces cannot be created: not root, no ip(8), no namespaces or bridges.
The namespaces are named after this process's PID and removed whatever happens.

    python3 tests/tools/test_multihost_netns.py BUILD_DIR
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "bench", "multihost_netns.sh")
SKIP = 77
# Light open-loop load: the generators stay far from busy on a 2-CPU machine.
LOADGEN_ARGS = ["-c", "8", "-R", "2000", "-d", "2s", "--warmup", "300ms"]


def skip(reason: str) -> int:
    print(f"test_multihost_netns: skipped: {reason}")
    return SKIP


def step_top(value: int) -> int:
    """The highest value of the histogram step whose lowest value is `value` (ns):
    values under 2048 ns have steps of 1; [1024 * 2^b, 2048 * 2^b) has steps of 2^b."""
    if value < 2048:
        return value
    width = 1 << (value.bit_length() - 1 - 10)
    return value + width - 1


def union_p99_ns(latencies: list[dict]) -> int:
    """p99 of every sample of every histogram: the smallest value with at least 99% of
    the samples at or below it, at the top of its step, never above the largest sample."""
    counts: dict[int, int] = {}
    for lat in latencies:
        assert lat["histogram"]["unit"] == "ns", lat["histogram"]["unit"]
        for value, count in lat["histogram"]["buckets"]:
            counts[value] = counts.get(value, 0) + count
    total = sum(counts.values())
    assert total > 0, "no samples"
    wanted = min(max(math.ceil(0.99 * total - 1e-9), 1), total)
    largest = max(round(lat["max"] * 1000) for lat in latencies)
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= wanted:
            return min(step_top(value), largest)
    return largest


def check(run_dir: str) -> list[str]:
    """The failures found in a finished run directory (empty: all good)."""
    failures = []
    hosts = sorted(glob.glob(os.path.join(run_dir, "loadgen-*.json")))
    if len(hosts) != 2:
        return [f"expected 2 per-host records, found {hosts}"]
    records = []
    for path in hosts:
        with open(path, encoding="utf-8") as f:
            records.append(json.load(f))
    with open(os.path.join(run_dir, "merged.json"), encoding="utf-8") as f:
        merged = json.load(f)

    counts = [r["requests"] for r in records]
    if min(counts) <= 0:
        failures.append(f"a host measured no requests: {counts}")
    if merged["requests"] != sum(counts):
        failures.append(f"merged requests {merged['requests']} != sum of hosts {counts}")
    if merged["latency_us"]["count"] != sum(r["latency_us"]["count"] for r in records):
        failures.append("merged latency count is not the sum of the hosts'")

    expected = union_p99_ns([r["latency_us"] for r in records])
    got = round(merged["latency_us"]["p99"] * 1000)
    if got != expected:
        failures.append(f"merged p99 {got} ns, p99 of the union of the samples {expected} ns")
    print(
        f"requests {counts} -> {merged['requests']}; p99 per host "
        f"{[r['latency_us']['p99'] for r in records]} us, merged {merged['latency_us']['p99']} us, "
        f"union of the buckets {expected / 1000} us"
    )

    starts = [r.get("window_start") for r in records]
    if any(s is None for s in starts):
        failures.append(f"a record has no window_start: {starts}")
    else:
        skew_ms = abs(starts[0] - starts[1]) * 1e3
        print(f"window starts {starts}: {skew_ms:.3f} ms apart")
        if skew_ms > 10.0:
            failures.append(f"the windows opened {skew_ms:.3f} ms apart (over 10 ms)")

    report_path = os.path.join(run_dir, "REPORT.md")
    with open(report_path, encoding="utf-8") as f:
        report = f.read()
    rows = [line for line in report.splitlines() if line.startswith("| ")]
    for name in [os.path.basename(h)[len("loadgen-") : -len(".json")] for h in hosts]:
        host = name.split("-", 1)[1]
        if not any(line.startswith(f"| {host} |") for line in rows):
            failures.append(f"REPORT.md has no row for {host}")
    if not any(line.startswith("| **merged**") for line in rows):
        failures.append("REPORT.md has no merged row")
    if f"| **{merged['requests']:,}** |" not in report:
        failures.append("REPORT.md's merged row does not show the merged request count")
    return failures


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        return skip("not root (network namespaces need CAP_SYS_ADMIN)")
    if shutil.which("ip") is None:
        return skip("no ip(8) (Debian: iproute2)")
    for binary in ("loadgen/loadgen", "servers/server-reuseport"):
        if not os.access(os.path.join(build, binary), os.X_OK):
            print(f"test_multihost_netns: {build}/{binary} is not built", file=sys.stderr)
            return 1

    prefix = f"pbt{os.getpid()}"
    results = tempfile.mkdtemp(prefix="pb-multihost-test-")
    try:
        proc = subprocess.run(
            [SCRIPT, build, results, "--", *LOADGEN_ARGS],
            env={**os.environ, "PB_NETNS_PREFIX": prefix},
            capture_output=True,
            text=True,
            timeout=60,
        )
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        if proc.returncode == SKIP:
            return skip(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "")
        if proc.returncode != 0:
            print(f"test_multihost_netns: the run exited with {proc.returncode}", file=sys.stderr)
            return 1
        runs = glob.glob(os.path.join(results, "*-multihost"))
        if len(runs) != 1:
            print(f"test_multihost_netns: expected one run directory, got {runs}", file=sys.stderr)
            return 1
        failures = check(runs[0])
        for f in failures:
            print(f"FAIL: {f}", file=sys.stderr)
        if failures:
            with open(os.path.join(runs[0], "REPORT.md"), encoding="utf-8") as f:
                sys.stderr.write(f.read())
            return 1
        print("test_multihost_netns: passed")
        return 0
    finally:
        # The script removes them on its way out; this covers a script killed on the way.
        for ns in (f"{prefix}-srv", f"{prefix}-a", f"{prefix}-b"):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(results, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
