"""The claim rules of the patterns that share the accepting among threads: M (several
acceptors on one listening socket) and R (several listeners on one port, SO_REUSEPORT)."""

from __future__ import annotations

from . import units as u
from .claims_evidence import (
    CONFIRMED,
    DEPENDS,
    EVEN_JAIN,
    REFUTED,
    absent,
    compare,
    jain_verdict,
    judge,
    judged,
    kernel,
    matrix,
    no_pattern,
    pair,
    server_cpus,
    source_has,
    source_lines,
    verify_errors,
)
from .rundir import dig


# --- M: several acceptors on one socket ------------------------------------------------------------


def listeners(run, pattern):
    """Listening sockets of a pattern from its cases' per-thread roles: reuseport has one
    per loop; multi-accept one shared."""
    for c in run.of_kind("matrix"):
        if c.pattern == pattern:
            loops = [t for t in c.threads() if t.get("role") == "loop"]
            return (len(loops) if pattern == "reuseport" else 1), len(loops), c
    return None, 0, None


def m1(run):
    ma, ma_loops, _ = listeners(run, "multi-accept")
    rp, rp_loops, _ = listeners(run, "reuseport")
    if ma is None:
        return no_pattern("multi-accept")
    text = f"server-multi-accept: {ma} listening socket for {ma_loops} loops"
    if rp is None:
        return absent(text + "; no reuseport cases to compare with")
    return (CONFIRMED if ma < rp else REFUTED), text + f"; server-reuseport: {rp} for {rp_loops}"


def multi_cpu(run, n=2):
    ncpu, where = server_cpus(run)
    if ncpu is not None and ncpu < n:
        return f"needs >= {n} server CPUs for several acceptors to run at once: the server has {ncpu} ({where})"
    return ""


def scales(run, ab, what: str, missing: str):
    """The verdict of a claim that b's req/s is above a's for the pair ab = (a, b): with
    fewer server CPUs than acceptors it is not measurable, and the evidence says so first."""
    short = multi_cpu(run)
    a, b = ab
    if a is None:
        return absent(f"{short}; {missing}" if short else missing)
    d, text = compare(a, b, "rps", u.compact_rate)
    if short:
        return absent(f"{short}; {what}{text}")
    return judge(d, True), what + text


def m2(run):
    return scales(
        run,
        pair(run, "single", "multi-accept", "churn", rate_counter=True),
        what="a connection per request, req/s ",
        missing="needs single and multi-accept under churn (a connection per request), not generator-bound",
    )


def m3(run):
    n = source_lines("multi-accept")
    return absent(
        "simplicity has no number"
        + (
            f"; servers/multi_accept.cpp is {n} lines, servers/reuseport.cpp "
            f"{source_lines('reuseport')}"
            if n
            else ""
        )
    )


def m4(run):
    n, s = source_lines("multi-accept"), source_lines("single")
    if n is None:
        return absent("servers/multi_accept.cpp not found next to tools/")
    used = [w for w in ("EPOLLEXCLUSIVE", "std::mutex", "atomic") if source_has("multi-accept", w)]
    if not used:
        return (
            REFUTED,
            f"servers/multi_accept.cpp ({n} lines) uses no kernel flag or lock beyond the event loop's",
        )
    return CONFIRMED, (
        f"servers/multi_accept.cpp ({n} lines against {s} for one loop) relies on "
        f"{', '.join(used)} to keep its acceptors from stampeding"
    )


def m5(run):
    counts = {
        int(c.c("peak_threads"))
        for c in run.of_kind("matrix")
        if c.pattern == "multi-accept" and c.c("peak_threads") is not None
    }
    if not counts:
        return no_pattern("multi-accept")
    loops = run.run.get("loop_threads")
    return absent(
        "needs multi-accept at several acceptor counts; this run has one"
        + (f" (run.json loop_threads: {loops})" if loops is not None else "")
        + f", its cases peaking at {'/'.join(str(n) for n in sorted(counts))} threads in all"
    )


def kernel_feature(run, pattern: str, since: tuple[int, int], verdict: str, evidence):
    """The verdict of a claim about a kernel feature the pattern relies on, there from
    Linux `since`: evidence(release, "has" or "lacks") once the run has the pattern's
    cases and sysinfo.json the kernel's version."""
    if not any(c.pattern == pattern for c in run.cases):
        return no_pattern(pattern)
    ver, rel = kernel(run)
    if ver is None:
        return absent("the kernel version is not in sysinfo.json")
    return verdict, evidence(rel, "has" if ver >= since else "lacks")


def m6(run):
    return kernel_feature(
        run,
        "multi-accept",
        (4, 5),
        CONFIRMED if source_has("multi-accept", "EPOLLEXCLUSIVE") else REFUTED,
        lambda rel, has: (
            "the exclusive wake-up is epoll's EPOLLEXCLUSIVE, Linux 4.5 or later only (kqueue has "
            f"none, core/poller.hpp); this run's kernel {rel} {has} it"
        ),
    )


# --- R: SO_REUSEPORT ---------------------------------------------------------------------


def r1(run):
    """Scaling needs CPUs to scale onto and more than one connection; rates of
    generator-bound cells are not compared."""
    if not matrix(run, "reuseport", "tiny"):
        return no_pattern("reuseport", "tiny")
    a, b = pair(run, "single", "reuseport", "tiny", rate_counter=True)
    return scales(
        run,
        (a, b) if a is not None and a.connections >= 2 else (None, None),
        what="req/s ",
        missing="no connection count above 1 where neither single nor reuseport (tiny) was generator-bound",
    )


def r2(run):
    rp = [c for c in run.of_kind("matrix") if c.pattern == "reuseport"]
    if not rp:
        return no_pattern("reuseport")
    parts = []
    for counter, pref in (("jain_accepts", "churn"), ("jain_requests", None)):
        cs = [c for c in rp if c.c(counter) is not None]
        if not cs:
            continue
        c = max(cs, key=lambda c: (c.workload == pref, c.connections or 0, c.workload == "tiny"))
        parts.append(jain_verdict(c, counter))
    if not parts:
        return absent("no reuseport case has per-listener counts (jain_accepts, jain_requests)")
    kinds = {v for v, _ in parts}
    v = kinds.pop() if len(kinds) == 1 else DEPENDS
    return v, "; ".join(t for _, t in parts) + f" (even: >= {EVEN_JAIN} in every repetition)"


def r3(run):
    return absent(
        "no fault is ever injected into one listener or loop, so isolation is never tested"
    )


def r4(run):
    ab = pair(run, "single", "reuseport", "tiny")
    why = "needs single and reuseport in the tiny matrix"
    lines = f"; source {source_lines('reuseport')} lines vs {source_lines('single')}"
    what = "CPU us per request "
    return judged(ab, "cpu_us_per_req", u.plain, True, what, absent(why), lambda a, b: lines)


def r5(run):
    cpu = dig(run.sysinfo, "cpu", "model") or "this CPU"
    return kernel_feature(
        run,
        "reuseport",
        (3, 9),
        DEPENDS,
        lambda rel, has: (
            "on the kernel, not hardware: SO_REUSEPORT spreads TCP connections from Linux 3.9; "
            f"this run's kernel {rel} {has} it, on an ordinary {cpu}"
        ),
    )


def r6(run):
    rp = [c for c in run.cases if c.pattern == "reuseport"]
    if not rp:
        return no_pattern("reuseport")
    bad, reqs = verify_errors(rp)
    return (
        CONFIRMED if bad else REFUTED,
        f"replies failing verification (wrong id, payload or framing) over every reuseport case: "
        f"{u.count(bad)} of {u.count(reqs)}",
    )
