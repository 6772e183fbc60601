"""Claims experiment "overload" (P4,P5): not written yet (experiments.py says what a module holds)."""

from __future__ import annotations

NAME = "overload"
TITLE = "overload"
RULES: dict = {}


def section(report, cases) -> str:
    return ""
