"""BENCHMARKS.md is shared by the benchmark scripts: each one rewrites only its own `## ` section."""

from __future__ import annotations

import os
from pathlib import Path


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace the section that starts with `heading` (or append it), keeping the rest; atomic."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before = "\n".join(lines[:start]).rstrip("\n")
        after = "\n".join(lines[end:])
        new = (
            (before + "\n\n" if before else "")
            + section.rstrip("\n")
            + "\n"
            + ("\n" + after + "\n" if after else "")
        )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)
