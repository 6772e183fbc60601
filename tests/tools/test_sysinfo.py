#!/usr/bin/env python3
"""tools/sysinfo: the JSON it writes has the keys the report reads.

    python3 tests/tools/test_sysinfo.py [-v]
"""

from __future__ import annotations

import json
import sys
import unittest

# Before the first import from this directory: no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from test_support import tool  # noqa: E402  (also puts tools/ on sys.path)


class SysinfoTest(unittest.TestCase):
    def test_emits_json_with_the_keys(self):
        r = tool("sysinfo", "--server-cpus", "0", "--client-cpus", "1", "--reason", "one CPU each")
        info = json.loads(r.stdout)
        for key in (
            "schema",
            "hostname",
            "kernel",
            "os",
            "cpu",
            "memory",
            "placement",
            "sysctls",
            "kernel_hz",
            "limits",
            "tools",
        ):
            self.assertIn(key, info)
        self.assertEqual(
            info["placement"], {"server_cpus": "0", "client_cpus": "1", "reason": "one CPU each"}
        )
        for key in ("model", "logical"):
            self.assertIn(key, info["cpu"])
        self.assertIn("total_kb", info["memory"])
        for name in (
            "net.core.somaxconn",
            "net.ipv4.tcp_tw_reuse",
            "net.ipv4.ip_local_port_range",
            "net.ipv4.tcp_max_syn_backlog",
            "net.core.netdev_max_backlog",
            "fs.file-max",
        ):
            self.assertIn(name, info["sysctls"])
        self.assertIn("value", info["kernel_hz"])
        self.assertIn("source", info["kernel_hz"])
        self.assertIn("nofile_soft", info["limits"])
        if sys.platform.startswith("linux"):
            self.assertEqual(info["kernel"]["sysname"], "Linux")
            self.assertGreater(info["cpu"]["logical"], 0)


if __name__ == "__main__":
    unittest.main()
