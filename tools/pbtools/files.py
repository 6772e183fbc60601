"""Writing the tools' output files."""

from __future__ import annotations

import os


def write_atomic(path: str, text: str) -> None:
    """Writes text (UTF-8) to path through a temporary file renamed into place, so a
    reader never sees half a file and an interrupted tool leaves the old one. A path
    that exists and is not a regular file (a pipe, /dev/stdout) is written in place."""
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
