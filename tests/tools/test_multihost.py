#!/usr/bin/env python3
"""The multi-host run's report (tools/pbtools/report_multihost.py) on constructed loadgen
records: a row per client host, the merged row, the late-host flag (window start more
than 10 ms after the earliest), the busy-generator flag; and the remote-command
template and loadgen-option handling of tools/pbtools/multihost.py.

    python3 tests/tools/test_multihost.py [-v]
"""

from __future__ import annotations

import os
import sys
import unittest

# Before the first import from the tools: no __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(
    0,
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools"
    ),
)

from pbtools import multihost, report_multihost  # noqa: E402

T0 = 1796190000.5  # a window start, seconds since the epoch


def record(requests, rps, p99, start, busy=0.4, verdict="ok", errors=0, reason=""):
    """A loadgen record with the fields the report reads (schema 3)."""
    return {
        "schema": "patternbench-loadgen",
        "schema_version": 3,
        "host": {"hostname": "h"},
        "config": {"start_at": T0 - 0.5, "warmup": "500ms"},
        "threads": 1,
        "requests": requests,
        "window_replies": requests,
        "throughput_rps": rps,
        "window_start": start,
        "latency_us": {
            "p50": p99 / 4,
            "p90": p99 / 2,
            "p99": p99,
            "p99.9": p99 * 2,
            "max": p99 * 3,
        },
        "generator": {"max_thread_busy": busy, "bound": busy > 0.90},
        "verdict": {"kind": verdict, "reason": reason},
        "errors": {"total": errors},
    }


def merged_of(records):
    """What `loadgen merge` gives, for the fields the report reads (p99 made up: the
    report quotes the merged record, it does not compute it)."""
    return {
        "runs": len(records),
        "requests": sum(r["requests"] for r in records),
        "window_replies": sum(r["requests"] for r in records),
        "throughput_rps": sum(r["throughput_rps"] for r in records),
        "window_start": min(r["window_start"] for r in records if r["window_start"]),
        "latency_us": {"p50": 11.0, "p90": 22.0, "p99": 333.5, "p99.9": 444.0, "max": 555.0},
        "verdict": {"kind": "ok"},
    }


RUN = {
    "pattern": "reuseport",
    "server_host": "srv",
    "target": "10.0.0.1:9000",
    "loadgen_args": "-c 16 -d 2s",
    "remote_command": "ssh {host}",
    "start_at": T0 - 0.5,
    "started": "2026-12-02T00:00:00Z",
}


def table_row(report: str, first_cell: str) -> list[str]:
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r} in:\n{report}")


def section(report: str, title: str) -> str:
    text = report.split(f"## {title}\n", 1)[1]
    return text.split("\n## ", 1)[0]


class ReportTest(unittest.TestCase):
    def render(self, hosts, server=None):
        merged = merged_of([r for _, r in hosts])
        return report_multihost.render(RUN, hosts, merged, server)

    def test_a_row_per_host_with_its_numbers(self):
        report = self.render(
            [("a", record(1000, 500.0, 120.0, T0)), ("b", record(3000, 1500.0, 240.0, T0 + 0.002))]
        )
        a, b = table_row(report, "a"), table_row(report, "b")
        # host, requests, req/s, p50, p90, p99, p99.9, max, skew, due, busy, verdict, flags
        self.assertEqual(a[1:3], ["1,000", "500"])
        self.assertEqual(b[1:3], ["3,000", "1,500"])
        self.assertEqual(a[5], "120.0")
        self.assertEqual(b[5], "240.0")
        self.assertEqual(a[8], "0.00")
        self.assertEqual(b[8], "2.00")  # 2 ms after a's window
        self.assertEqual(b[9], "+2.00")  # due at start_at + 500 ms warm-up = T0
        self.assertEqual(a[10], "40%")
        self.assertEqual(a[12], "ok")
        self.assertEqual(b[12], "ok")
        self.assertIn("None: every window opened within 10 ms", section(report, "Flags"))

    def test_merged_row_quotes_the_merged_record(self):
        hosts = [("a", record(1000, 500.0, 120.0, T0)), ("b", record(3000, 1500.0, 240.0, T0))]
        report = self.render(hosts)
        merged = table_row(report, "**merged** (2 records)")
        self.assertEqual(merged[1:3], ["**4,000**", "**2,000**"])
        self.assertEqual(merged[5], "**333.5**")  # the merge's p99, not a mean of the hosts'
        self.assertIn("counts 4,000 requests, the sum of the hosts'", report)

    def test_a_merge_that_does_not_add_up_is_called_out(self):
        hosts = [("a", record(1000, 500.0, 120.0, T0)), ("b", record(3000, 1500.0, 240.0, T0))]
        merged = merged_of([r for _, r in hosts])
        merged["requests"] = 3999
        report = report_multihost.render(RUN, hosts, merged, None)
        self.assertIn("add up to 4,000", report)

    def test_a_window_over_10_ms_after_the_earliest_is_late(self):
        hosts = [
            ("a", record(1000, 500.0, 120.0, T0)),
            ("b", record(1000, 500.0, 120.0, T0 + 0.0095)),  # 9.5 ms: not late
            ("c", record(1000, 500.0, 120.0, T0 + 0.0150)),  # 15 ms: late
        ]
        report = self.render(hosts)
        self.assertEqual(table_row(report, "b")[12], "ok")
        self.assertEqual(table_row(report, "c")[12], "late")
        flags = section(report, "Flags")
        self.assertIn("**c**: late: its window opened 15.00 ms after the earliest", flags)
        self.assertNotIn("**b**", flags)
        self.assertEqual(table_row(report, "**merged** (3 records)")[8], "spread 15.00")

    def test_a_record_without_window_start_is_late(self):
        old = record(1000, 500.0, 120.0, None)
        report = self.render([("a", record(1000, 500.0, 120.0, T0)), ("old", old)])
        self.assertEqual(table_row(report, "old")[12], "late")
        self.assertIn("has no window start", section(report, "Flags"))

    def test_a_busy_generator_is_flagged(self):
        hosts = [
            ("a", record(1000, 500.0, 120.0, T0, busy=0.95, verdict="generator-busy")),
            ("c", record(1000, 500.0, 120.0, T0, busy=0.89)),
        ]
        report = self.render(hosts)
        self.assertEqual(table_row(report, "a")[12], "busy")
        self.assertEqual(table_row(report, "a")[10], "95%")
        self.assertEqual(table_row(report, "c")[12], "ok")
        flags = section(report, "Flags")
        self.assertIn("**a**: busy generator: its busiest thread was busy 95% of the window", flags)
        self.assertNotIn("**c**", flags)

    def test_late_sends_of_an_idle_generator_are_not_busy(self):
        reason = "p99 send lateness 3.2 ms over --max-lateness 1ms"
        hosts = [
            ("a", record(1000, 500.0, 120.0, T0)),
            (
                "b",
                record(1000, 500.0, 120.0, T0, busy=0.3, verdict="generator-late", reason=reason),
            ),
        ]
        report = self.render(hosts)
        self.assertEqual(table_row(report, "b")[12], "late sends")
        self.assertIn(f"**b**: late sends: its open-loop plan went out late ({reason})", report)

    def test_late_and_busy_and_errors_together(self):
        hosts = [
            ("a", record(1000, 500.0, 120.0, T0)),
            ("b", record(1000, 500.0, 120.0, T0 + 0.02, busy=0.99, errors=3)),
        ]
        report = self.render(hosts)
        self.assertEqual(table_row(report, "b")[12], "late, busy, errors")
        self.assertIn("**b**: 3 failed requests", section(report, "Flags"))

    def test_server_section(self):
        samples = [
            {"time": T0, "clk_tck": 100, "cpu_ticks": 1000},
            {"time": T0 + 2.0, "clk_tck": 100, "cpu_ticks": 1150},
        ]
        stats = {"total": {"requests": 4321, "accepted": 32}, "peak_threads": 3}
        hosts = [("a", record(1000, 500.0, 120.0, T0)), ("b", record(3000, 1500.0, 240.0, T0))]
        report = self.render(hosts, {"stats": stats, "samples": samples})
        server = section(report, "Server")
        self.assertIn("4,321 requests, 32 connections accepted, 3 threads", server)
        # 150 ticks of 10 ms in 2 s over 4,000 replies.
        self.assertIn("1.50 s in 2.000 s, 0.75 CPUs", server)
        self.assertIn("375.00 us of server CPU per request", server)
        self.assertIn("No stats file", section(self.render(hosts), "Server"))

    def test_server_snapshots_give_the_window(self):
        snapshots = [
            {"t_ns": 5_000_000_000, "utime_us": 100_000, "stime_us": 50_000, "requests": 1000},
            {"t_ns": 7_000_000_000, "utime_us": 700_000, "stime_us": 250_000, "requests": 9000},
        ]
        hosts = [("a", record(1000, 500.0, 120.0, T0))]
        server = section(self.render(hosts, {"snapshots": snapshots}), "Server")
        # 8,000 requests and 0.8 s of CPU in 2 s.
        self.assertIn("8,000 requests in 2.000 s (4,000 req/s), 0.800 s of CPU (0.40 CPUs)", server)
        self.assertIn("100.00 us of server CPU per request", server)
        self.assertIsNone(report_multihost.server_window(snapshots[:1]))


class RemoteCommandTest(unittest.TestCase):
    def test_argv_is_appended_for_a_prefix(self):
        argv = multihost.remote_argv("ip netns exec {host}", "ns1", ["sh", "-c", "echo $$; x"])
        self.assertEqual(argv, ["ip", "netns", "exec", "ns1", "sh", "-c", "echo $$; x"])

    def test_ssh_gets_shell_quoted_words(self):
        argv = multihost.remote_argv("ssh -p 2222 {host}", "b.example", ["sh", "-c", "echo $$"])
        self.assertEqual(argv, ["ssh", "-p", "2222", "b.example", "sh", "-c", "'echo $$'"])

    def test_cmd_placeholder_takes_one_string(self):
        argv = multihost.remote_argv("docker exec {host} sh -c {cmd}", "c1", ["cat", "a b"])
        self.assertEqual(argv, ["docker", "exec", "c1", "sh", "-c", "cat 'a b'"])

    def test_loadgen_options_and_durations(self):
        args = ["-c", "8", "-d", "3s", "--warmup=500ms", "--protocol", "http"]
        self.assertEqual(multihost.loadgen_option(args, ("-d", "--duration")), "3s")
        self.assertEqual(multihost.loadgen_option(args, ("--warmup",)), "500ms")
        self.assertEqual(multihost.loadgen_option(args, ("-R", "--rate"), "0"), "0")
        self.assertEqual(multihost.parse_duration("250us"), 250e-6)
        self.assertEqual(multihost.parse_duration("1m"), 60.0)
        self.assertEqual(multihost.parse_duration("3"), 3.0)
        with self.assertRaises(multihost.MultihostError):
            multihost.parse_duration("soon")

    def test_run_bench_owns_target_json_and_start(self):
        for bad in (["--json", "x"], ["--start-at", "1"], ["-q"], ["127.0.0.1:80"]):
            with self.assertRaises(multihost.MultihostError, msg=bad):
                multihost.check_loadgen_args(bad)
        multihost.check_loadgen_args(["-c", "8", "-R", "2k", "--protocol", "http"])


if __name__ == "__main__":
    unittest.main()
