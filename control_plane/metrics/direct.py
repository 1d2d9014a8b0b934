"""The embedded metrics source: scrape every live replica's /metrics each second and keep
rolling aggregates (per second for an hour, per minute for a day), so `make run` has live
charts with nothing else installed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import httpx

from control_plane.loops import Loop
from control_plane.metrics.accuracy import Tally
from control_plane.metrics.base import bucket_counts
from control_plane.metrics.rollup import Slot, Tier
from control_plane.metrics.scraper import (
    CounterScrape,
    FeedbackFeed,
    ReplicaLister,
    live_targets,
)
from control_plane.metrics.timeline import (
    Steps,
    accuracy_points,
    mae_points,
    model_metrics,
    points,
)
from control_plane.schemas import ModelMetrics, VersionSeries, VersionSummary


def summary_of(version: str, total: Slot, window_s: int, tally: Tally | None) -> VersionSummary:
    t = tally or Tally()
    bounds, counts = bucket_counts(total.bounds, total.buckets) if total.bounds else ([], [])
    return VersionSummary(
        version=version,
        requests=round(total.requests),
        errors=round(total.errors),
        rps=total.requests / window_s,
        p50_ms=total.quantile_ms(0.50),
        p95_ms=total.quantile_ms(0.95),
        p99_ms=total.quantile_ms(0.99),
        error_rate=total.errors / total.requests if total.requests else None,
        errors_by_type={k: round(v) for k, v in sorted(total.errors_by_type.items()) if v},
        accuracy=t.accuracy,
        labelled=t.labelled,
        mae=t.mae,
        rmse=t.rmse,
        compared=round(total.compared),
        agreement=total.agreed / total.compared if total.compared else None,
        latency_bounds_s=bounds,
        latency_counts=counts,
    )


def step_rates(slots: list[Slot], steps: Steps, covered_until: float | None) -> list[float | None]:
    """Requests per second of each step over the part of it the scrapes have covered: the
    step in progress shows its rate so far, not a fraction of a whole step; None before."""
    out: list[float | None] = []
    for k, slot in enumerate(slots):
        seen = float(steps.step_s)
        if covered_until is not None:
            seen = min(seen, covered_until - (steps.start + k * steps.step_s))
        out.append(slot.requests / seen if seen > 0 else None)
    return out


def _series(
    version: str,
    slots: list[Slot],
    steps: Steps,
    tallies: list[Tally | None] | None,
    covered_until: float | None,
) -> VersionSeries:
    times = steps.times()
    return VersionSeries(
        version=version,
        rps=points(times, step_rates(slots, steps, covered_until)),
        p50_ms=points(times, [s.quantile_ms(0.50) for s in slots]),
        p95_ms=points(times, [s.quantile_ms(0.95) for s in slots]),
        p99_ms=points(times, [s.quantile_ms(0.99) for s in slots]),
        error_rate=points(times, [s.errors / s.requests if s.requests else None for s in slots]),
        accuracy=accuracy_points(times, tallies),
        mae=mae_points(times, tallies),
    )


class DirectSource:
    def __init__(
        self,
        replicas: ReplicaLister,
        stale_after_s: float = 10.0,
        interval_s: float = 1.0,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._replicas = replicas
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._timeout_s = timeout_s
        self.counters = CounterScrape(started_at=clock())
        self.feedback = FeedbackFeed()
        self._loop = Loop(
            interval_s, self.scrape_once, "pier-metrics-direct", wait_first=False, stop_timeout_s=5
        )
        self._client: httpx.Client | None = None

    def start(self) -> None:
        self._loop.start()

    def close(self) -> None:
        self._loop.stop()
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def running(self) -> bool:
        return self._loop.running

    def scrape_once(self) -> None:
        """One round over every live replica (the thread calls it each interval)."""
        if self._client is None:
            self._client = httpx.Client(timeout=httpx.Timeout(self._timeout_s, connect=1.0))
        now = self._clock()
        targets = live_targets(self._replicas, now, self._stale_after_s)
        self.counters.scrape(self._client, targets, now)
        self.feedback.pull(self._client, targets, now)

    def model_metrics(self, model: str, window_s: int, step_s: int, now: datetime) -> ModelMetrics:
        self.start()
        steps = Steps.of(now, window_s, step_s)
        with self.counters.lock:
            tier = self.counters.rollup.tier_for(window_s)
            per_version = {
                v: (
                    tier.total((model, v), steps.start, steps.end),
                    tier.per_step((model, v), steps.end, step_s, steps.points),
                )
                for v in self.counters.rollup.versions(model, [tier])
            }
            covered_until = self.counters.covered_until
        tallies, tally_steps = self.feedback.window(model, steps)
        versions = sorted(set(per_version) | {v for _, v in tallies})
        summary, series = [], []
        empty = [Slot() for _ in range(steps.points)]
        for v in versions:
            total, slots = per_version.get(v, (Slot(), empty))
            summary.append(summary_of(v, total, window_s, tallies.get((model, v))))
            series.append(_series(v, slots, steps, tally_steps.get(v), covered_until))
        found = model_metrics(model, window_s, steps, now, (summary, series))
        found.replicas = self.counters.usage(model)
        return found

    def summaries(self, window_s: int, now: datetime) -> dict[str, list[VersionSummary]]:
        self.start()
        steps = Steps.of(now, window_s, window_s)
        with self.counters.lock:
            tier: Tier = self.counters.rollup.tier_for(window_s)
            totals = {key: tier.total(key, steps.start, steps.end) for key in tier.series_keys()}
        with self.feedback.lock:
            tallies = self.feedback.ledger.totals(None, steps.start, steps.end)
        out: dict[str, list[VersionSummary]] = {}
        for model, version in sorted(set(totals) | set(tallies)):
            total = totals.get((model, version), Slot())
            if not total.requests and (model, version) not in tallies:
                continue
            out.setdefault(model, []).append(
                summary_of(version, total, window_s, tallies.get((model, version)))
            )
        return out
