"""Claims experiment "fastopen" (C2): not written yet (experiments.py says what a module holds)."""

from __future__ import annotations

NAME = "fastopen"
TITLE = "fastopen"
RULES: dict = {}


def section(report, cases) -> str:
    return ""
