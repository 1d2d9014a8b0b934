"""How many rows a model call should gather, learned per model version from what its calls
cost a row: calls are grouped by size (to the nearest power of two), and one call in a while
takes half or twice the limit, so the limit follows the load and the machine."""

from __future__ import annotations

import math
from dataclasses import dataclass

ALPHA = 0.2  # weight of the newest call in a size's moving average
MIN_CALLS = 3  # calls of a size before its cost counts
EXPLORE_EVERY = 16  # each side every 32 calls: a few per cent of calls off the best size


@dataclass
class _Cost:
    per_row_s: float
    calls: int


def size_class(rows: int) -> int:
    """The power of two nearest `rows` on a log scale (at least 1)."""
    if rows <= 1:
        return 1
    return 1 << round(math.log2(rows))


class BatchSizer:
    """One model version's learned batch limit, between 1 and `max_rows`."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max(1, max_rows)
        self._costs: dict[int, _Cost] = {}
        self._limit = self.max_rows
        self._calls = 0
        self._probe_up = False

    @property
    def limit(self) -> int:
        """The most rows the next ordinary call should take."""
        return self._limit

    def next_limit(self) -> int:
        """The limit for the call about to be taken: now and then half or twice the learned
        one, by turns (where there is room)."""
        self._calls += 1
        if self._calls % EXPLORE_EVERY:
            return self._limit
        self._probe_up = not self._probe_up
        up, down = min(self.max_rows, 2 * self._limit), max(1, self._limit // 2)
        if self._probe_up and up > self._limit:
            return up
        return down if down < self._limit else up

    def costs(self) -> dict[int, float]:
        """Seconds a row, by size class, for the sizes measured often enough."""
        return {k: c.per_row_s for k, c in sorted(self._costs.items()) if c.calls >= MIN_CALLS}

    def record(self, rows: int, seconds: float) -> None:
        """A call of `rows` rows took `seconds`, from hand-off to answer."""
        if rows < 1 or seconds <= 0:
            return
        size = size_class(rows)
        per_row = seconds / rows
        found = self._costs.get(size)
        if found is None:
            self._costs[size] = _Cost(per_row, 1)
        else:
            found.per_row_s += ALPHA * (per_row - found.per_row_s)
            found.calls += 1
        self._limit = self._choose()

    def _choose(self) -> int:
        # One pass, no allocation: this runs after every call.
        chosen, cheapest, largest = 0, math.inf, 0
        for size, cost in self._costs.items():
            if cost.calls < MIN_CALLS:
                continue
            largest = max(largest, size)
            if cost.per_row_s < cheapest or (cost.per_row_s == cheapest and size > chosen):
                chosen, cheapest = size, cost.per_row_s
        if chosen == largest:
            # Nothing larger measured dearer (or nothing measured): keep the maximum, so
            # the sizes above get measured.
            return self.max_rows
        return min(chosen, self.max_rows)
