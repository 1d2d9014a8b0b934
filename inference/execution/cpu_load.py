"""Whether a worker's CPU is the limit, for the batcher (inference/execution/batcher.py):
then a free call that waits for more requests costs nothing, since the core is busy
reading them, and the larger call costs less a row."""

from __future__ import annotations

import time
from collections.abc import Callable

# Readings are at least this far apart; a share in between is the last one's.
PERIOD_S = 0.05
# The share of the cores, or of the loop's thread, above which the worker is saturated.
SATURATED = 0.9


class CpuLoad:
    """The share of `cores` this process used over the last period, and the share of one
    core its reading thread (the event loop) used. One serves every batcher of a worker:
    the CPU times are read at most once a period, so a reading costs a clock call."""

    def __init__(
        self,
        cores: float,
        period_s: float = PERIOD_S,
        cpu: Callable[[], float] = time.process_time,
        thread_cpu: Callable[[], float] = time.thread_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cores = max(cores, 1e-9)
        self._period = period_s
        self._cpu = cpu
        self._thread_cpu = thread_cpu
        self._clock = clock
        self._since = 0.0
        # CPU times at the start of the period; None until the first reading, which is
        # taken on the reading thread (the loop's, not the one that made this gauge).
        self._used: tuple[float, float] | None = None
        self._shares = (0.0, 0.0)

    def shares(self) -> tuple[float, float]:
        """The process's share of its cores and the reading thread's share of a core, over
        the last whole period ((0, 0) before one)."""
        now = self._clock()
        if self._used is None:
            self._since, self._used = now, (self._cpu(), self._thread_cpu())
            return self._shares
        elapsed = now - self._since
        if elapsed >= self._period:
            used = (self._cpu(), self._thread_cpu())
            process, thread = (u - before for u, before in zip(used, self._used, strict=True))
            self._shares = (process / (elapsed * self._cores), thread / elapsed)
            self._since, self._used = now, used
        return self._shares

    def saturated(self) -> bool:
        return max(self.shares()) >= SATURATED
