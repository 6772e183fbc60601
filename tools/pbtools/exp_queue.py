"""Claims experiment "queue" (Q5,Q6): not written yet (experiments.py says what a module holds)."""

from __future__ import annotations

NAME = "queue"
TITLE = "queue"
RULES: dict = {}


def section(report, cases) -> str:
    return ""
