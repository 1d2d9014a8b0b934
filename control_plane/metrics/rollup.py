"""Rolling aggregates of scraped counters: per second for an hour, per minute for a day.

Pure and bounded: a slot exists only for a second (or minute) that saw traffic, and
slots older than the tier's span are dropped as new ones arrive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from control_plane.metrics.exposition import Key, VersionCounters
from control_plane.metrics.histogram import quantile

SECOND_SPAN_S = 3600
MINUTE_SPAN_S = 86_400


@dataclass
class Slot:
    """What happened to one model version in one second (or minute), over all replicas."""

    requests: float = 0.0
    errors_by_type: dict[str, float] = field(default_factory=dict)
    bounds: tuple[float, ...] = ()
    buckets: tuple[float, ...] = ()  # cumulative per bound: observations <= bound
    compared: float = 0.0  # shadow versions: rows compared with the live answer
    agreed: float = 0.0

    @property
    def errors(self) -> float:
        return sum(self.errors_by_type.values())

    def add(self, other: Slot) -> None:
        self.requests += other.requests
        self.compared += other.compared
        self.agreed += other.agreed
        for kind, n in other.errors_by_type.items():
            self.errors_by_type[kind] = self.errors_by_type.get(kind, 0.0) + n
        if not other.bounds:
            return
        if not self.bounds:
            self.bounds, self.buckets = other.bounds, other.buckets
        elif self.bounds == other.bounds:
            self.buckets = tuple(a + b for a, b in zip(self.buckets, other.buckets, strict=True))
        # Different bucket layouts (replicas of different releases) cannot be summed:
        # the first layout seen in a slot wins and the others' latencies are left out.

    def quantile_ms(self, q: float) -> float | None:
        value = quantile(q, self.bounds, self.buckets)
        return None if value is None else value * 1000

    def scaled(self, share: float) -> Slot:
        """This slot's counts times `share`: the part of them that fell in a shorter time."""
        return Slot(
            requests=self.requests * share,
            errors_by_type={k: n * share for k, n in self.errors_by_type.items()},
            bounds=self.bounds,
            buckets=tuple(b * share for b in self.buckets),
            compared=self.compared * share,
            agreed=self.agreed * share,
        )


def shares(start: float, end: float) -> list[tuple[int, float]]:
    """Each whole second that [start, end) overlaps, with the fraction of the span in it:
    an increase seen at one scrape is spread evenly over the time since the previous one."""
    if end - start <= 0:
        return [(int(end), 1.0)]
    span = end - start
    out = []
    second = math.floor(start)
    while second < end:
        overlap = min(end, second + 1) - max(start, second)
        if overlap > 0:
            out.append((second, overlap / span))
        second += 1
    return out


def _increase(current: float, previous: float) -> float:
    """A counter's increase; a drop means the replica restarted and counts from zero."""
    return current - previous if current >= previous else current


def delta(previous: VersionCounters | None, current: VersionCounters) -> Slot:
    """What happened between two scrapes of one replica (everything, on first sight)."""
    prev = previous or VersionCounters()
    restarted = current.requests < prev.requests
    if restarted:
        prev = VersionCounters()
    by_type = {}
    for kind, n in current.errors_by_type.items():
        d = _increase(n, prev.errors_by_type.get(kind, 0.0))
        if d > 0:
            by_type[kind] = d
    buckets: tuple[float, ...] = ()
    if current.bounds:
        if prev.bounds == current.bounds:
            buckets = tuple(
                _increase(c, p) for c, p in zip(current.buckets, prev.buckets, strict=True)
            )
        else:
            buckets = current.buckets
    return Slot(
        requests=_increase(current.requests, prev.requests),
        errors_by_type=by_type,
        bounds=current.bounds,
        buckets=buckets,
        compared=_increase(current.compared, prev.compared),
        agreed=_increase(current.agreed, prev.agreed),
    )


class Tier:
    """Slots of `width_s` seconds per model version, kept for `span_s` seconds."""

    def __init__(self, width_s: int, span_s: int) -> None:
        self.width_s = width_s
        self.span_s = span_s
        self._slots: dict[Key, dict[int, Slot]] = {}
        self._pruned_at = 0

    def add(self, key: Key, at: int, slot: Slot) -> None:
        start = at - at % self.width_s
        self._slots.setdefault(key, {}).setdefault(start, Slot()).add(slot)
        if at - self._pruned_at >= self.width_s:
            self._prune(at)
            self._pruned_at = at

    def _prune(self, now: int) -> None:
        horizon = now - self.span_s
        for key in list(self._slots):
            slots = self._slots[key]
            for start in [s for s in slots if s < horizon]:
                del slots[start]
            if not slots:
                del self._slots[key]

    def series_keys(self) -> list[Key]:
        return sorted(self._slots)

    def total(self, key: Key, start: int, end: int) -> Slot:
        """Sum of the slots that begin in [start, end)."""
        out = Slot()
        for s, slot in self._slots.get(key, {}).items():
            if start <= s < end:
                out.add(slot)
        return out

    def per_step(self, key: Key, end: int, step_s: int, points: int) -> list[Slot]:
        """One summed slot per point; point k holds the slots beginning in
        [end - (points - k) * step_s, end - (points - k - 1) * step_s)."""
        first = end - points * step_s
        out = [Slot() for _ in range(points)]
        for s, slot in self._slots.get(key, {}).items():
            if first <= s < end:
                out[(s - first) // step_s].add(slot)
        return out

    def slot_count(self) -> int:
        return sum(len(s) for s in self._slots.values())


class Rollup:
    """The two tiers together; `tier_for` picks the one a window is read from."""

    def __init__(self) -> None:
        self.seconds = Tier(1, SECOND_SPAN_S)
        self.minutes = Tier(60, MINUTE_SPAN_S)

    def add(self, key: Key, at: int, slot: Slot) -> None:
        self.seconds.add(key, at, slot)
        self.minutes.add(key, at, slot)

    def add_span(self, key: Key, start: float, end: float, slot: Slot) -> None:
        """What happened between two scrapes, spread over the seconds between them: with the
        whole increase on the scrape's second, a step without a scrape reads low."""
        for second, share in shares(max(start, end - SECOND_SPAN_S), end):
            self.add(key, second, slot if share == 1.0 else slot.scaled(share))

    def tier_for(self, window_s: int) -> Tier:
        return self.seconds if window_s <= SECOND_SPAN_S else self.minutes

    def versions(self, model: str, tiers: Iterable[Tier] | None = None) -> list[str]:
        found: set[str] = set()
        for tier in tiers or (self.seconds, self.minutes):
            found.update(v for m, v in tier.series_keys() if m == model)
        return sorted(found)
