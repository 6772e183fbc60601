"""What every claim rule of claims.py reads and writes: the verdicts, how evidence names
a case and a number, the cases a rule compares, the noise-rule comparison and the
verdict it gives, and what the servers' sources and the machine say."""

from __future__ import annotations

import os
import re

from . import analysis
from . import units as u
from .patterns import PATTERNS
from .rundir import Case, Run, dig, num

CONFIRMED, REFUTED, DEPENDS, NOT_MEASURABLE = (
    "confirmed",
    "refuted",
    "depends",
    "not measurable here",
)
VERDICTS = [CONFIRMED, REFUTED, DEPENDS, NOT_MEASURABLE]

# Jain's index at or above this over every repetition is "even"; its whole range below
# it is "uneven". 0.9 over two threads is a 1.7:1 split.
EVEN_JAIN = 0.9

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pattern -> its servers/ source file, from servers/patterns.txt (empty when the tools
# run away from the repository: the source-size rules then say so).
SERVER_FILES = {name: source for name, source, _ in PATTERNS or []}


def label(c: Case) -> str:
    """How the evidence names a case: pattern, workload, connections (and rate)."""
    if c.kind == "nagle":
        return (
            f"Nagle cell client nodelay {onoff(c.client_nodelay)}, server {onoff(c.server_nodelay)}, "
            f"{c.write_pattern} writes" + (", quickack" if c.quickack else "")
        )
    if c.kind == "nagle-upside":
        return f"Nagle's upside nodelay {onoff(c.client_nodelay)}"
    rate = f" at {u.rate(c.offered_rps)} req/s offered" if c.offered_rps else ""
    return f"{c.pattern} {c.workload} c{c.connections}{rate}"


def onoff(b) -> str:
    return "?" if b is None else ("on" if b else "off")


def show(c: Case, counter: str, fmt) -> str:
    return u.measure(fmt, c.measure(counter))


def matrix(run: Run, pattern: str, workload: str) -> dict[int, Case]:
    return {
        c.connections: c
        for c in run.of_kind("matrix")
        if c.pattern == pattern and c.workload == workload and c.connections is not None
    }


def pair(run: Run, pa: str, pb: str, workload: str, rate_counter: bool = False):
    """(a, b): the two patterns' matrix cases at the highest connection count both ran;
    with rate_counter, only counts where neither is generator-bound."""
    ma, mb = matrix(run, pa, workload), matrix(run, pb, workload)
    counts = sorted(
        n
        for n in set(ma) & set(mb)
        if not rate_counter or not (ma[n].generator_bound or mb[n].generator_bound)
    )
    return (ma[counts[-1]], mb[counts[-1]]) if counts else (None, None)


def compare(a: Case, b: Case, counter: str, fmt):
    """(Difference, "A x vs B y[: no measurable difference]") by the noise rule."""
    d = analysis.differs(a, b, counter)
    text = f"{label(a)} {show(a, counter, fmt)} vs {label(b)} {show(b, counter, fmt)}"
    if d is None:
        return None, text
    if not d.differ:
        return d, "no measurable difference: " + text
    if not d.tested:
        text += " (5% threshold, one repetition: untested)"
    return d, text


def judge(d, b_higher_confirms: bool) -> str:
    """The verdict of a claim that predicts b above (or below) a."""
    if d is None or not d.differ:
        return REFUTED
    return CONFIRMED if (d.sign > 0) == b_higher_confirms else REFUTED


def server_cpus(run: Run) -> tuple[int | None, str]:
    """How many CPUs the servers ran on, and where that was read."""
    for where, text in (
        ("run.json server_cpus", run.run.get("server_cpus")),
        ("sysinfo placement", dig(run.sysinfo, "placement", "server_cpus")),
    ):
        if isinstance(text, str) and text.strip():
            n = 0
            for part in text.split(","):
                lo, _, hi = part.strip().partition("-")
                if lo.isdigit() and (not hi or hi.isdigit()):
                    n += int(hi or lo) - int(lo) + 1
            if n:
                return n, where
    n = num(dig(run.sysinfo, "cpu", "logical"))
    return (int(n), "sysinfo cpu.logical") if n else (None, "")


def source(pattern: str) -> str | None:
    """The text of the pattern's servers/<file>.cpp, read now."""
    try:
        with open(
            os.path.join(REPO, "servers", SERVER_FILES.get(pattern, "")), encoding="utf-8"
        ) as f:
            return f.read()
    except OSError:
        return None


def code_lines(text: str) -> int:
    """Lines that are neither blank nor comments."""
    return sum(1 for line in text.split("\n") if line.strip() and not line.strip().startswith("//"))


def source_lines(pattern: str) -> int | None:
    """Lines of code of servers/<file>.cpp, counted now."""
    text = source(pattern)
    return None if text is None else code_lines(text)


# The I/O machinery in core/ a server can run on: blocking connections, the event
# loop (reactor, loop threads, loop, poller, wake-up descriptor), or the io_uring
# reactor. Protocol codecs, sockets, options and stats are shared by every pattern
# and counted for none.
MACHINERY = {
    "blocking_conn",
    "reactor",
    "loop_thread",
    "event_loop",
    "poller",
    "wake_fd",
    "uring_reactor",
}
# A header whose code lives in a file of another name.
IMPLEMENTED_IN = {"poller": "poller_epoll"}


def _includes(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return re.findall(r'^#include "([a-z_]+)\.hpp"', f.read(), re.M)
    except OSError:
        return []


def pattern_lines(pattern: str) -> tuple[int, list[str]] | None:
    """(lines of code, core files): the pattern's server file plus the core/ machinery
    whose headers it includes (directly or through other core/ headers), counted now;
    None when the sources are not next to the tools."""
    text = source(pattern)
    if text is None:
        return None
    core = os.path.join(REPO, "core")
    seen: set[str] = set()
    todo = re.findall(r'^#include "([a-z_]+)\.hpp"', text, re.M)
    while todo:
        stem = todo.pop()
        if stem in seen:
            continue
        seen.add(stem)
        todo += _includes(os.path.join(core, stem + ".hpp"))
    files = sorted(IMPLEMENTED_IN.get(m, m) + ".cpp" for m in seen & MACHINERY)
    total = code_lines(text)
    for f in files:
        try:
            with open(os.path.join(core, f), encoding="utf-8") as fh:
                total += code_lines(fh.read())
        except OSError:
            return None
    return total, files


def source_has(pattern: str, word: str) -> bool:
    return word in (source(pattern) or "")


def kernel(run: Run) -> tuple[tuple[int, int] | None, str]:
    rel = str(dig(run.sysinfo, "kernel", "release") or "")
    m = re.match(r"(\d+)\.(\d+)", rel)
    return ((int(m.group(1)), int(m.group(2))) if m else None), rel


def verify_errors(cases) -> tuple[int, int]:
    """(replies that failed verification or framing, requests) over the cases."""
    bad = sum(
        int(num(dig(c.loadgen, "errors", k)) or 0) for c in cases for k in ("verify", "protocol")
    )
    return bad, sum(int(num(dig(c.loadgen, "requests")) or 0) for c in cases)


def absent(what: str) -> tuple[str, str]:
    return NOT_MEASURABLE, what


def no_pattern(pattern: str, workload: str = "") -> tuple[str, str]:
    return absent(f"this run has no server-{pattern} {workload + ' ' if workload else ''}cases")


def judged(ab, counter: str, fmt, higher: bool, what: str, missing, more=None):
    """The verdict of a claim that b's counter is above (higher) or below a's, for the pair
    ab = (a, b): `missing` (a (verdict, evidence)) when the run lacks the pair, else the
    comparison after `what`, then more(a, b) when given."""
    a, b = ab
    if a is None or b is None:
        return missing
    d, text = compare(a, b, counter, fmt)
    return judge(d, higher), what + text + (more(a, b) if more else "")


def sweep_pair(run, pa, pb, workload):
    """(a, b): the two patterns' sweep points at the rate analysis.equal_load_rate picks."""
    sa = [c for c in run.of_kind("sweep") if c.pattern == pa and c.workload == workload]
    sb = [c for c in run.of_kind("sweep") if c.pattern == pb and c.workload == workload]
    r = analysis.equal_load_rate(sa, sb)
    if r is None:
        return None, None
    return ([c for c in sa if c.offered_rps == r][0], [c for c in sb if c.offered_rps == r][0])


def jain_verdict(c: Case, counter: str):
    m = c.measure(counter)
    if m is None:
        return None, ""
    what = "accepted connections" if counter.endswith("accepts") else "requests"
    text = f"{label(c)}: Jain's index of {what} {u.measure(u.index, m)}"
    if m.lo >= EVEN_JAIN:
        return CONFIRMED, text
    if m.hi < EVEN_JAIN:
        return REFUTED, text
    return DEPENDS, text + f" (its range straddles {EVEN_JAIN})"
