"""Terminal output helpers of the CLI: titles cut to fit, progress that behaves in logs."""

from __future__ import annotations

import sys
import time
from typing import Any

import click


def shorten(text: str, width: int) -> str:
    """`text` cut at a word boundary to at most `width` characters, with "…" when cut."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if " " in cut and not text[width - 1].isspace():
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-—") + "…"


class Progress:
    """A tqdm bar on a terminal; elsewhere (logs, pipes) no bar, one summary line at the end."""

    def __init__(self, desc: str, unit: str, summary: str) -> None:
        self.desc, self.unit, self.summary = desc, unit, summary
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.done = 0
        self.total = 0
        self.started: float | None = None

    def update(self, done: int, total: int | None = None) -> None:
        """`done` items so far (of `total` when known)."""
        if self.started is None:
            self.started = time.perf_counter()
        self.done = done
        self.total = total if total is not None else self.total
        if not self.tty:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, unit=self.unit, desc=self.desc, file=sys.stderr, leave=False)
        self.bar.total = self.total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif not self.tty and self.started is not None and self.done:
            seconds = time.perf_counter() - self.started
            rate = f" ({self.done / seconds:.0f} {self.unit}/s)" if seconds > 0 else ""
            click.echo(self.summary.format(n=self.done, seconds=seconds) + rate, err=True)
