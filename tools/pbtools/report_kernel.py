"""The kernel-queues section of REPORT.md: how deep the server's listen queues got
(connections the kernel completed that nobody had accepted yet) in the cases where
accepting is the work, with the machine-wide TCP counters that say whether a full
queue dropped a handshake.

A section mixin of Report (report.py).
"""

from __future__ import annotations

from . import units as u
from .report_markdown import table, val
from .rundir import dig, num, pattern_key


def listeners(c) -> str:
    """The deepest queue of each listener, in the repetition of record."""
    per = dig(c.measurement, "kernel", "accept_queue", "listener_max")
    if not isinstance(per, list) or len(per) < 2:
        return ""
    return " / ".join(u.count(num(x)) for x in per)


class KernelSections:
    def kernel_cases(self):
        """The cases where the accept queue matters: churn (a connection per request) at
        every count, and the keep-alive matrix cases at the highest count, where the
        connections are all accepted at once; only those with accept-queue samples."""
        matrix = [c for c in self.run.of_kind("matrix") if c.c("accept_queue_max") is not None]
        top = max((c.connections or 0 for c in matrix), default=0)
        keep = [
            c
            for c in matrix
            if c.workload == "churn" or (c.workload == "tiny" and c.connections == top)
        ]
        return sorted(
            keep, key=lambda c: (c.workload != "churn", c.connections or 0, pattern_key(c.pattern))
        )

    def kernel_section(self) -> str:
        cases = self.kernel_cases()
        if not cases:
            return ""
        rows = []
        for c in cases:
            drops = [c.c("listen_overflows"), c.c("listen_drops")]
            rows.append(
                [
                    f"{c.workload} c{c.connections}",
                    c.pattern,
                    self.flag(c, val(c, "accept_queue_max", u.count)),
                    listeners(c) or "–",
                    u.plain(num(dig(c.measurement, "kernel", "accept_queue", "mean"))),
                    " / ".join("–" if d is None else u.count(d) for d in drops),
                ]
            )
        out = [
            "## Kernel queues: connections waiting to be accepted\n",
            "A connection the kernel has completed (the client's connect() has returned) waits "
            "in the listener's accept queue until the server calls accept(); what `ss -lnt` "
            "shows as Recv-Q. The harness reads every listener's queue through sock_diag at each "
            "sampler tick inside the window. **Deepest** is the longest single queue seen "
            "(median [min-max] over the repetitions); **per listener** gives each listener's "
            "deepest in the repetition of record (reuseport has one listener per loop); "
            "**mean** is the sum over listeners averaged over the ticks. **Overflows / drops** "
            "are the TcpExt ListenOverflows and ListenDrops counters over the window: a full "
            "queue refusing a handshake. They are machine-wide, every socket on the machine, "
            "not only this server's.\n",
            table(
                [
                    "workload",
                    "pattern",
                    "deepest",
                    "per listener",
                    "mean",
                    "overflows / drops",
                ],
                rows,
                "llrrrr",
            )
            + self.legend(),
        ]
        deep = [c for c in cases if (c.c("accept_queue_max") or 0) > 0]
        if deep:
            c = max(deep, key=lambda c: c.c("accept_queue_max"))
            self.say(
                8,
                f"**Accept queue:** the deepest listener queue was {val(c, 'accept_queue_max', u.count)} "
                f"connections, {c.pattern} {c.workload} c{c.connections}: clients whose connect() had "
                "succeeded, waiting for the server to accept them.",
            )
        return "\n".join(out) + "\n"
