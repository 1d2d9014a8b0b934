"""Prometheus collectors on a per-app registry, and a rolling window for the JSON summary."""

from __future__ import annotations

import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
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
class _Second:
    requests: int = 0
    errors: int = 0
    latency: dict[int, int] = field(default_factory=lambda: defaultdict(int))


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


class RollingWindow:
    """Per-second buckets per (model, version) over the last WINDOW_MAX_S seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._series: dict[tuple[str, str], dict[int, _Second]] = defaultdict(dict)

    def record(self, model: str, version: str, seconds: float, error: bool) -> None:
        now = int(self._clock())
        buckets = self._series[(model, version)]
        second = buckets.get(now)
        if second is None:
            second = buckets[now] = _Second()
            for old in [s for s in buckets if s <= now - WINDOW_MAX_S]:
                del buckets[old]
        second.requests += 1
        second.errors += int(error)
        second.latency[_bucket_of(seconds)] += 1

    def summary(self, window_s: int) -> list[WindowStats]:
        now = int(self._clock())
        start = now - window_s + 1
        stats = []
        for (model, version), buckets in sorted(self._series.items()):
            seconds = [b for s, b in buckets.items() if s >= start]
            requests = sum(b.requests for b in seconds)
            if requests == 0:
                continue
            errors = sum(b.errors for b in seconds)
            merged: dict[int, int] = defaultdict(int)
            for b in seconds:
                for index, count in b.latency.items():
                    merged[index] += count
            p50, p95, p99 = (_percentile_ms(merged, requests, q) for q in (0.50, 0.95, 0.99))
            stats.append(
                WindowStats(
                    model=model,
                    version=version,
                    requests=requests,
                    errors=errors,
                    rps=requests / window_s,
                    p50_ms=p50,
                    p95_ms=p95,
                    p99_ms=p99,
                    error_rate=errors / requests,
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


class Metrics:
    """Every collector of one app, on its own CollectorRegistry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "pier_requests",
            "Prediction requests by model, version and HTTP status code.",
            ["model", "version", "code"],
            registry=self.registry,
        )
        self.errors = Counter(
            "pier_request_errors",
            "Failed prediction requests by model, version and error type.",
            ["model", "version", "type"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "pier_request_duration_seconds",
            "Time to answer a prediction request.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.loaded = Gauge(
            "pier_model_loaded",
            "1 while a model version is loaded and warm.",
            ["model", "version"],
            registry=self.registry,
        )
        self.window = RollingWindow(clock)

    def observe(
        self, model: str, version: str, code: int, seconds: float, error_type: str | None = None
    ) -> None:
        self.requests.labels(model, version, str(code)).inc()
        self.duration.labels(model, version).observe(seconds)
        if error_type is not None:
            self.errors.labels(model, version, error_type).inc()
        self.window.record(model, version, seconds, error=error_type is not None)

    def set_loaded(self, model: str, version: str, loaded: bool) -> None:
        if loaded:
            self.loaded.labels(model, version).set(1)
        else:
            with contextlib.suppress(KeyError):
                self.loaded.remove(model, version)
