"""One contract for both metrics sources: the same load on a real replica, read back
through a real Prometheus (PromQL via prometheus-api-client) and through the direct
scraper, gives the same figures, and the figures the replica itself counted."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest

from control_plane.errors import MetricsUnavailable
from control_plane.metrics.base import MetricsSource
from control_plane.metrics.direct import DirectSource
from control_plane.metrics.prometheus import PrometheusSource
from control_plane.schemas import ModelMetrics, ReplicaReport, VersionSeries
from control_plane.services.replicas import ReplicaBook
from tests.inference.server import ServerThread
from tests.monitoring.conftest import StartReplica
from tests.monitoring.support import Prometheus, predict, predicted_class, samples
from tests.support.servers import free_port, wait_until

OK, BAD, LABELLED, CORRECT = 200, 20, 40, 30


@dataclass
class Load:
    replica: ServerThread
    instance: str
    book: ReplicaBook
    sources: dict[str, MetricsSource]
    bucket_bounds: tuple[float, ...]
    bucket_counts: tuple[float, ...]  # cumulative, this load only
    client_p99_s: float


def _iris_v1_buckets(url: str) -> dict[float, float]:
    return {
        float(labels["le"]): v
        for name, labels, v in samples(httpx.get(f"{url}/metrics").text)
        if name == "pier_request_duration_seconds_bucket"
        and labels["model"] == "iris"
        and labels["version"] == "v1"
    }


def _requests_seen(source: MetricsSource) -> int:
    figures = source.model_metrics("iris", 300, 5, datetime.now(UTC))
    return sum(s.requests for s in figures.summary if s.version == "v1")


@pytest.fixture(scope="module")
def load(start_replica: StartReplica, prometheus: Prometheus) -> Iterator[Load]:
    replica = start_replica()
    instance = urlsplit(replica.url).netloc
    prometheus.scrape(instance)
    book = ReplicaBook()
    book.report(
        ReplicaReport(
            id="r1",
            url=replica.url,
            revision=1,
            loaded=["iris@v1", "iris@v2", "house@r1"],
            error="",
            last_seen=datetime.now(UTC),
        )
    )
    direct = DirectSource(book, stale_after_s=3600)
    prom = PrometheusSource(prometheus.url, book, stale_after_s=3600, scrape_interval_s=1)
    with httpx.Client(base_url=replica.url, timeout=30) as c:
        # Warm-up: every series exists, and both sources have a first reading of it, before
        # the measured load (Prometheus's increase() starts at a series' first sample).
        predict(c)
        c.post("/predict", json={"model": "iris", "inputs": [[1.0]]})
        direct.start()
        # A few samples of every series first: rate() needs two in its range.
        wait_until(
            lambda: prometheus.query(
                'count_over_time(pier_request_errors_total{model="iris"}[1m]) >= 5'
            ),
            timeout=40,
            interval=0.5,
        )
        baseline = _iris_v1_buckets(replica.url)

        latencies = []
        for _ in range(OK):
            started = time.perf_counter()
            predict(c)
            latencies.append(time.perf_counter() - started)
        for _ in range(BAD):
            assert c.post("/predict", json={"model": "iris", "inputs": [[1.0]]}).status_code == 422
        # The accuracy chart groups predictions by the 5 s step they were made in: the
        # labelled ones (correct first) go from a step's start, so that one step holds them.
        time.sleep(5 - time.time() % 5)
        for i in range(LABELLED):
            body = predict(c)
            label = predicted_class(body) if i < CORRECT else (predicted_class(body) + 1) % 3
            r = c.post("/feedback", json={"prediction_id": body["prediction_id"], "label": label})
            assert r.status_code == 200, r.text
    final = _iris_v1_buckets(replica.url)
    bounds = tuple(sorted(final))
    counts = tuple(final[b] - baseline.get(b, 0.0) for b in bounds)
    total = OK + BAD + LABELLED
    sources: dict[str, MetricsSource] = {"direct": direct, "prometheus": prom}
    wait_until(lambda: _requests_seen(direct) >= total, timeout=30, interval=0.2)
    # Prometheus's increase() extrapolates a series' first and last half interval: on a
    # series a few seconds old that adds tens of percent. Poll until it has settled.
    wait_until(lambda: abs(_requests_seen(prom) - total) <= total * 0.03, timeout=60, interval=0.5)
    latencies.sort()
    yield Load(
        replica, instance, book, sources, bounds, counts, latencies[int(0.99 * len(latencies))]
    )
    direct.close()
    prom.close()


@pytest.fixture(params=["direct", "prometheus"])
def source(request: pytest.FixtureRequest, load: Load) -> MetricsSource:
    return load.sources[request.param]


def _bucket_of_rank(rank: float, bounds: tuple[float, ...], counts: tuple[float, ...]) -> int:
    return next(i for i, count in enumerate(counts) if count >= rank)


def _expected_range(
    q: float, bounds: tuple[float, ...], counts: tuple[float, ...]
) -> tuple[float, float]:
    """(lower, upper] of the bucket that holds the q-quantile of what the replica counted.

    Prometheus's increase() extrapolates each bucket series on its own, which moves a
    young series' counts by a percent or so; the range therefore spans the buckets of the
    ranks q +- 1 % (usually one bucket, two where the quantile sits on a bucket's edge).
    """
    total = counts[-1]
    low = _bucket_of_rank(max(q - 0.01, 0) * total, bounds, counts)
    high = _bucket_of_rank(min(q + 0.01, 1) * total, bounds, counts)
    return (bounds[low - 1] if low else 0.0), bounds[high]


def _v1(figures: ModelMetrics):  # type: ignore[no-untyped-def]
    return next(s for s in figures.summary if s.version == "v1")


def test_counts_and_error_rate(source: MetricsSource) -> None:
    v1 = _v1(source.model_metrics("iris", 300, 5, datetime.now(UTC)))
    total = OK + BAD + LABELLED
    assert total * 0.92 <= v1.requests <= (total + 2) * 1.08
    assert v1.errors_by_type.get("invalid_input", 0) == pytest.approx(BAD, abs=2)
    assert v1.error_rate == pytest.approx(BAD / total, abs=0.01)
    assert v1.rps == pytest.approx(v1.requests / 300, rel=0.01)


@pytest.mark.parametrize("q", [0.5, 0.99])
def test_latency_quantile_within_the_expected_bucket(
    source: MetricsSource, load: Load, q: float
) -> None:
    lower, upper = _expected_range(q, load.bucket_bounds, load.bucket_counts)
    v1 = _v1(source.model_metrics("iris", 300, 5, datetime.now(UTC)))
    got = v1.p50_ms if q == 0.5 else v1.p99_ms
    assert got is not None
    assert lower * 1000 <= got <= upper * 1000, (lower, got / 1000, upper)
    if q == 0.99 and not math.isinf(upper):
        # The replica times less than the client waits.
        assert got / 1000 <= max(load.client_p99_s, upper)


def test_accuracy_from_feedback(source: MetricsSource) -> None:
    v1 = _v1(source.model_metrics("iris", 300, 5, datetime.now(UTC)))
    assert v1.labelled == LABELLED
    assert v1.accuracy == pytest.approx(CORRECT / LABELLED)


def _scrape_times(prometheus: Prometheus) -> list[str]:
    """When Prometheus sampled iris v1's request counter over the last two minutes, and
    what it read: beside a chart's points, when the load reached Prometheus."""
    found = prometheus.query('pier_requests_total{model="iris",version="v1"}[2m]')
    return [f"{float(t):.1f}: {v}" for series in found for t, v in series["values"]]


def _charted(source: MetricsSource) -> tuple[ModelMetrics, VersionSeries, bool]:
    """The charts of iris now, v1's series, and whether they show the load: requests, and
    the errors of its invalid inputs."""
    figures = source.model_metrics("iris", 300, 5, datetime.now(UTC))
    v1 = next(s for s in figures.series if s.version == "v1")
    shown = max(p.value or 0 for p in v1.rps) > 0 and any(
        p.value is not None and p.value > 0 for p in v1.error_rate
    )
    return figures, v1, shown


def test_series_and_replica_usage(
    source: MetricsSource, load: Load, prometheus: Prometheus
) -> None:
    # A chart's last point is the whole second before now, so Prometheus's samples of the
    # last second are on no point yet: read at once after the load, the charts can miss
    # its end (the invalid inputs' errors, sent last). The next refresh shows it, as a
    # user's would: read again for up to 30 s.
    deadline = time.monotonic() + 30
    figures, v1, shown = _charted(source)
    while not shown and time.monotonic() < deadline:
        time.sleep(0.5)
        figures, v1, shown = _charted(source)
    assert figures.window_s == 300 and figures.step_s == 5
    assert len(v1.rps) == 60
    last = [
        (p.t.strftime("%H:%M:%S"), p.value, e.value)
        for p, e in zip(v1.rps[-20:], v1.error_rate[-20:], strict=True)
    ]
    assert shown, (
        f"the charts never showed the load's requests and errors; points (time, rps, error "
        f"rate) {last}; samples {_scrape_times(prometheus)}"
    )
    assert any(p.value is not None for p in v1.p99_ms)
    assert any(p.value == pytest.approx(0.75) for p in v1.accuracy)
    usage = {r.replica: r for r in figures.replicas}
    assert load.instance in usage
    mine = usage[load.instance]
    assert mine.resident_memory_bytes is not None and mine.resident_memory_bytes > 10 * 2**20
    assert mine.cpu_seconds_per_second is not None and mine.cpu_seconds_per_second >= 0


def test_summaries_of_every_model(source: MetricsSource) -> None:
    found = source.summaries(300, datetime.now(UTC))
    assert "v1" in {s.version for s in found["iris"]}


def test_both_sources_agree(load: Load) -> None:
    now = datetime.now(UTC)
    a = _v1(load.sources["direct"].model_metrics("iris", 300, 5, now))
    b = _v1(load.sources["prometheus"].model_metrics("iris", 300, 5, now))
    # Prometheus's increase() extrapolates a series that starts inside the window, and on a
    # busy machine its scrapes drift: over a load of a few seconds that is up to ~20 %.
    assert a.requests == pytest.approx(b.requests, rel=0.25)
    assert a.error_rate == pytest.approx(b.error_rate, abs=0.01)
    assert (a.accuracy, a.labelled) == (b.accuracy, b.labelled)
    print(f"\ndirect:     requests {a.requests} p50 {a.p50_ms:.3f} ms p99 {a.p99_ms:.3f} ms")
    print(f"prometheus: requests {b.requests} p50 {b.p50_ms:.3f} ms p99 {b.p99_ms:.3f} ms")


def test_prometheus_down_is_a_clear_error(load: Load) -> None:
    gone = PrometheusSource(f"http://127.0.0.1:{free_port()}", load.book, timeout_s=2)
    try:
        with pytest.raises(MetricsUnavailable, match="Prometheus did not answer"):
            gone.model_metrics("iris", 300, 5, datetime.now(UTC))
    finally:
        gone.close()
