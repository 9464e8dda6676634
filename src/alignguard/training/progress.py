"""Progress for long phases: a tqdm bar on a terminal, a log line every ~30 s otherwise."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger(__name__)


class _Lines:
    """tqdm's ``update``/``set_postfix``/``close`` as periodic log lines (no terminal)."""

    def __init__(self, start: int, total: int, desc: str, every_s: float = 30.0) -> None:
        self.n, self.total, self.desc, self.every = start, total, desc, every_s
        self.postfix: dict = {}
        self.started = self.last = time.time()

    def set_postfix(self, values: dict) -> None:
        self.postfix = values

    def update(self, k: int = 1) -> None:
        self.n += k
        now = time.time()
        if now - self.last >= self.every or self.n == self.total:
            self.last = now
            extra = " ".join(f"{k}={v}" for k, v in self.postfix.items())
            log.info("%s: %d/%d (%.0f s) %s", self.desc, self.n, self.total, now - self.started, extra)

    def close(self) -> None:
        pass


def progress_bar(start: int, total: int, desc: str, show: bool):
    """A tqdm bar when ``show`` and stderr is a terminal; log lines when ``show`` without one."""
    from tqdm.auto import tqdm

    if show and not sys.stderr.isatty():
        return _Lines(start, total, desc)
    return tqdm(total=total, initial=start, desc=desc, disable=not show)
