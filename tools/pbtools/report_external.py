"""External servers (--external NAME=COMMAND, bench/README.md "External servers"): what
each ran and skipped, how it was accounted, and the Reading's comparison of every
pattern with it on server CPU per request, the comparison that holds when the load
generator is the bottleneck (its rates then rank how cheaply the generator drives each
server).

A section mixin of Report (report.py).
"""

from __future__ import annotations

import re

from . import analysis
from . import units as u
from .report_markdown import said, server, table
from .rundir import Case, pattern_key
from .values import dig

# The built-in example's worker count: bench/external/nginx PORT [WORKERS].
_NGINX_WORKERS = re.compile(r"external/nginx\s+\S+\s+(\d+)")


def external_info(case: Case) -> dict | None:
    e = case.extra.get("external")
    return e if isinstance(e, dict) else None


def command_line(case: Case) -> str:
    """The shell line the harness ran (placeholders filled in), else COMMAND."""
    argv = dig(case.server, "argv")
    if isinstance(argv, list) and len(argv) == 3 and argv[:2] == ["/bin/sh", "-c"]:
        return str(argv[2])
    return str((external_info(case) or {}).get("command") or "")


def nginx_shape(cases: list[Case]) -> str | None:
    """Which pattern the built-in nginx example is, from its worker count."""
    workers = {int(m.group(1)) for c in cases if (m := _NGINX_WORKERS.search(command_line(c)))}
    if len(workers) != 1:
        return None
    n = workers.pop()
    if n == 1:
        return (
            "with 1 worker, nginx is the **single** pattern: one single-threaded epoll event "
            "loop that accepts and serves every connection (its master process only supervises)"
        )
    return (
        f"with {n} workers, nginx is the **reuseport** pattern: {n} single-threaded epoll event "
        "loops, each accepting on a SO_REUSEPORT listener of its own so that the kernel spreads "
        "the connections (bench/external/nginx listens with reuseport; without it the workers "
        "would share one listener behind nginx's accept mutex, the **multi-accept** pattern)"
    )


class ExternalSections:
    def external_cases(self) -> dict:
        """{name: [its cases]} for every external server in the run."""
        out: dict = {}
        for c in self.run.cases:
            if external_info(c) is not None:
                out.setdefault(c.pattern, []).append(c)
        return out

    def external_section(self) -> str:
        ext = self.external_cases()
        if not ext:
            return ""
        out = [
            "## External servers\n",
            "Servers from outside the project (`--external NAME=COMMAND`), measured with the same "
            "generator, placement, repetitions and charts as the patterns, in HTTP (`GET /`, the "
            "13-byte `Hello, World!` every HTTP row of this report answers with). Their CPU is "
            "their whole process group's (the cpuacct cgroup every process they fork joins), their "
            "RSS the sum of each process's peak (shared pages counted once per process), their "
            "context switches those of their live threads at the window's edges; they write no "
            "stats file, so per-thread fairness is n/a.\n",
        ]
        for name, cases in sorted(ext.items()):
            info = external_info(cases[0]) or {}
            ran = sorted({f"{c.workload} at {c.connections}" for c in cases})
            out.append(f"- **{server(name)}**: `{info.get('command', '')}`; ran {', '.join(ran)}.")
            shape = nginx_shape(cases)
            if shape:
                out.append(f"  {shape[0].upper() + shape[1:]}.")
            skipped = info.get("skipped") or {}
            for workload, reason in skipped.items() if isinstance(skipped, dict) else []:
                out.append(f"  Not run: {workload}: {reason}.")
        out.append("")
        rows = []
        for (wl, pr), cases in sorted(self.groups.items()):
            for name in sorted(ext):
                e = [c for c in cases if c.pattern == name]
                if not e:
                    continue
                f = self.focus(cases)
                at = sorted(
                    (c for c in cases if c.connections == f and c.c("cpu_us_per_req")),
                    key=lambda c: pattern_key(c.pattern),
                )
                ref = next((c for c in at if c.pattern == name), None)
                for c in at:
                    rows.append(
                        [
                            f"{wl} ({pr}) at {f}",
                            server(c.pattern),
                            self.flag(c, u.measure(u.compact_rate, c.measure("rps"))),
                            u.measure(u.plain, c.measure("cpu_us_per_req")),
                            u.ratio(u.times(c.c("cpu_us_per_req"), ref.c("cpu_us_per_req")))
                            if ref
                            else u.DASH,
                            u.memory_kb(c.c("peak_rss_kb")),
                            u.count(c.c("peak_threads")),
                        ]
                    )
        if rows:
            out.append(
                table(
                    [
                        "cell",
                        "server",
                        "req/s",
                        "server CPU us/req",
                        "CPU/req vs the external",
                        "peak RSS",
                        "peak threads",
                    ],
                    rows,
                    "llrrrrr",
                )
                + self.legend()
            )
        return "\n".join(out) + "\n"

    def read_external(self) -> None:
        """The Reading: what each external server is, and how close each pattern comes
        to it on server CPU per request in every cell where it ran."""
        for name, ext_cases in sorted(self.external_cases().items()):
            shape = nginx_shape(ext_cases)
            parts = []
            for (wl, pr), cases in sorted(self.groups.items()):
                f = self.focus(cases)
                ref = next(
                    (c for c in cases if c.pattern == name and c.connections == f),
                    None,
                )
                if ref is None or not ref.c("cpu_us_per_req"):
                    continue
                others = sorted(
                    (
                        c
                        for c in cases
                        if c.connections == f and c.pattern != name and c.c("cpu_us_per_req")
                    ),
                    key=lambda c: c.c("cpu_us_per_req"),
                )
                if not others:
                    continue
                text = (
                    f"{wl} ({pr}) at {f} connections, {server(name)} "
                    f"{said(ref.measure('cpu_us_per_req'), u.plain)} us: "
                )
                bits = []
                for c in others:
                    d = analysis.differs(c, ref, "cpu_us_per_req")
                    same = d is not None and not d.differ
                    bits.append(
                        f"{server(c.pattern)} {said(c.measure('cpu_us_per_req'), u.plain)} us "
                        + (
                            "(no measurable difference)"
                            if same
                            else f"({u.ratio(u.times(c.c('cpu_us_per_req'), ref.c('cpu_us_per_req')))})"
                        )
                    )
                parts.append(text + ", ".join(bits))
            if not parts and not shape:
                continue
            head = f"**{server(name)}:** "
            if shape:
                head += shape[0].upper() + shape[1:] + ". "
            if parts:
                head += (
                    "Server CPU per request, each pattern against it (the comparison that holds "
                    "when the generator is the bottleneck; ratios are the pattern's over "
                    f"{name}'s): " + "; ".join(parts) + "."
                )
            self.say(5, head)
