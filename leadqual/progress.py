"""A text progress bar for management commands.

On a terminal it redraws one line; in a log (CI, a pipe) it prints a line at every tenth of
the way, so long work shows progress without flooding the output.
"""

from __future__ import annotations

import time
from typing import TextIO

from django.core.management.base import OutputWrapper


class ProgressBar:
    def __init__(
        self, stream: TextIO | OutputWrapper, total: int, label: str = "", width: int = 30
    ) -> None:
        self.stream = stream
        self.total = max(total, 0)
        self.label = label
        self.width = width
        self.done = 0
        self.started = time.perf_counter()
        self._last_decile = -1
        isatty = getattr(stream, "isatty", None)
        self.interactive = bool(isatty and isatty())

    def _write(self, text: str) -> None:
        # A command's OutputWrapper appends a newline to every write unless told otherwise,
        # which would turn the redrawn line into a scroll of lines.
        if isinstance(self.stream, OutputWrapper):
            self.stream.write(text, ending="")
        else:
            self.stream.write(text)

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.done = min(done, self.total) if self.total else done
        share = self.done / self.total if self.total else 1.0
        if self.interactive:
            self._write("\r" + self._line(share))
            self.stream.flush()
            return
        decile = int(share * 10)
        if decile != self._last_decile:
            self._last_decile = decile
            self._write(self._line(share) + "\n")

    def advance(self, step: int = 1) -> None:
        self.update(self.done + step)

    def finish(self, message: str = "") -> None:
        if self.total and self.done < self.total:
            self.update(self.total)
        elapsed = time.perf_counter() - self.started
        if self.interactive:
            self._write("\n")
        if message:
            self._write(f"{message} ({elapsed:.1f}s)\n")

    def _line(self, share: float) -> str:
        filled = round(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        return (
            f"{self.label} [{bar}] {share:4.0%} {self.done:,}/{self.total:,} ({rate:,.0f}/s)"
        ).strip()
