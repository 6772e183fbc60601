"""Number formatting shared by the report and compare, so a value prints the same
way in every table (the tests parse these strings back)."""

from __future__ import annotations

import math

DASH = "–"


def latency(us: float | None) -> str:
    """Microseconds as "87 us", "1.23 ms", "2.50 s"."""
    if us is None:
        return DASH
    if us < 1000:
        return f"{us:.0f} us" if us >= 10 else f"{us:.1f} us"
    if us < 1_000_000:
        return f"{us / 1000:.2f} ms" if us < 100_000 else f"{us / 1000:.1f} ms"
    return f"{us / 1e6:.2f} s"


def rate(rps: float | None) -> str:
    """Requests per second with thousands separators: "123,456"."""
    if rps is None:
        return DASH
    return f"{rps:,.0f}" if rps >= 100 else f"{rps:.1f}"


def ratio(x: float | None) -> str:
    if x is None:
        return DASH
    if math.isinf(x):
        return "∞"
    return f"{x:.1f}x" if x < 100 else f"{x:,.0f}x"


def plain(x: float | None, digits: int = 3) -> str:
    """A measured value with about `digits` significant digits, so a column of
    per-request figures reads alike: 38.0, 6.30, 0.970, 0.0031."""
    if x is None:
        return DASH
    if math.isinf(x):
        return "∞"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 10 ** digits:
        return f"{x:,.0f}"
    if a >= 1:
        decimals = max(0, digits - 1 - int(math.floor(math.log10(a))))
        return f"{x:.{decimals}f}"
    return f"{x:.{digits}g}"


def count(x: float | None) -> str:
    """A count (threads, errors, stalls): an integer with thousands separators."""
    if x is None:
        return DASH
    if math.isinf(x):
        return "∞"
    return f"{x:,.0f}"


def index(x: float | None) -> str:
    """A fairness index: three decimals."""
    return DASH if x is None else f"{x:.3f}"


def memory_kb(kb: float | None) -> str:
    if kb is None:
        return DASH
    if kb < 1024:
        return f"{kb:.0f} KiB"
    if kb < 1024 * 1024:
        return f"{kb / 1024:.1f} MiB"
    return f"{kb / 1024 / 1024:.2f} GiB"


def percent(fraction: float | None) -> str:
    return DASH if fraction is None else f"{100 * fraction:.1f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def times(a: float | None, b: float | None) -> float | None:
    """a / b when both are positive: how many times bigger a is."""
    if a is None or b is None or b <= 0 or a < 0:
        return None
    return a / b
