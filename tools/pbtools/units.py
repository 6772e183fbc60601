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
    if a >= 10**digits:
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


# --- medians with their range (section D: counters are medians over repetitions) ---


def compact_rate(rps: float | None) -> str:
    """Requests per second in three significant digits: "81.7k", "1.48k", "950", "2.31M"."""
    if rps is None:
        return DASH

    def three(x):
        a = abs(x)
        return f"{x:.2f}" if a < 9.995 else f"{x:.1f}" if a < 99.95 else f"{x:.0f}"

    a = abs(rps)
    if a >= 999_500:
        return three(rps / 1e6) + "M"
    if a >= 999.5:
        return three(rps / 1e3) + "k"
    return three(rps) if a >= 1 else f"{rps:.2g}"


def _latency_parts(us: float) -> tuple[str, str]:
    """("1.23", "ms"): latency() split into number and unit."""
    text = latency(us)
    number, _, unit = text.partition(" ")
    return number, unit


def _latency_in(us: float, unit: str, like: str) -> str:
    """us written in `unit` with as many decimals as `like` has."""
    decimals = len(like.partition(".")[2])
    scale = {"us": 1.0, "ms": 1e3, "s": 1e6}[unit]
    return f"{us / scale:.{decimals}f}"


def ranged(fmt, value: float | None, lo: float | None, hi: float | None, n: int = 1) -> str:
    """ "81.7k [79.9k-83.0k]": a median and its min-max over n repetitions. With one
    repetition (or no range) just the value. fmt is one of this module's formatters;
    latency() ranges share the median's unit: "9.50 ms [9.31-9.77]"."""
    text = fmt(value)
    if value is None or n < 2 or lo is None or hi is None:
        return text
    if fmt is latency:
        number, unit = _latency_parts(value)
        lo_n, lo_u = _latency_parts(lo)
        hi_n, hi_u = _latency_parts(hi)
        if lo_u == unit and hi_u == unit:
            return f"{text} [{lo_n}-{hi_n}]"
        if unit in ("us", "ms", "s") and lo_u in ("us", "ms", "s") and hi / max(value, 1e-9) < 100:
            return f"{text} [{_latency_in(lo, unit, number)}-{_latency_in(hi, unit, number)}]"
        return f"{text} [{latency(lo)} to {latency(hi)}]"
    lo_t, hi_t = fmt(lo), fmt(hi)
    unit = text.rpartition(" ")[2] if " " in text else None
    if unit and lo_t.endswith(" " + unit) and hi_t.endswith(" " + unit):
        lo_t, hi_t = lo_t[: -len(unit) - 1], hi_t[: -len(unit) - 1]
    return f"{text} [{lo_t}-{hi_t}]"


def measure(fmt, m) -> str:
    """ranged() of an analysis.Measure (None: a dash)."""
    if m is None:
        return DASH
    return ranged(fmt, m.value, m.lo, m.hi, m.n)
