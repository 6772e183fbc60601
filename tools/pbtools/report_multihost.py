"""REPORT.md of a run with load from several client hosts (tools/run-bench --client-hosts).

Everything here is computed from what the run directory holds: one loadgen record per
client host, their exact merge (`loadgen merge`), the server's stats file and the CPU
samples taken on the server host. No I/O: render() takes the parsed pieces and returns
the Markdown, so tests/tools/test_multihost.py can feed it constructed records.

A client host is flagged
- *late* when its window opened more than LATE_MS after the earliest host's: for that
  long the other hosts loaded the server without it;
- *busy* when its generator set the pace: a generator thread busy over 90% of the
  window (`generator.bound`, verdict `generator-busy`);
- *late sends* when its open-loop plan went out late (verdict `generator-late`: p99
  send lateness over its --max-lateness) without the generator being busy;
- *errors* when its record counts failed requests.
"""

from __future__ import annotations

import datetime

# A window that opened this long after the earliest one is late.
LATE_MS = 10.0

PERCENTILES = ("p50", "p90", "p99", "p99.9")


def _latency(record: dict) -> dict:
    return record.get("latency_us") or {}


def window_start(record: dict):
    """The record's window start (CLOCK_REALTIME seconds), or None in older records."""
    value = record.get("window_start")
    return float(value) if isinstance(value, (int, float)) else None


def host_flags(record: dict, skew_ms) -> list[str]:
    """The flags of one client host: 'late', 'busy', 'late sends', 'errors'; an empty
    list when none."""
    flags = []
    if skew_ms is None or skew_ms > LATE_MS:
        flags.append("late")
    generator = record.get("generator") or {}
    verdict = (record.get("verdict") or {}).get("kind")
    if generator.get("bound") or verdict == "generator-busy":
        flags.append("busy")
    elif verdict == "generator-late":
        flags.append("late sends")
    if ((record.get("errors") or {}).get("total") or 0) > 0:
        flags.append("errors")
    return flags


def host_rows(hosts: list[tuple[str, dict]]) -> list[dict]:
    """One row per client host: its numbers, its window's skew from the earliest host's
    window (ms) and its flags. `hosts` is [(host name, loadgen record), ...]."""
    starts = [window_start(r) for _, r in hosts]
    known = [s for s in starts if s is not None]
    earliest = min(known) if known else None
    rows = []
    for (name, record), start in zip(hosts, starts):
        skew = None if start is None or earliest is None else (start - earliest) * 1e3
        lat = _latency(record)
        generator = record.get("generator") or {}
        due = None
        start_at = (record.get("config") or {}).get("start_at")
        if start is not None and isinstance(start_at, (int, float)):
            # The window was due at start_at + warm-up.
            due = (start - start_at - _seconds((record.get("config") or {}).get("warmup"))) * 1e3
        rows.append(
            {
                "host": name,
                "hostname": ((record.get("host") or {}).get("hostname")) or "",
                "requests": int(record.get("requests") or 0),
                "throughput_rps": float(record.get("throughput_rps") or 0.0),
                "latency": {p: lat.get(p) for p in PERCENTILES + ("max",)},
                "window_start": start,
                "skew_ms": skew,
                "late_vs_due_ms": due,
                "busy": generator.get("max_thread_busy"),
                "threads": record.get("threads"),
                "verdict": (record.get("verdict") or {}).get("kind") or "",
                "verdict_reason": (record.get("verdict") or {}).get("reason") or "",
                "errors": int((record.get("errors") or {}).get("total") or 0),
                "flags": host_flags(record, skew),
            }
        )
    return rows


def merged_row(merged: dict, rows: list[dict]) -> dict:
    """The merged record's row, with the sum of the hosts' requests beside its own count
    and the spread of the window starts."""
    lat = _latency(merged)
    skews = [r["skew_ms"] for r in rows if r["skew_ms"] is not None]
    return {
        "requests": int(merged.get("requests") or 0),
        "sum_of_hosts": sum(r["requests"] for r in rows),
        "throughput_rps": float(merged.get("throughput_rps") or 0.0),
        "latency": {p: lat.get(p) for p in PERCENTILES + ("max",)},
        "spread_ms": max(skews) if skews else None,
        "runs": merged.get("runs"),
        "verdict": (merged.get("verdict") or {}).get("kind") or "",
    }


def _seconds(text) -> float:
    """A loadgen duration string ('500ms', '2s', '250us', '1m', '3') in seconds."""
    if not isinstance(text, str) or not text:
        return 0.0
    for suffix, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * scale
            except ValueError:
                return 0.0
    try:
        return float(text)
    except ValueError:
        return 0.0


def _us(value) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _ms(value, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.2f}" if sign else f"{value:.2f}"


def _utc(seconds) -> str:
    if seconds is None:
        return "-"
    t = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def server_cpu(samples: list[dict] | None) -> dict | None:
    """CPU of the server process between the first and last /proc sample:
    {'cpu_seconds', 'wall_seconds', 'cpus'} or None without two samples."""
    if not samples or len(samples) < 2:
        return None
    first, last = samples[0], samples[-1]
    wall = last["time"] - first["time"]
    cpu = (last["cpu_ticks"] - first["cpu_ticks"]) / float(first.get("clk_tck") or 100)
    return {
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "cpus": cpu / wall if wall > 0 else None,
        "first": first["time"],
        "last": last["time"],
    }


def server_window(snapshots: list[dict] | None) -> dict | None:
    """The server's own account of the window, from its first and last SIGUSR1
    snapshot (servers/README.md): {'seconds', 'cpu_seconds', 'requests', 'cpus',
    'us_per_request', 'rps'}, or None without two snapshots."""
    if not snapshots or len(snapshots) < 2:
        return None
    first, last = snapshots[0], snapshots[-1]
    seconds = (last["t_ns"] - first["t_ns"]) / 1e9
    cpu_us = (last["utime_us"] + last["stime_us"]) - (first["utime_us"] + first["stime_us"])
    requests = last["requests"] - first["requests"]
    if seconds <= 0:
        return None
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_us / 1e6,
        "requests": requests,
        "cpus": cpu_us / 1e6 / seconds,
        "us_per_request": cpu_us / requests if requests > 0 else None,
        "rps": requests / seconds,
    }


FLAG_TEXT = {
    "late": "late: its window opened {skew} ms after the earliest host's (more than "
    f"{LATE_MS:g} ms): for that long the others loaded the server without it. "
    "Check the hosts' clock sync (chronyc tracking) and give the remote command more "
    "time (--start-delay)",
    "busy": "busy generator: {why}; its numbers describe the generator, not the server "
    "(give it more threads with -t, or add a host)",
    "late sends": "late sends: its open-loop plan went out late ({reason}), so its latencies "
    "include the generator's own delay",
    "errors": "{errors} failed requests (see its record's errors and error_samples)",
}


def _flag_sentence(row: dict, flag: str) -> str:
    if flag == "late":
        if row["skew_ms"] is None:
            return "late: its record has no window start (a loadgen without --start-at?)"
        return FLAG_TEXT["late"].format(skew=f"{row['skew_ms']:.2f}")
    if flag == "busy":
        why = "loadgen's verdict is generator-busy"
        if row["busy"] is not None and row["busy"] > 0.90:
            why = f"its busiest thread was busy {row['busy'] * 100:.0f}% of the window"
        return FLAG_TEXT["busy"].format(why=why)
    if flag == "late sends":
        return FLAG_TEXT["late sends"].format(reason=row["verdict_reason"] or "generator-late")
    return FLAG_TEXT["errors"].format(errors=row["errors"])


def render(run: dict, hosts: list[tuple[str, dict]], merged: dict, server: dict | None) -> str:
    """REPORT.md. `run` is run.json; `hosts` [(host, loadgen record)] in --client-hosts
    order; `merged` the `loadgen merge` record; `server` {'stats': server stats JSON or
    None, 'samples': [{time, cpu_ticks, clk_tck}, ...], 'snapshots': [SIGUSR1 snapshot,
    ...]} or None."""
    rows = host_rows(hosts)
    total = merged_row(merged, rows)
    out = []
    pattern = run.get("pattern") or "?"
    names = ", ".join(f"**{r['host']}**" for r in rows)
    out.append(
        f"# Load from {len(rows)} client hosts: server-{pattern} on {run.get('server_host')}"
    )
    out.append("")
    out.append(
        f"Server `{run.get('server_command') or '?'}` on **{run.get('server_host')}**, reached at "
        f"`{run.get('target')}`; a loadgen on each of {names} "
        f"with `{run.get('loadgen_args') or ''}`, all started at the shared instant "
        f"{_utc(run.get('start_at'))} ({run.get('start_at')}). Remote command: "
        f"`{run.get('remote_command')}`. Started {run.get('started')}."
    )
    out.append("")
    out.append("## Per host and merged")
    out.append("")
    out.append(
        "Latencies in microseconds (loadgen's `latency_us`: from the intended send time in an "
        "open loop). *Skew*: how long after the earliest host's window this host's opened. "
        "*Due*: window start minus the instant it was due (--start-at plus the warm-up). "
        "*Busy*: the host's busiest generator thread's busy share of the window."
    )
    out.append("")
    out.append(
        "| client host | requests | req/s | p50 | p90 | p99 | p99.9 | max | skew ms | due ms "
        "| busy | verdict | flags |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        lat = r["latency"]
        busy = "-" if r["busy"] is None else f"{r['busy'] * 100:.0f}%"
        out.append(
            f"| {r['host']} | {r['requests']:,} | {r['throughput_rps']:,.0f} | "
            + " | ".join(_us(lat[p]) for p in PERCENTILES + ("max",))
            + f" | {_ms(r['skew_ms'])} | {_ms(r['late_vs_due_ms'], sign=True)} | {busy} | "
            f"{r['verdict']} | {', '.join(r['flags']) or 'ok'} |"
        )
    lat = total["latency"]
    spread = "-" if total["spread_ms"] is None else f"spread {total['spread_ms']:.2f}"
    out.append(
        f"| **merged** ({total['runs']} records) | **{total['requests']:,}** | "
        f"**{total['throughput_rps']:,.0f}** | "
        + " | ".join(f"**{_us(lat[p])}**" for p in PERCENTILES + ("max",))
        + f" | {spread} | | | {total['verdict']} | |"
    )
    out.append("")
    if total["requests"] == total["sum_of_hosts"]:
        out.append(
            f"The merged record counts {total['requests']:,} requests, the sum of the hosts' "
            "(`loadgen merge` adds the histograms bucket by bucket, so its percentiles are those "
            "of every request of every host, not an average of the hosts' percentiles)."
        )
    else:
        out.append(
            f"**The merged record counts {total['requests']:,} requests, but the hosts' records "
            f"add up to {total['sum_of_hosts']:,}**: the merge is not of these records."
        )
    out.append("")

    out.append("## Flags")
    out.append("")
    flagged = [r for r in rows if r["flags"]]
    if not flagged:
        out.append(
            f"None: every window opened within {LATE_MS:g} ms of the earliest, no generator was "
            "busy, no request failed."
        )
    for r in flagged:
        for flag in r["flags"]:
            out.append(f"- **{r['host']}**: {_flag_sentence(r, flag)}.")
    out.append("")

    out.append("## Server")
    out.append("")
    stats = (server or {}).get("stats")
    cpu = server_cpu((server or {}).get("samples"))
    if stats:
        t = stats.get("total") or {}
        out.append(
            f"The server's stats file (its whole life, bring-up and warm-up included): "
            f"{int(t.get('requests') or 0):,} requests, {int(t.get('accepted') or 0):,} "
            f"connections accepted, {stats.get('peak_threads')} threads at the peak."
        )
    else:
        out.append("No stats file came back from the server host.")
    out.append("")
    window = server_window((server or {}).get("snapshots"))
    if window:
        per = window["us_per_request"]
        out.append(
            f"The server's own account of the window (its SIGUSR1 snapshots at the window's "
            f"edges): {window['requests']:,} requests in {window['seconds']:.3f} s "
            f"({window['rps']:,.0f} req/s), {window['cpu_seconds']:.3f} s of CPU "
            f"({window['cpus']:.2f} CPUs)"
            + ("." if per is None else f", {per:.2f} us of server CPU per request.")
        )
        out.append("")
    if cpu and cpu["cpus"] is not None:
        per = merged.get("window_replies") or merged.get("requests") or 0
        line = (
            f"Server CPU (utime + stime of its process, /proc on the server host) between "
            f"samples at {_utc(cpu['first'])} and {_utc(cpu['last'])}: {cpu['cpu_seconds']:.2f} s "
            f"in {cpu['wall_seconds']:.3f} s, {cpu['cpus']:.2f} CPUs"
        )
        if per:
            line += (
                f"; over the merged window's {int(per):,} replies that is about "
                f"{cpu['cpu_seconds'] / per * 1e6:.2f} us of server CPU per request"
            )
        out.append(line + ".")
    else:
        out.append("No CPU samples came back from the server host.")
    out.append("")
    return "\n".join(out)
