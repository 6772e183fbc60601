"""tools/sysinfo: the facts about this machine that change benchmark numbers, as
JSON on stdout (written by the bench harness into each run as sysinfo.json).

Everything is read from /proc, /sys and a few --version calls; anything that
cannot be read is null rather than a guess, except the kernel tick rate, which is
estimated from jiffies when no kernel config is available and says so.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import gzip
import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import time

from .files import write_atomic

SYSCTLS = [
    "net.core.somaxconn",  # caps every listen() backlog
    "net.ipv4.tcp_max_syn_backlog",  # half-open connections per listener
    "net.core.netdev_max_backlog",
    "net.ipv4.tcp_tw_reuse",  # churn: reusing TIME_WAIT ports for new connects
    "net.ipv4.ip_local_port_range",  # churn: how many client ports exist
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_autocorking",  # the kernel's own small-write coalescing (Nagle experiments)
    "net.ipv4.tcp_slow_start_after_idle",
    "net.core.rmem_max",
    "net.core.wmem_max",
    "fs.file-max",
    "fs.nr_open",
    "kernel.threads-max",  # thread-per-conn at many connections
    "vm.max_map_count",  # one stack mapping per thread
]
HZ_CHOICES = (100, 250, 300, 1000)


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def sysctl(name: str):
    v = read("/proc/sys/" + name.replace(".", "/"))
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        return v


def run(cmd, timeout=5) -> str | None:
    """First non-empty output line of a command, or None if it is missing or fails."""
    if not shutil.which(cmd[0]):
        return None
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    for line in (r.stdout + "\n" + r.stderr).splitlines():
        if line.strip():
            return line.strip()
    return None


def cpu_info() -> dict:
    text = read("/proc/cpuinfo") or ""
    model = None
    mhz = None
    physical = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("model name", "Processor", "cpu model") and model is None:
            model = value
        elif key == "cpu MHz" and mhz is None:
            try:
                mhz = float(value)
            except ValueError:
                pass
    # Physical cores: distinct (package, core) pairs from sysfs topology.
    for d in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/topology"):
        pkg, core = read(d + "/physical_package_id"), read(d + "/core_id")
        if pkg is not None and core is not None:
            physical.add((pkg, core))
    try:
        affinity = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "model": model or platform.processor() or None,
        "logical": os.cpu_count(),
        "physical_cores": len(physical) or None,
        "sockets": len({p for p, _ in physical}) or None,
        "online": read("/sys/devices/system/cpu/online"),
        "affinity": affinity,
        "mhz": mhz,
        "governor": read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "smt": read("/sys/devices/system/cpu/smt/active"),
    }


def memory_info() -> dict:
    out = {"total_kb": None, "available_kb": None}
    for line in (read("/proc/meminfo") or "").splitlines():
        m = re.match(r"(MemTotal|MemAvailable):\s+(\d+)", line)
        if m:
            out["total_kb" if m.group(1) == "MemTotal" else "available_kb"] = int(m.group(2))
    return out


def config_hz(text: str) -> int | None:
    m = re.search(r"^CONFIG_HZ=(\d+)", text, re.M)
    return int(m.group(1)) if m else None


def jiffies() -> int | None:
    m = re.search(r"^jiffies:\s*(\d+)", read("/proc/timer_list") or "", re.M)
    return int(m.group(1)) if m else None


def kernel_hz(release: str) -> dict:
    """CONFIG_HZ, which sets the delayed-ACK timer's granularity (the Nagle stall
    is 40 ms rounded up to a tick). From the kernel's config if it is installed,
    else estimated by counting jiffies over a short sleep."""
    own = read(f"/boot/config-{release}")
    if own and config_hz(own):
        return {"value": config_hz(own), "source": f"/boot/config-{release}"}
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            hz = config_hz(f.read())
        if hz:
            return {"value": hz, "source": "/proc/config.gz"}
    except OSError:
        pass
    j0, t0 = jiffies(), time.monotonic()
    if j0 is not None:
        time.sleep(0.5)
        j1, t1 = jiffies(), time.monotonic()
        if j1 is not None and j1 > j0:
            rate = (j1 - j0) / (t1 - t0)
            hz = min(HZ_CHOICES, key=lambda h: abs(h - rate))
            return {
                "value": hz,
                "source": f"estimated from /proc/timer_list jiffies ({rate:.0f}/s)",
            }
    return {"value": None, "source": "unknown"}


def os_name() -> str | None:
    for line in (read("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return None


def tool_versions() -> dict:
    def dpkg(pkg):
        v = run(["dpkg-query", "-W", "-f=${Version}", pkg])
        return v if v and "no packages" not in v.lower() else None

    return {
        "gnuplot": run(["gnuplot", "--version"]),
        "cmake": run(["cmake", "--version"]),
        "c++": run(["c++", "--version"]),
        "clang++": run(["clang++", "--version"]),
        "python3": platform.python_version(),
        "wrk": run(["wrk", "--version"]),
        "libbenchmark-dev": dpkg("libbenchmark-dev"),
        "catch2": dpkg("catch2"),
        "libfmt-dev": dpkg("libfmt-dev"),
        "libcli11-dev": dpkg("libcli11-dev"),
    }


def git_info() -> dict | None:
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    commit = run(["git", "-C", repo, "rev-parse", "HEAD"])
    if not commit or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return None
    try:
        r = subprocess.run(
            ["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = bool(r.stdout.strip()) if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        dirty = None
    return {"commit": commit, "dirty": dirty}


def collect(server_cpus=None, client_cpus=None, reason=None) -> dict:
    u = platform.uname()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc_soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)

    def lim(v):
        return None if v == resource.RLIM_INFINITY else v

    return {
        "schema": "patternbench.sysinfo/1",
        "collected_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hostname": socket.gethostname(),
        "kernel": {
            "sysname": u.system,
            "release": u.release,
            "version": u.version,
            "machine": u.machine,
        },
        "os": os_name(),
        "cpu": cpu_info(),
        "memory": memory_info(),
        "placement": {"server_cpus": server_cpus, "client_cpus": client_cpus, "reason": reason},
        "sysctls": {name: sysctl(name) for name in SYSCTLS},
        "kernel_hz": kernel_hz(u.release),
        "clocksource": read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "virtualization": run(["systemd-detect-virt"]),
        "limits": {
            "nofile_soft": lim(soft),
            "nofile_hard": lim(hard),
            "nproc_soft": lim(nproc_soft),
        },
        "tools": tool_versions(),
        "git": git_info(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="sysinfo",
        description=(
            "Prints this machine's benchmark-relevant facts as JSON (kernel, CPU, memory, sysctls, "
            "kernel HZ, ulimit -n, tool versions, CPU placement)."
        ),
    )
    ap.add_argument(
        "--server-cpus", metavar="LIST", help="CPUs the servers are pinned to, e.g. 0 or 0-1"
    )
    ap.add_argument("--client-cpus", metavar="LIST", help="CPUs the load generator is pinned to")
    ap.add_argument("--reason", metavar="TEXT", help="why this placement")
    ap.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    args = ap.parse_args(argv)
    text = json.dumps(collect(args.server_cpus, args.client_cpus, args.reason), indent=2) + "\n"
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
