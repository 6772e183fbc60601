"""How evenly a server's threads share the work: Jain's index, busiest over idlest,
and which threads' values count."""

from __future__ import annotations

import math

from .values import num


def jain(values) -> float | None:
    """Jain's fairness index (sum x)^2 / (n * sum x^2): 1 when every thread did the
    same work, 1/n when one thread did all of it. None for fewer than two threads:
    over one value the index is 1 by construction and says nothing."""
    xs = [float(v) for v in values if v is not None]
    sq = sum(x * x for x in xs)
    if len(xs) < 2 or sq == 0:
        return None
    return sum(xs) ** 2 / (len(xs) * sq)


def maxmin(values) -> float | None:
    """Busiest over idlest; None for fewer than two threads (1 by construction)."""
    xs = [float(v) for v in values if v is not None]
    if len(xs) < 2 or max(xs) == 0:
        return None
    return math.inf if min(xs) == 0 else max(xs) / min(xs)


def thread_values(threads: list[dict], key: str) -> list[float]:
    """Per-thread values of `key` over the threads whose role does that kind of work.

    A role counts when any thread of that role has a non-zero value: the loops of
    reuseport for requests, the acceptor of reactor-pool for accepts, the
    connection threads of thread-per-conn for requests. Threads of a role that
    never does the work (reactor-pool's reader loops for accepts) would only drag
    the fairness index down for no reason."""
    roles = {t.get("role", "loop") for t in threads if (num(t.get(key)) or 0) > 0}
    return [num(t.get(key)) or 0.0 for t in threads if t.get("role", "loop") in roles]
