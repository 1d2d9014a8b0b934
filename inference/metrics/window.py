"""The rolling window behind the JSON /metrics summary: per-second counts and latency
histograms per model version, keyed so that several worker processes' windows merge."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

WINDOW_MAX_S = 300

# Rolling-window latency buckets: log-spaced by 5% from 10 µs, so a percentile
# is known within about 5% in bounded memory whatever the request rate.
_BASE_S = 1e-5
_GROWTH = 1.05
_LOG_GROWTH = math.log(_GROWTH)


def _bucket_of(seconds: float) -> int:
    if seconds <= _BASE_S:
        return 0
    return int(math.log(seconds / _BASE_S) / _LOG_GROWTH) + 1


def _bucket_upper(index: int) -> float:
    return _BASE_S * _GROWTH**index


@dataclass
class Second:
    """One second of one (model, version): counts and a latency histogram."""

    requests: int = 0
    errors: int = 0
    errors_by_type: dict[str, int] = field(default_factory=dict)
    latency: dict[int, int] = field(default_factory=dict)

    def merge(self, other: Second) -> None:
        self.requests += other.requests
        self.errors += other.errors
        for kind, n in other.errors_by_type.items():
            self.errors_by_type[kind] = self.errors_by_type.get(kind, 0) + n
        for index, n in other.latency.items():
            self.latency[index] = self.latency.get(index, 0) + n

    def to_json(self) -> list[object]:
        return [self.requests, self.errors, self.errors_by_type, list(self.latency.items())]

    @staticmethod
    def from_json(raw: list[object]) -> Second:
        requests, errors, by_type, latency = raw
        assert isinstance(requests, int) and isinstance(errors, int)
        assert isinstance(by_type, dict) and isinstance(latency, list)
        return Second(requests, errors, dict(by_type), {int(i): int(n) for i, n in latency})


# (model, version) -> unix second -> Second
Seconds = dict[tuple[str, str], dict[int, Second]]


@dataclass(frozen=True)
class WindowStats:
    model: str
    version: str
    requests: int
    errors: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float
    errors_by_type: dict[str, int]


class RollingWindow:
    """Per-second buckets per (model, version) over the last WINDOW_MAX_S seconds.

    Keyed by wall-clock second so that the windows of several worker processes merge.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.series: Seconds = defaultdict(dict)

    def record(self, model: str, version: str, seconds: float, error_type: str | None) -> None:
        now = int(self._clock())
        buckets = self.series[(model, version)]
        second = buckets.get(now)
        if second is None:
            second = buckets[now] = Second()
            for old in [s for s in buckets if s <= now - WINDOW_MAX_S]:
                del buckets[old]
        second.requests += 1
        if error_type is not None:
            second.errors += 1
            second.errors_by_type[error_type] = second.errors_by_type.get(error_type, 0) + 1
        index = _bucket_of(seconds)
        second.latency[index] = second.latency.get(index, 0) + 1

    def now(self) -> float:
        return self._clock()


def summarize(series: Iterable[Seconds], now: float, window_s: int) -> list[WindowStats]:
    """Pure: stats per (model, version) over the seconds (now - window_s, now]."""
    start = int(now) - window_s + 1
    merged: dict[tuple[str, str], Second] = {}
    for one in series:
        for key, buckets in one.items():
            for s, second in buckets.items():
                if s >= start:
                    merged.setdefault(key, Second()).merge(second)
    stats = []
    for (model, version), total in sorted(merged.items()):
        if total.requests == 0:
            continue
        p50, p95, p99 = (
            _percentile_ms(total.latency, total.requests, q) for q in (0.50, 0.95, 0.99)
        )
        stats.append(
            WindowStats(
                model=model,
                version=version,
                requests=total.requests,
                errors=total.errors,
                rps=total.requests / window_s,
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                error_rate=total.errors / total.requests,
                errors_by_type=dict(sorted(total.errors_by_type.items())),
            )
        )
    return stats


def _percentile_ms(histogram: dict[int, int], total: int, quantile: float) -> float | None:
    if total == 0:
        return None
    rank = quantile * total
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return round(_bucket_upper(index) * 1000, 3)
    return None
