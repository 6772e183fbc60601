"""Claims experiment "shard" (R3,R6): not written yet (experiments.py says what a module holds)."""

from __future__ import annotations

NAME = "shard"
TITLE = "shard"
RULES: dict = {}


def section(report, cases) -> str:
    return ""
