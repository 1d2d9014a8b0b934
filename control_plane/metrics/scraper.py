"""Reading the replicas: which to read, their counters and their feedback tallies, and a
background thread that does it every second. No decisions here, only I/O into the pure
aggregates of rollup.py and accuracy.py."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from control_plane.metrics.accuracy import AggregatesIn, Ledger, Tally
from control_plane.metrics.exposition import Key, VersionCounters, parse
from control_plane.metrics.rollup import Rollup, delta
from control_plane.metrics.timeline import Steps
from control_plane.schemas import ReplicaUsage

log = logging.getLogger(__name__)

USAGE_SPAN_S = 10.0
FORGET_AFTER_S = 900.0
"""How long a replica's last counters are kept while it is out of the targets: one that
comes back (a routing change, a missed health check) then counts only what is new."""


class ReplicaLike(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def loaded(self) -> list[str]: ...
    @property
    def last_seen(self) -> datetime: ...


class ReplicaLister(Protocol):
    """What the replicas reported on their routing polls (services.replicas.ReplicaBook)."""

    def all(self) -> Sequence[ReplicaLike]: ...


@dataclass(frozen=True)
class Target:
    name: str  # host:port, as Prometheus names an instance
    url: str
    models: frozenset[str]


def live_targets(replicas: ReplicaLister, now: float, stale_after_s: float) -> list[Target]:
    targets = {}
    for r in replicas.all():
        if not r.url or now - r.last_seen.astimezone(UTC).timestamp() > stale_after_s:
            continue
        models = frozenset(x.split("@", 1)[0] for x in r.loaded)
        name = urlsplit(r.url).netloc or r.url
        targets[name] = Target(name=name, url=r.url.rstrip("/"), models=models)
    return sorted(targets.values(), key=lambda t: t.name)


class FeedbackFeed:
    """Pulls every live replica's feedback tallies that changed since the last pull."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.lock = threading.Lock()
        self._pruned_at = 0.0

    def window(
        self, model: str, steps: Steps
    ) -> tuple[dict[tuple[str, str], Tally], dict[str, list[Tally | None]]]:
        """The model's tallies over the window: per version, and per version and step."""
        with self.lock:
            totals = self.ledger.totals(model, steps.start, steps.end)
            return totals, self.ledger.per_step(model, steps.end, steps.step_s, steps.points)

    def pull(self, client: httpx.Client, targets: Sequence[Target], now: float) -> None:
        for target in targets:
            with self.lock:
                after = self.ledger.after(target.url)
            try:
                r = client.get(f"{target.url}/feedback/aggregates", params={"after": after})
                r.raise_for_status()
                body = AggregatesIn.model_validate_json(r.content)
            except (httpx.HTTPError, ValidationError) as e:
                log.debug("feedback tallies of %s unavailable: %s", target.name, e)
                continue
            with self.lock:
                self.ledger.apply(target.url, body, now)
        if now - self._pruned_at > 60:
            with self.lock:
                self.ledger.prune(now)
            self._pruned_at = now


class CounterScrape:
    """Scrapes /metrics of every live replica; increases since the last scrape go into the
    rollup spread over the seconds since then, process figures into a short usage history."""

    def __init__(self, started_at: float) -> None:
        self.rollup = Rollup()
        self.lock = threading.Lock()
        self._started_at = started_at
        self._last: dict[str, dict[Key, VersionCounters]] = {}
        self._seen_at: dict[str, float] = {}
        self._usage: dict[str, deque[tuple[float, float | None, float | None]]] = {}
        self._models: dict[str, frozenset[str]] = {}
        self.covered_until: float | None = None
        """When the last round began: the rollup holds every second before it in full."""

    def scrape(self, client: httpx.Client, targets: Sequence[Target], now: float) -> None:
        for target in targets:
            try:
                r = client.get(f"{target.url}/metrics", headers={"Accept": "text/plain"})
                r.raise_for_status()
                figures = parse(r.text)
            except (httpx.HTTPError, ValueError) as e:
                log.debug("metrics of %s unavailable: %s", target.name, e)
                continue
            previous = self._last.get(target.name)
            # Counters of a replica first seen count in full only if it started after us;
            # otherwise their past is unknown in time and is left out.
            fresh = previous is None and (figures.start_time or 0) >= self._started_at
            # First sight: all at this second (the replica's clock may not be ours).
            since = self._seen_at.get(target.name, now) if previous is not None else now
            with self.lock:
                if previous is not None or fresh:
                    for key, counters in figures.versions.items():
                        slot = delta((previous or {}).get(key), counters)
                        if slot.requests or slot.errors:
                            self.rollup.add_span(key, since, now, slot)
                history = self._usage.setdefault(target.name, deque(maxlen=32))
                history.append((now, figures.cpu_seconds, figures.resident_bytes))
                self._models[target.name] = target.models
            self._last[target.name] = figures.versions
            self._seen_at[target.name] = now
        live = {t.name for t in targets}
        with self.lock:
            for name in [n for n in self._usage if n not in live]:
                del self._usage[name]
                self._models.pop(name, None)
            self.covered_until = now
        for name in [n for n, at in self._seen_at.items() if now - at > FORGET_AFTER_S]:
            del self._seen_at[name]
            self._last.pop(name, None)

    def usage(self, model: str) -> list[ReplicaUsage]:
        """CPU (seconds per second over the last ~10 s) and memory of replicas serving `model`."""
        out = []
        with self.lock:
            for name, history in sorted(self._usage.items()):
                if model not in self._models.get(name, frozenset()):
                    continue
                t1, cpu1, rss = history[-1]
                earlier = [h for h in history if t1 - h[0] <= USAGE_SPAN_S]
                t0, cpu0, _ = earlier[0]
                rate = None
                if cpu0 is not None and cpu1 is not None and t1 > t0 and cpu1 >= cpu0:
                    rate = (cpu1 - cpu0) / (t1 - t0)
                out.append(
                    ReplicaUsage(
                        replica=name, cpu_seconds_per_second=rate, resident_memory_bytes=rss
                    )
                )
        return out
