"""Both metrics sources return each version's latency histogram (bucket counts over the
window), read from a real replica directly and through a real Prometheus; the rank test
on them finds the slow version slower, in the words the verdict uses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from control_plane.domain.analysis import compare_latency
from control_plane.metrics.base import MetricsSource
from control_plane.metrics.direct import DirectSource
from control_plane.metrics.prometheus import PrometheusSource
from control_plane.schemas import ReplicaReport, VersionSummary
from control_plane.services import canaries
from control_plane.services.replicas import ReplicaBook
from inference.app import create_app
from inference.schemas import ModelRoute, RoutingTable
from inference.settings import InferenceSettings
from tests.inference.conftest import stock_cache
from tests.inference.models import FEATURES, PROBABILITIES, Artifact, Classifier, save_torchscript
from tests.inference.server import ServerThread
from tests.monitoring.support import ready, run_prometheus, samples
from tests.support import artifacts as support
from tests.support.servers import wait_until

pytestmark = pytest.mark.e2e

N = 120
ROW = [[5.1, 3.5, 1.4, 0.2]]
# Prometheus' increase() extrapolates each end of a series towards the window's edges, by up
# to half a scrape interval before the first sample and a whole one after the last: with a
# 1 s scrape and a series some 15 s old, that is several per cent of what was counted.
EXTRAPOLATION = 0.12
# How far each source's total may be from the N requests sent: the direct source counts
# exactly, give or take the warm-up request.
SLACK = {"direct": 1, "prometheus": N * EXTRAPOLATION}


@dataclass
class Setup:
    url: str
    sources: dict[str, MetricsSource]
    counted: dict[str, list[int]]  # what the replica itself counted per bucket, per version


def _buckets(url: str, version: str) -> dict[float, float]:
    return {
        float(labels["le"]): v
        for name, labels, v in samples(httpx.get(f"{url}/metrics").text)
        if name == "pier_request_duration_seconds_bucket" and labels["version"] == version
    }


def _summary(source: MetricsSource, version: str) -> VersionSummary | None:
    figures = source.model_metrics("lat", 300, 5, datetime.now(UTC))
    return next((s for s in figures.summary if s.version == version), None)


def _within(source: MetricsSource, slack: float) -> dict[str, VersionSummary] | None:
    """Both versions' summaries, once their counts are within `slack` of the N sent."""
    found = {v: _summary(source, v) for v in ("v1", "v2")}
    if all(s is not None and abs(sum(s.latency_counts) - N) <= slack for s in found.values()):
        return {v: s for v, s in found.items() if s is not None}
    return None


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root: Path = tmp_path_factory.mktemp("latency")
    made = {
        "v1": Artifact(save_torchscript(Classifier(1), root / "v1.pt"), "torchscript", FEATURES,
                       PROBABILITIES),
        "v2": Artifact(support.slow(root / "v2.pt", rounds=40), "torchscript", FEATURES,
                       PROBABILITIES),
    }  # fmt: skip
    route = ModelRoute(
        name="lat", weights={"v1": 50, "v2": 50}, versions=[a.spec(v) for v, a in made.items()]
    )
    cache = root / "cache"
    stock_cache(cache, made, RoutingTable(revision=1, models=[route]))
    with (
        run_prometheus(tmp_path_factory.mktemp("prometheus")) as prometheus,
        ServerThread(create_app(InferenceSettings(cache_dir=cache, port=0))) as replica,
    ):
        wait_until(lambda: ready(replica.url), timeout=60)
        prometheus.scrape(urlsplit(replica.url).netloc)
        book = ReplicaBook()
        book.report(
            ReplicaReport(
                id="r1",
                url=replica.url,
                revision=1,
                loaded=["lat@v1", "lat@v2"],
                error="",
                last_seen=datetime.now(UTC),
            )
        )
        direct = DirectSource(book, stale_after_s=3600)
        prom = PrometheusSource(prometheus.url, book, stale_after_s=3600, scrape_interval_s=1)
        with httpx.Client(base_url=replica.url, timeout=30) as c:
            for v in ("v1", "v2"):  # every series exists before the measured load
                c.post("/predict", json={"model": "lat", "inputs": ROW, "version": v})
            direct.start()
            enough = 'count_over_time(pier_requests_total{model="lat"}[1m]) >= 5'
            wait_until(lambda: prometheus.query(enough), timeout=40, interval=0.5)
            before = {v: _buckets(replica.url, v) for v in ("v1", "v2")}
            for _ in range(N):
                for v in ("v1", "v2"):
                    r = c.post("/predict", json={"model": "lat", "inputs": ROW, "version": v})
                    assert r.status_code == 200
        counted = {}
        for v in ("v1", "v2"):
            after = _buckets(replica.url, v)
            cumulative = [after[le] - before[v].get(le, 0.0) for le in sorted(after)]
            counted[v] = [
                round(c - (cumulative[i - 1] if i else 0.0)) for i, c in enumerate(cumulative)
            ]
        sources: dict[str, MetricsSource] = {"direct": direct, "prometheus": prom}
        # The direct source counts exactly (give or take the warm-up request): wait until its
        # scrapes have seen the whole load, not merely most of it.
        wait_until(lambda: _within(direct, SLACK["direct"]), timeout=30, interval=0.3)
        wait_until(lambda: _within(prom, SLACK["prometheus"]), timeout=60, interval=0.5)
        try:
            yield Setup(replica.url, sources, counted)
        finally:
            direct.close()
            prom.close()


@pytest.mark.parametrize("name", ["direct", "prometheus"])
def test_each_source_returns_latency_buckets_and_the_slow_version_is_slower(
    setup: Setup, name: str
) -> None:
    source = setup.sources[name]
    # Counts within the source's slack of what was sent (a Prometheus window read later
    # extrapolates a little differently: read it until it is, as the fixture did).
    found = wait_until(lambda: _within(source, SLACK[name]), timeout=30, interval=0.3)
    for v, s in found.items():
        assert len(s.latency_counts) == len(s.latency_bounds_s) + 1
        assert s.latency_bounds_s == sorted(s.latency_bounds_s)
        if name == "direct":  # the increases the replica itself counted, give or take the
            # one warm-up request per version, which falls inside the source's window or not
            # depending on when its first scrape lands
            off = sum(abs(a - b) for a, b in zip(s.latency_counts, setup.counted[v], strict=True))
            assert off <= 2, (s.latency_counts, setup.counted[v])
    base = canaries.version_stats(found["v1"], "v1")
    slow = canaries.version_stats(found["v2"], "v2")
    assert base.latency_counts and base.p50_ms is not None  # the gates see the histogram
    latency = compare_latency(base, slow)
    assert latency is not None and latency.significant and latency.prob_slower > 0.9
    print(f"\n{name}: {latency.text}")
    assert latency.text.startswith("v2 is slower than v1: p50 ")
