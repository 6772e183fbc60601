"""The claim rules of one server pattern each: T (threads and the CPU), S (one thread
accepts and reads), P (a thread per connection), Q (a worker pool behind a queue)."""

from __future__ import annotations

from . import units as u
from .claims_evidence import (
    CONFIRMED,
    DEPENDS,
    EVEN_JAIN,
    REFUTED,
    SERVER_FILES,
    absent,
    compare,
    jain_verdict,
    judge,
    judged,
    label,
    matrix,
    no_pattern,
    pair,
    server_cpus,
    show,
    pattern_lines,
    sweep_pair,
    verify_errors,
)
from .rundir import num

NAIVE = "iterative"  # the naive blocking server: one thread, one connection at a time


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
    """Simple: judged by the size of the pattern's own code, the fact the project can count:
    its server file plus the core/ I/O machinery it runs on."""
    sizes = {p: pattern_lines(p) for p in SERVER_FILES}
    sizes = {p: n for p, n in sizes.items() if n is not None}
    if NAIVE not in sizes or len(sizes) < 2:
        return absent(f"servers/*.cpp (server-{NAIVE} and the others) not found next to tools/")
    others = {p: n for p, (n, _) in sizes.items() if p != NAIVE}
    naive, files = sizes[NAIVE]
    smallest = naive < min(others.values())
    least = min(others, key=others.get)
    return (
        CONFIRMED if smallest else REFUTED,
        f"server-{NAIVE} is {naive} lines of code (servers/{SERVER_FILES[NAIVE]} + "
        f"{', '.join('core/' + f for f in files)}) against {min(others.values())} "
        f"(server-{least}) to {max(others.values())} for the other patterns, each counted "
        "with the core/ I/O machinery it includes (blocking connections, or the reactor, "
        "event loop and poller); codecs, sockets and stats are shared and not counted",
    )


def naive_and_loop(run, workload: str, connections: int | None = None):
    """(the event loop's case, the naive server's) for `workload` at `connections`, or at
    the highest count both ran."""
    a, b = matrix(run, "single", workload), matrix(run, NAIVE, workload)
    counts = sorted(set(a) & set(b))
    if connections is not None:
        counts = [n for n in counts if n == connections]
    return (a[counts[-1]], b[counts[-1]]) if counts else (None, None)


def s2(run):
    """One request at a time limits throughput: with keep-alive clients it serves one of
    them; over a connection per request every server on one CPU takes them in turn."""
    keep = naive_and_loop(run, "tiny")
    if keep[0] is None:
        return no_pattern(NAIVE, "tiny")
    d_keep, keep_text = compare(*keep, "rps", u.compact_rate)
    keep_fewer = judge(d_keep, False) == CONFIRMED
    churn = naive_and_loop(run, "churn")
    if churn[0] is None:
        return (CONFIRMED if keep_fewer else REFUTED), f"keep-alive, req/s: {keep_text}"
    d_churn, churn_text = compare(*churn, "rps", u.compact_rate)
    churn_fewer = judge(d_churn, False) == CONFIRMED
    text = f"keep-alive, req/s: {keep_text}; a connection per request: {churn_text}"
    if keep_fewer and churn_fewer:
        return CONFIRMED, text
    if keep_fewer or churn_fewer:
        which = "keep-alive clients" if keep_fewer else "a connection per request"
        return DEPENDS, f"fewer requests only with {which}: " + text
    return REFUTED, text


def s3(run):
    """Blocking wastes CPU? A blocked thread sleeps: compare the CPU per request of the
    naive server and the event loop serving the same single client."""
    a, b = naive_and_loop(run, "tiny", 1)
    if a is None:
        return absent(f"needs server-{NAIVE} and server-single on tiny with 1 connection")
    d, text = compare(a, b, "cpu_us_per_req", u.plain)
    sleeps = b.c("vcsw_per_req")
    more = (
        f"; it sleeps in the kernel {u.plain(sleeps)} times per request (voluntary switches)"
        if sleeps is not None
        else ""
    )
    return judge(d, True), f"CPU per request (us), one client: {text}{more}"


def s4(run):
    """Cannot serve clients concurrently: how many keep-alive clients got a first reply."""
    ms = matrix(run, NAIVE, "tiny")
    many = {n: c for n, c in ms.items() if n > 1}
    if not many:
        return no_pattern(NAIVE, "tiny with more than one connection")
    c = many[max(many)]
    b = c.bringup() or {}
    up, total = num(b.get("up")), num(b.get("connections"))
    if up is None or total is None:
        return absent(f"{label(c)} has no start-barrier record (loadgen bringup)")
    seconds = num(b.get("seconds"))
    within = f" within {seconds:.1f} s" if seconds is not None else ""
    queue = c.c("accept_queue_max")
    queued = (
        f"; the others waited in the listener's accept queue (up to {u.count(queue)})"
        if queue is not None
        else ""
    )
    return (
        CONFIRMED if up < total else REFUTED,
        f"{label(c)}: {u.count(up)} of {u.count(total)} keep-alive clients got a first "
        f"reply{within}{queued}",
    )


# --- P: thread per connection ------------------------------------------------------------


def p1(run):
    """Concurrency shows as a sleeping request delaying only its own client."""
    ab = sweep_pair(run, "single", "thread-per-conn", "blocking-tail")
    why = "needs single and thread-per-conn in the blocking-tail sweep at a common offered rate"
    what = "blocking-tail p99 at equal offered rate, "
    return judged(ab, "p99", u.latency, False, what, absent(why))


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
    ab = pair(run, "single", "thread-per-conn", "idle-heavy")
    why = "needs single and thread-per-conn in the idle-heavy case"

    def threads(a, b):
        return f"; threads {u.count(a.c('peak_threads'))} vs {u.count(b.c('peak_threads'))}"

    return judged(ab, "peak_rss_kb", u.memory_kb, True, "peak RSS, ", absent(why), threads)


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
    ab = pair(run, "single", "thread-per-conn", "churn")
    why = "needs single and thread-per-conn in the churn workload (a connection per request)"
    what = "a new connection per request, CPU us per request: "
    return judged(ab, "cpu_us_per_req", u.plain, True, what, absent(why))


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
