"""Claims experiment "nagle-size" (N2): not written yet (experiments.py says what a module holds)."""

from __future__ import annotations

NAME = "nagle-size"
TITLE = "nagle-size"
RULES: dict = {}


def section(report, cases) -> str:
    return ""
