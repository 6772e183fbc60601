"""The server patterns' list (servers/patterns.txt) and the order tables and charts
follow: patterns in the list's order, then workloads and write patterns."""

from __future__ import annotations

import os

# The pattern servers' list, in report order (servers/README.md, "Adding a
# pattern"): the build, the harness and these tools all read it.
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATTERNS_FILE = os.path.join(_REPO, "servers", "patterns.txt")


def read_patterns(path: str = PATTERNS_FILE) -> list[tuple[str, str, str]] | None:
    """(name, source, threads) for each line of a patterns list, in its order; None
    when the file cannot be read. Comments ('#') and blank lines are skipped, and
    so is a line without three fields (the build refuses such a file)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    out = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) == 3:
            out.append((fields[0], fields[1], fields[2]))
    return out


# Canonical order of the server patterns; anything else sorts after them
# alphabetically. Charts and tables follow this order and the colours in charts are
# assigned from it, so a pattern looks the same everywhere. Tools copied away from
# the repository find no list: then every pattern sorts alphabetically and
# colours follow that order.
PATTERNS = read_patterns()
PATTERN_ORDER = [name for name, _, _ in PATTERNS or []]
WORKLOAD_ORDER = ["tiny", "cpu", "blocking-tail", "churn", "idle-heavy"]
WRITE_ORDER = ["single", "split", "writev", "cork"]


def pattern_key(p: str):
    return (PATTERN_ORDER.index(p), "") if p in PATTERN_ORDER else (len(PATTERN_ORDER), p)


def workload_key(w: str):
    return (WORKLOAD_ORDER.index(w), "") if w in WORKLOAD_ORDER else (len(WORKLOAD_ORDER), w or "")


# External servers (--external NAME=COMMAND, bench/README.md "External servers"): the
# names the loaded runs' case files mark as external (case.external). They sort after
# the patterns, get colours after theirs, and are labelled "NAME (external)".
EXTERNAL: set = set()


def label(p: str) -> str:
    """How a table, a chart key or prose names a server: a pattern by its name, an
    external server with "(external)"."""
    return f"{p} (external)" if p in EXTERNAL else p
