"""Progress for long phases: a tqdm bar on a terminal, log lines otherwise.

Without a terminal (a job log, CI, ``nohup``) a bar would print nothing useful, so the phase logs
``desc: n/total (t s) extra`` at INFO every ``every_n`` items (default: a tenth of the total) or
every ``every_s`` seconds, whichever comes first, and at the end. Used by training, the
alignment Fisher and DriftCheck's generation.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Lines:
    """tqdm's ``update``/``set_postfix``/``close`` as periodic log lines (no terminal)."""

    def __init__(self, start: int, total: int | None, desc: str, every_s: float = 30.0,
                 every_n: int | None = None) -> None:
        self.n, self.total, self.desc, self.every = start, total, desc, every_s
        self.every_n = (every_n or max(1, total // 10)) if total else every_n
        self.postfix: dict = {}
        self.started = self.last = time.time()

    def set_postfix(self, values: dict) -> None:
        self.postfix = values

    def update(self, k: int = 1) -> None:
        before, self.n = self.n, self.n + k
        now = time.time()
        by_count = bool(self.every_n) and self.n // self.every_n > before // self.every_n
        if by_count or now - self.last >= self.every or self.n == self.total:
            self.last = now
            extra = " ".join(f"{k}={v}" for k, v in self.postfix.items())
            total = "?" if self.total is None else self.total
            log.info("%s: %d/%s (%.0f s) %s", self.desc, self.n, total, now - self.started, extra)

    def close(self) -> None:
        pass


def progress_bar(start: int, total: int | None, desc: str, show: bool, every_n: int | None = None):
    """A tqdm bar when ``show`` and stderr is a terminal; log lines when ``show`` without one."""
    from tqdm.auto import tqdm

    if show and not sys.stderr.isatty():
        return _Lines(start, total, desc, every_n=every_n)
    return tqdm(total=total, initial=start, desc=desc, disable=not show)


def track(items: Iterable[T], desc: str, show: bool = True, total: int | None = None,
          unit: str = "it") -> Iterator[T]:
    """``items`` with progress (``progress_bar``); ``total`` defaults to ``len(items)``."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    bar = progress_bar(0, total, f"{desc} ({unit})" if unit != "it" else desc, show)
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()


__all__ = ["progress_bar", "track"]
