"""The textbook's claims about the server patterns and Nagle's algorithm, in this
project's own words: id, the claim in a few words, and what measurement would show
it. The rules that judge each claim against a run are in claims.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    id: str
    group: str
    claim: str  # a few words, as the report's table shows it
    shown_by: str  # what in a run would show it, one line


GROUPS = {
    "T": "threads and the CPU",
    "S": "one thread accepts and reads: the naive blocking server, one connection at a time "
    "(server-iterative)",
    "P": "a thread per connection",
    "Q": "one acceptor/reader, a worker pool behind a queue",
    "M": "several acceptor threads on one listening socket",
    "R": "several listeners on one port (SO_REUSEPORT)",
    "N": "Nagle's algorithm and TCP_NODELAY",
    "C": "connections and kernel buffers",
}

CLAIMS = [
    Claim(
        "T1",
        "T",
        "threads compete for the CPUs; the scheduler picks who runs",
        "involuntary context switches per request once threads outnumber the server's CPUs",
    ),
    Claim(
        "S1",
        "S",
        "simple to write",
        "lines of code of each pattern: its server file plus the core/ I/O machinery it runs on",
    ),
    Claim(
        "S2",
        "S",
        "one request at a time caps throughput",
        "req/s of server-iterative against the event loop (also one thread), with keep-alive "
        "clients and with a connection per request",
    ),
    Claim(
        "S3",
        "S",
        "waiting for a connection or data wastes CPU",
        "CPU per request of server-iterative against the event loop, both serving one client",
    ),
    Claim(
        "S4",
        "S",
        "no concurrent clients, poor service quality",
        "how many of server-iterative's keep-alive clients got a first reply at all",
    ),
    Claim(
        "P1",
        "P",
        "serves clients concurrently, a thread each",
        "a slow request delays only its own client: blocking-tail p99 at equal offered rate",
    ),
    Claim(
        "P2",
        "P",
        "reads never block the acceptor, so CPU is better used",
        "blocking-tail latency and tiny CPU per request against the event loop",
    ),
    Claim(
        "P3",
        "P",
        "concurrent clients land on different threads",
        "peak threads against connections at every connection count",
    ),
    Claim(
        "P4",
        "P",
        "a thread per connection costs memory",
        "peak RSS with many idle connections against the event loop",
    ),
    Claim(
        "P5",
        "P",
        "unbounded threads can overload the machine",
        "threads growing with connections, and what fails when they do",
    ),
    Claim(
        "P6",
        "P",
        "threads are not reused, which wastes work",
        "CPU per request with a new connection per request against the event loop",
    ),
    Claim(
        "Q1",
        "Q",
        "a fixed pool bounds the threads",
        "worker-queue's peak threads as connections grow",
    ),
    Claim(
        "Q2",
        "Q",
        "threads are reused through the queue",
        "worker-queue's threads under churn against thread-per-conn's",
    ),
    Claim(
        "Q3",
        "Q",
        "the queue spreads work evenly over the workers",
        "Jain's index of requests over the workers",
    ),
    Claim(
        "Q4",
        "Q",
        "the queue adds overhead",
        "CPU and voluntary switches per request against the event loop",
    ),
    Claim(
        "Q5",
        "Q",
        "the hand-off adds latency and may reorder replies",
        "p99 at equal offered rate, and replies that fail verification",
    ),
    Claim(
        "Q6", "Q", "a failing queue loses or duplicates messages", "a fault injected into the queue"
    ),
    Claim("M1", "M", "one listening socket for all acceptors", "listening sockets per pattern"),
    Claim(
        "M2",
        "M",
        "more acceptors accept connections faster",
        "req/s with a new connection per request against one acceptor, on several CPUs",
    ),
    Claim(
        "M3",
        "M",
        "one socket keeps acceptor/reader hand-off simple",
        "no number measures simplicity",
    ),
    Claim(
        "M4", "M", "needs low-level code and synchronisation", "what the server's source has to use"
    ),
    Claim(
        "M5",
        "M",
        "too many acceptors contend and slow down",
        "one pattern at several acceptor counts",
    ),
    Claim(
        "M6",
        "M",
        "not every platform supports it",
        "the kernel feature the exclusive wake-up needs",
    ),
    Claim(
        "R1", "R", "scales with heavy traffic", "req/s against one loop, with CPUs to scale onto"
    ),
    Claim(
        "R2",
        "R",
        "spreads load evenly over sockets and threads",
        "Jain's index of accepted connections and requests over the listeners",
    ),
    Claim("R3", "R", "a failure stays in its socket/thread", "a fault injected into one listener"),
    Claim(
        "R4", "R", "adds complexity and overhead", "CPU per request against one loop; source size"
    ),
    Claim(
        "R5",
        "R",
        "may need special hardware or software",
        "the kernel version and the socket option used",
    ),
    Claim(
        "R6",
        "R",
        "a request may be processed twice or inconsistently",
        "replies that fail verification over every reuseport case",
    ),
    Claim(
        "N1",
        "N",
        "coalescing small writes means fewer packets",
        "segments per request, nodelay off against on, many small writes per request",
    ),
    Claim(
        "N2",
        "N",
        "a small segment waits for a full segment or an ACK",
        "the second small write of a request held until the peer's delayed ACK",
    ),
    Claim(
        "N3",
        "N",
        "fewer packets, more throughput",
        "req/s and CPU per request, nodelay off against on, many small writes",
    ),
    Claim(
        "N4",
        "N",
        "it delays interactive traffic",
        "p50 of write-write-read exchanges: ~40 ms with nodelay off (delayed ACK)",
    ),
    Claim(
        "N5",
        "N",
        "TCP_NODELAY turns it off, on the sending side",
        "stalls as the client's and the server's nodelay flip",
    ),
    Claim(
        "C1",
        "C",
        "keep-alive is far cheaper than a connection per request",
        "CPU per request, churn against tiny, same pattern and connection count",
    ),
    Claim(
        "C2",
        "C",
        "TCP Fast Open cuts the first request's latency",
        "first-request latency with and without TFO",
    ),
    Claim(
        "C3",
        "C",
        "bytes wait in kernel queues between network and application",
        "how long replies sat in the client's receive queue, how many connections sat in the "
        "server's accept queue, and (Nagle run) bytes written but not yet sent",
    ),
]

CLAIM_IDS = [c.id for c in CLAIMS]
BY_ID = {c.id: c for c in CLAIMS}
