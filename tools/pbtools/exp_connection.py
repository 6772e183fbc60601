"""Claims experiment "connection" (C1): not written yet (experiments.py says what a module holds)."""

from __future__ import annotations

NAME = "connection"
TITLE = "connection"
RULES: dict = {}


def section(report, cases) -> str:
    return ""
