"""The claims experiments (bench/experiments.hpp): one module per experiment,
exp_<name>.py, each with

    NAME     the experiment's name in its cases (claims/<NAME>/...);
    TITLE    the heading of its REPORT.md section;
    section(report, cases) -> str
             its chart(s) and table(s), from its cases (report.chart(), report.flag());
    RULES    {claim id: rule(run, cases) -> (verdict, evidence) | None}: the verdict
             its cases give a claim; None when they cannot (the claims table then
             uses the matrix's rule, claims.py).

A run has an experiment's cases when it ran the claims profile (or a filter of it).
"""

from __future__ import annotations

from . import (
    exp_accept,
    exp_connection,
    exp_fastopen,
    exp_nagle_size,
    exp_overload,
    exp_queue,
    exp_shard,
)

# The order of bench/experiments.cpp, which is the report's.
MODULES = [
    exp_accept,
    exp_overload,
    exp_queue,
    exp_shard,
    exp_nagle_size,
    exp_fastopen,
    exp_connection,
]


def cases_of(run, name: str) -> list:
    """The run's cases of experiment `name`."""
    return [c for c in run.of_kind("claims") if c.extra.get("experiment") == name]


def rule(run, claim_id: str):
    """The verdict an experiment of this run gives `claim_id`, or None."""
    for m in MODULES:
        r = m.RULES.get(claim_id)
        if r is None:
            continue
        cases = cases_of(run, m.NAME)
        if not cases:
            continue
        v = r(run, cases)
        if v is not None:
            return v
    return None
