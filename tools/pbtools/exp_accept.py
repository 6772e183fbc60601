"""Claims experiment "accept" (M2,M5): not written yet (experiments.py says what a module holds)."""

from __future__ import annotations

NAME = "accept"
TITLE = "accept"
RULES: dict = {}


def section(report, cases) -> str:
    return ""
