"""REPORT.md's "What the textbook claims": one verdict per claim of claims_text.py,
read from the run's JSON.

Each rule takes the loaded Run and returns (verdict, evidence). Verdicts:
  confirmed / refuted     the run shows the effect, or its opposite;
  depends                 it holds under one condition and not another (both numbers given);
  not measurable here     what is missing is named (a pattern, a CPU count, the Nagle run).

Comparisons go through analysis.differs, the report's noise rule. A claim predicts an
effect; when the run measured both sides under the same conditions and the ranges
overlap, the effect is smaller than the machine's run-to-run noise, which is not the
effect the notes warn about: the verdict is "refuted" and the evidence starts with
"no measurable difference". (With one repetition the rule falls back to a 5% threshold
and the evidence says the difference is untested.) Rates of generator-bound cases are
never compared (they describe the generator); CPU per request still is.
"""

from __future__ import annotations

import os
import re

from . import analysis
from . import units as u
from .claims_text import BY_ID, CLAIMS, GROUPS
from .rundir import Case, Run, dig, num, pattern_key

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
# A Nagle exchange of this many microseconds or more is a stall (the harness's kStallUs).
STALL_US = 30000.0

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_FILES = {
    "single": "single_thread.cpp",
    "thread-per-conn": "thread_per_conn.cpp",
    "worker-queue": "worker_queue.cpp",
    "multi-accept": "multi_accept.cpp",
    "reuseport": "reuseport.cpp",
    "reactor-pool": "reactor_pool.cpp",
}
NAIVE_MISSING = "the naive blocking server (one connection at a time) is not in this suite yet"
NAGLE_MISSING = "needs the Nagle run: `make bench-nagle`"


# --- reading the run ----------------------------------------------------------------


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


def source_lines(pattern: str) -> int | None:
    """Lines of servers/<file>.cpp that are neither blank nor comments, counted now."""
    path = os.path.join(REPO, "servers", SERVER_FILES.get(pattern, ""))
    try:
        with open(path, encoding="utf-8") as f:
            return sum(1 for line in f if line.strip() and not line.strip().startswith("//"))
    except OSError:
        return None


def source_has(pattern: str, word: str) -> bool:
    try:
        with open(
            os.path.join(REPO, "servers", SERVER_FILES.get(pattern, "")), encoding="utf-8"
        ) as f:
            return word in f.read()
    except OSError:
        return False


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


# --- T, S -----------------------------------------------------------------------------


def t1(run):
    """Involuntary switches appear where threads outnumber the server's CPUs."""
    ncpu, where = server_cpus(run)
    for wl in ("tiny", "cpu", "blocking-tail"):
        a, b = pair(run, "single", "thread-per-conn", wl)
        if a is None:
            continue
        threads = b.c("peak_threads")
        if ncpu is None or threads is None or threads <= ncpu:
            continue
        d, text = compare(a, b, "ivcsw_per_req", u.plain)
        return judge(d, True), (
            f"involuntary switches per request, {text}; thread-per-conn ran "
            f"{u.count(threads)} threads on {ncpu} server CPU(s) ({where})"
        )
    return absent(
        "needs thread-per-conn and single at a connection count where threads outnumber "
        f"the server's {ncpu or '?'} CPU(s)"
    )


def s1(run):
    """Simple: judged by the size of the event loop's source, the fact the project can count."""
    sizes = {p: source_lines(p) for p in SERVER_FILES}
    sizes = {p: n for p, n in sizes.items() if n is not None}
    if "single" not in sizes or len(sizes) < 2:
        return absent("servers/*.cpp not found next to tools/")
    others = [n for p, n in sizes.items() if p != "single"]
    smallest = sizes["single"] < min(others)
    return (
        CONFIRMED if smallest else REFUTED,
        f"{NAIVE_MISSING}; its stand-in here, the event loop servers/single_thread.cpp, is "
        f"{sizes['single']} lines of code against {min(others)}-{max(others)} for the other patterns "
        "(non-blank, non-comment, counted at report time, all on the shared core/)",
    )


def s2(run):
    a, b = pair(run, "single", "reuseport", "tiny", rate_counter=True)
    extra = ""
    if a is not None:
        _, text = compare(a, b, "rps", u.compact_rate)
        extra = f"; the event loop (also one thread) against two loops, req/s: {text}"
    return absent(NAIVE_MISSING + extra)


def s3(run):
    single = matrix(run, "single", "blocking-tail")
    extra = ""
    if single:
        c = single[max(single)]
        extra = (
            f"; the event loop sleeps in epoll_wait instead, CPU per request "
            f"{label(c)} {show(c, 'cpu_us_per_req', u.plain)} us"
        )
    return absent(NAIVE_MISSING + extra)


def s4(run):
    ms = matrix(run, "single", "tiny")
    extra = ""
    if len(ms) >= 2 and not ms[max(ms)].generator_bound:
        lo, hi = ms[min(ms)], ms[max(ms)]
        extra = (
            f"; the event loop does serve clients concurrently: req/s {label(lo)} "
            f"{show(lo, 'rps', u.compact_rate)}, {label(hi)} {show(hi, 'rps', u.compact_rate)}"
        )
    return absent(NAIVE_MISSING + extra)


# --- P: thread per connection ------------------------------------------------------------


def sweep_pair(run, pa, pb, workload):
    """(a, b): the two patterns' sweep points at the rate analysis.equal_load_rate picks."""
    sa = [c for c in run.of_kind("sweep") if c.pattern == pa and c.workload == workload]
    sb = [c for c in run.of_kind("sweep") if c.pattern == pb and c.workload == workload]
    r = analysis.equal_load_rate(sa, sb)
    if r is None:
        return None, None
    return ([c for c in sa if c.offered_rps == r][0], [c for c in sb if c.offered_rps == r][0])


def p1(run):
    """Concurrency shows as a sleeping request delaying only its own client."""
    a, b = sweep_pair(run, "single", "thread-per-conn", "blocking-tail")
    if a is None:
        return absent(
            "needs single and thread-per-conn in the blocking-tail sweep at a common offered rate"
        )
    d, text = compare(a, b, "p99", u.latency)
    return judge(d, False), f"blocking-tail p99 at equal offered rate, {text}"


def p2(run):
    """Better CPU use: wins where requests block (blocking-tail p99 at equal rate),
    measured against what it costs where they do not (tiny CPU per request)."""
    a, b = sweep_pair(run, "single", "thread-per-conn", "blocking-tail")
    c, e = pair(run, "single", "thread-per-conn", "tiny")
    if a is None or c is None:
        return absent(
            "needs single and thread-per-conn in the blocking-tail sweep and the tiny matrix"
        )
    d1, t1_ = compare(a, b, "p99", u.latency)
    d2, t2_ = compare(c, e, "cpu_us_per_req", u.plain)
    wins = [judge(d1, False) == CONFIRMED, judge(d2, False) == CONFIRMED]
    verdict = CONFIRMED if all(wins) else REFUTED if not any(wins) else DEPENDS
    return verdict, (
        f"where requests block, p99 at equal offered rate: {t1_}; where they do not, "
        f"CPU us per request: {t2_}"
    )


def p3(run):
    cases = [
        c
        for c in run.of_kind("matrix")
        if c.pattern == "thread-per-conn"
        and c.workload != "churn"
        and c.connections
        and c.c("peak_threads") is not None
    ]
    if not cases:
        return no_pattern("thread-per-conn")
    cases.sort(key=lambda c: (c.connections, c.workload))
    short = [c for c in cases if c.c("peak_threads") < c.connections + 1]
    shown = ", ".join(f"{label(c)}: {u.count(c.c('peak_threads'))}" for c in (short or cases)[:4])
    if short:
        return REFUTED, f"fewer threads than connections + the acceptor: {shown}"
    return (
        CONFIRMED,
        f"peak threads >= connections + 1 in all {len(cases)} keep-alive cases: {shown}",
    )


def p4(run):
    a, b = pair(run, "single", "thread-per-conn", "idle-heavy")
    if a is None:
        return absent("needs single and thread-per-conn in the idle-heavy case")
    d, text = compare(a, b, "peak_rss_kb", u.memory_kb)
    return judge(d, True), (
        f"peak RSS, {text}; threads {u.count(a.c('peak_threads'))} vs "
        f"{u.count(b.c('peak_threads'))}"
    )


def p5(run):
    """Unbounded: threads follow connections. Overload: some connections never came up,
    errors, or req/s measurably below the event loop's at the same count."""
    ms = {}
    for c in run.of_kind("matrix"):
        if c.pattern == "thread-per-conn" and c.connections and c.c("peak_threads") is not None:
            if c.connections not in ms or c.c("peak_threads") > ms[c.connections].c("peak_threads"):
                ms[c.connections] = c
    if not ms:
        return no_pattern("thread-per-conn")
    top = ms[max(ms)]
    grows = top.c("peak_threads") >= top.connections
    threads = f"{u.count(top.c('peak_threads'))} threads at {u.count(top.connections)} connections ({label(top)})"
    if not grows:
        return REFUTED, f"threads did not follow connections: {threads}"
    signs = []
    if top.bringup_incomplete:
        b = top.bringup() or {}
        signs.append(
            f"{u.count(num(b.get('up')))} of {u.count(num(b.get('connections')))} connections came up"
        )
    if top.has_errors:
        signs.append(f"{show(top, 'errors', u.count)} errors")
    single = matrix(run, "single", top.workload).get(top.connections)
    if single is not None and not (single.generator_bound or top.generator_bound):
        d, text = compare(single, top, "rps", u.compact_rate)
        if d is not None and d.differ and d.sign < 0:
            signs.append(f"req/s {text}")
    if signs:
        return CONFIRMED, f"{threads}; overload: " + "; ".join(signs)
    return absent(
        f"{threads} (only --max-threads bounds them), but nothing failed at this count: the "
        "overload needs more connections than this run opened"
    )


def p6(run):
    a, b = pair(run, "single", "thread-per-conn", "churn")
    if a is None:
        return absent(
            "needs single and thread-per-conn in the churn workload (a connection per request)"
        )
    d, text = compare(a, b, "cpu_us_per_req", u.plain)
    return judge(d, True), f"a new connection per request, CPU us per request: {text}"


# --- Q: worker queue -------------------------------------------------------------------------


def q1(run):
    ms = {
        n: c
        for n, c in matrix(run, "worker-queue", "tiny").items()
        if c.c("peak_threads") is not None
    }
    if not ms:
        ms = {
            c.connections: c
            for c in run.of_kind("matrix")
            if c.pattern == "worker-queue" and c.c("peak_threads") is not None and c.connections
        }
    if not ms:
        return no_pattern("worker-queue")
    lo, hi = ms[min(ms)], ms[max(ms)]
    bounded = (
        hi.c("peak_threads") <= max(lo.c("peak_threads"), 0)
        or hi.c("peak_threads") < hi.connections
    )
    return (
        CONFIRMED if bounded else REFUTED,
        f"peak threads {label(lo)} {u.count(lo.c('peak_threads'))}, {label(hi)} {u.count(hi.c('peak_threads'))}",
    )


def q2(run):
    a, b = pair(run, "thread-per-conn", "worker-queue", "churn")
    if a is None:
        wq = matrix(run, "worker-queue", "churn")
        if not wq:
            return no_pattern("worker-queue", "churn")
        c = wq[max(wq)]
        return absent(
            f"needs thread-per-conn under churn to compare with; {label(c)} peaked at "
            f"{u.count(c.c('peak_threads'))} threads"
        )
    d, text = compare(a, b, "peak_threads", u.count)
    return judge(d, False), f"a new connection per request, peak threads: {text}"


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


def q3(run):
    cases = [
        c
        for c in run.of_kind("matrix")
        if c.pattern == "worker-queue" and c.c("jain_requests") is not None
    ]
    if not cases:
        return (
            no_pattern("worker-queue")
            if not any(c.pattern == "worker-queue" for c in run.cases)
            else absent("no worker-queue case has per-worker request counts (jain_requests)")
        )
    c = max(cases, key=lambda c: (c.workload == "cpu", c.connections or 0))
    v, text = jain_verdict(c, "jain_requests")
    return v, f"{text}; even means >= {EVEN_JAIN} in every repetition"


def q4(run):
    a, b = pair(run, "single", "worker-queue", "tiny")
    if a is None:
        return no_pattern("worker-queue", "tiny")
    d1, t1_ = compare(a, b, "cpu_us_per_req", u.plain)
    d2, t2_ = compare(a, b, "vcsw_per_req", u.plain)
    v1, v2 = judge(d1, True), judge(d2, True)
    return (
        v1 if v1 == v2 else DEPENDS
    ), f"CPU us per request {t1_}; voluntary switches per request {t2_}"


def q5(run):
    a, b = sweep_pair(run, "single", "worker-queue", "tiny")
    wq = [c for c in run.cases if c.pattern == "worker-queue"]
    if not wq:
        return no_pattern("worker-queue")
    bad, reqs = verify_errors(wq)
    order = f"replies failing verification over every worker-queue case: {u.count(bad)} of {u.count(reqs)}"
    if a is None:
        return absent(
            f"needs single and worker-queue in the tiny sweep for latency at equal load; {order}"
        )
    d, text = compare(a, b, "p99", u.latency)
    return judge(d, True), f"tiny p99 at equal offered rate, {text}; {order}"


def q6(run):
    return absent(
        "no fault is ever injected into the queue; the loadgen verifies every reply, so a loss "
        "would show as a timeout and a duplicate as a protocol error, but nothing makes the queue fail"
    )


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


def m2(run):
    a, b = pair(run, "single", "multi-accept", "churn", rate_counter=True)
    if a is None:
        short = multi_cpu(run)
        why = "needs single and multi-accept under churn (a connection per request), not generator-bound"
        return absent(f"{short}; {why}" if short else why)
    d, text = compare(a, b, "rps", u.compact_rate)
    short = multi_cpu(run)
    if short:
        return absent(f"{short}; a connection per request, req/s {text}")
    return judge(d, True), f"a connection per request, req/s {text}"


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


def m6(run):
    if not any(c.pattern == "multi-accept" for c in run.cases):
        return no_pattern("multi-accept")
    ver, rel = kernel(run)
    if ver is None:
        return absent("the kernel version is not in sysinfo.json")
    has = ver >= (4, 5)
    return (
        CONFIRMED if source_has("multi-accept", "EPOLLEXCLUSIVE") else REFUTED,
        f"the exclusive wake-up is epoll's EPOLLEXCLUSIVE, Linux 4.5 or later only (kqueue has none, "
        f"core/poller.hpp); this run's kernel {rel} {'has' if has else 'lacks'} it",
    )


# --- R: SO_REUSEPORT ---------------------------------------------------------------------


def r1(run):
    """Scaling needs CPUs to scale onto and more than one connection; rates of
    generator-bound cells are not compared."""
    if not matrix(run, "reuseport", "tiny"):
        return no_pattern("reuseport", "tiny")
    a, b = pair(run, "single", "reuseport", "tiny", rate_counter=True)
    short = multi_cpu(run)
    if a is None or a.connections < 2:
        why = "no connection count above 1 where neither single nor reuseport (tiny) was generator-bound"
        return absent(f"{short}; {why}" if short else why)
    d, text = compare(a, b, "rps", u.compact_rate)
    if short:
        return absent(f"{short}; req/s {text}")
    return judge(d, True), f"req/s {text}"


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
    a, b = pair(run, "single", "reuseport", "tiny")
    if a is None:
        return absent("needs single and reuseport in the tiny matrix")
    d, text = compare(a, b, "cpu_us_per_req", u.plain)
    return judge(d, True), (
        f"CPU us per request {text}; source {source_lines('reuseport')} lines vs "
        f"{source_lines('single')}"
    )


def r5(run):
    if not any(c.pattern == "reuseport" for c in run.cases):
        return no_pattern("reuseport")
    ver, rel = kernel(run)
    if ver is None:
        return absent("the kernel version is not in sysinfo.json")
    cpu = dig(run.sysinfo, "cpu", "model") or "this CPU"
    ok = ver >= (3, 9)
    return DEPENDS, (
        f"on the kernel, not hardware: SO_REUSEPORT spreads TCP connections from Linux 3.9; "
        f"this run's kernel {rel} {'has' if ok else 'lacks'} it, on an ordinary {cpu}"
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


# --- N: Nagle --------------------------------------------------------------------------------


def nagle_missing(run) -> tuple[str, str]:
    text = NAGLE_MISSING
    link = sibling_nagle_report(run)
    if link:
        text += f" (the newest one next to this run: [{link[0]}]({link[1]}))"
    return NOT_MEASURABLE, text


def sibling_nagle_report(run):
    """(name, relative link) of the newest nagle run directory next to this one with a REPORT.md."""
    parent = os.path.dirname(run.path.rstrip("/"))
    try:
        names = sorted(os.listdir(parent), reverse=True)
    except OSError:
        return None
    for n in names:
        if (
            n.endswith("-nagle")
            and n != os.path.basename(run.path.rstrip("/"))
            and os.path.isfile(os.path.join(parent, n, "REPORT.md"))
        ):
            return n, f"../{n}/REPORT.md"
    return None


def upside(run):
    up = {c.client_nodelay: c for c in run.of_kind("nagle-upside")}
    return up.get(True), up.get(False)


def cell(run, client, server, write, quickack=False):
    for c in run.of_kind("nagle"):
        if (c.client_nodelay, c.server_nodelay, c.write_pattern, bool(c.quickack)) == (
            client,
            server,
            write,
            quickack,
        ):
            return c
    return None


def n1(run):
    on, off = upside(run)
    if on is None or off is None:
        return nagle_missing(run)
    d, text = compare(on, off, "segs_out_per_req", u.plain)
    return judge(d, False), f"client segments per request, {text}"


def stalls(c: Case) -> bool:
    p50 = c.latency("p50")
    return p50 is not None and p50 >= STALL_US


def n2(run):
    split, one = cell(run, False, True, "split"), cell(run, False, True, "writev")
    if split is None:
        return nagle_missing(run)
    text = f"{label(split)}: p50 {show(split, 'p50', u.latency)}"
    if one is not None:
        text += f"; the same bytes in one write ({label(one)}): p50 {show(one, 'p50', u.latency)}"
    verdict = CONFIRMED if stalls(split) and (one is None or not stalls(one)) else REFUTED
    return verdict, (
        text + ": the second write waited for the ACK; the full-segment condition is not "
        "isolated (no request here reaches a full segment)"
    )


def n3(run):
    on, off = upside(run)
    if on is None or off is None:
        return nagle_missing(run)
    d1, t1_ = compare(on, off, "rps", u.compact_rate)
    d2, t2_ = compare(on, off, "cpu_us_per_req", u.plain)
    v1, v2 = judge(d1, True), judge(d2, False)
    if on.generator_bound or off.generator_bound:
        v1, t1_ = v2, t1_ + " (generator-bound: not ranked)"
    return (v1 if v1 == v2 else DEPENDS), f"req/s {t1_}; CPU us per request {t2_}"


def n4(run):
    off, on = cell(run, False, True, "split"), cell(run, True, True, "split")
    if off is None or on is None:
        return nagle_missing(run)
    d, text = compare(on, off, "p50", u.latency)
    sf = show(off, "stall_fraction", u.percent)
    verdict = CONFIRMED if stalls(off) and judge(d, True) == CONFIRMED else REFUTED
    return verdict, f"split writes, p50 {text}; exchanges over 30 ms with nodelay off: {sf}"


def n5(run):
    c_off, c_on = cell(run, False, True, "split"), cell(run, True, True, "split")
    s_off = cell(run, True, False, "split")
    if c_off is None or c_on is None:
        return nagle_missing(run)
    client_matters = stalls(c_off) and not stalls(c_on)
    text = (
        f"client's nodelay: off p50 {show(c_off, 'p50', u.latency)}, on {show(c_on, 'p50', u.latency)} "
        "(the client writes the split request)"
    )
    if s_off is None:
        text += "; no cell with only the server's nodelay off in this run"
        return (CONFIRMED if client_matters else REFUTED), text
    server_matters = stalls(s_off)
    text += f"; server's nodelay off with the client's on: p50 {show(s_off, 'p50', u.latency)}"
    return (CONFIRMED if client_matters and not server_matters else REFUTED), text


# --- C ---------------------------------------------------------------------------------------


def c1(run):
    for p in sorted({c.pattern for c in run.of_kind("matrix")}, key=pattern_key):
        keep, churn = matrix(run, p, "tiny"), matrix(run, p, "churn")
        common = sorted(set(keep) & set(churn))
        if common:
            n = common[-1]
            d, text = compare(keep[n], churn[n], "cpu_us_per_req", u.plain)
            return (
                judge(d, True),
                f"CPU us per request, keep-alive vs a connection per request: {text}",
            )
    return absent(
        "needs tiny (keep-alive) and churn cases of one pattern at the same connection count"
    )


def c2(run):
    return absent("no case enables TCP Fast Open (TCP_FASTOPEN is set on neither side)")


def c3(run):
    cs = [
        c for c in run.cases if num(dig(c.loadgen, "generator", "recv_delay_us", "p50")) is not None
    ]
    if not cs:
        return absent("the loadgen records have no receive delay (generator.recv_delay_us)")
    p50 = sorted(num(dig(c.loadgen, "generator", "recv_delay_us", "p50")) for c in cs)
    p99 = sorted(num(dig(c.loadgen, "generator", "recv_delay_us", "p99")) or 0 for c in cs)
    med = p50[len(p50) // 2]
    return (
        CONFIRMED if med > 0 else REFUTED,
        f"replies waited in the client's receive queue (kernel timestamp to read) {u.latency(med)} at the "
        f"median case's p50, p99 up to {u.latency(p99[-1])}, over {len(cs)} cases",
    )


RULES = {
    "T1": t1,
    "S1": s1,
    "S2": s2,
    "S3": s3,
    "S4": s4,
    "P1": p1,
    "P2": p2,
    "P3": p3,
    "P4": p4,
    "P5": p5,
    "P6": p6,
    "Q1": q1,
    "Q2": q2,
    "Q3": q3,
    "Q4": q4,
    "Q5": q5,
    "Q6": q6,
    "M1": m1,
    "M2": m2,
    "M3": m3,
    "M4": m4,
    "M5": m5,
    "M6": m6,
    "R1": r1,
    "R2": r2,
    "R3": r3,
    "R4": r4,
    "R5": r5,
    "R6": r6,
    "N1": n1,
    "N2": n2,
    "N3": n3,
    "N4": n4,
    "N5": n5,
    "C1": c1,
    "C2": c2,
    "C3": c3,
}


def verdicts(run: Run) -> dict[str, tuple[str, str]]:
    """{claim id: (verdict, evidence)} for every claim."""
    out = {}
    for claim in CLAIMS:
        try:
            out[claim.id] = RULES[claim.id](run)
        except (
            TypeError,
            ValueError,
            ZeroDivisionError,
            KeyError,
        ) as e:  # a malformed run never kills the report
            out[claim.id] = (
                NOT_MEASURABLE,
                f"the run's numbers for this could not be read ({type(e).__name__})",
            )
    return out


def md_table(headers, rows) -> str:
    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(":---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]) + "\n"


def section(run: Run) -> str:
    """REPORT.md's "What the textbook claims"."""
    results = verdicts(run)
    counts = {v: sum(1 for r in results.values() if r[0] == v) for v in VERDICTS}
    out = [
        "## What the textbook claims\n",
        "Each claim of the course notes, paraphrased, with a verdict read from this run: **confirmed**, "
        "**refuted**, **depends** (on the condition named, both numbers given) or **not measurable here** "
        "(what is missing is named). Comparisons use the report's noise rule: a claimed difference whose "
        "ranges overlap is *no measurable difference*, and the claim is refuted at this run's size. "
        "Generator-bound rates are never compared. "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + ".\n",
    ]
    rows = []
    group = None
    for claim in CLAIMS:
        if claim.group != group:
            group = claim.group
            rows.append([f"**{group}**", f"*{GROUPS[group]}*", "", ""])
        v, ev = results[claim.id]
        rows.append([claim.id, claim.claim, f"**{v}**" if v in (CONFIRMED, REFUTED) else v, ev])
    out.append(md_table(["id", "claim", "verdict", "evidence"], rows))
    return "\n".join(out) + "\n"


__all__ = ["verdicts", "section", "VERDICTS", "BY_ID"]
