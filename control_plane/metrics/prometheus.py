"""The Prometheus metrics source: PromQL over the replicas' histograms and counters, the only
importer of prometheus-api-client; accuracy comes from the feedback tallies instead."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from requests.exceptions import RequestException
from urllib3.util.retry import Retry

from control_plane.errors import MetricsUnavailable
from control_plane.loops import Loop
from control_plane.metrics.accuracy import Tally
from control_plane.metrics.base import bucket_counts
from control_plane.metrics.scraper import FeedbackFeed, ReplicaLister, live_targets
from control_plane.metrics.timeline import (
    Steps,
    accuracy_points,
    mae_points,
    model_metrics,
    points,
)
from control_plane.schemas import ModelMetrics, ReplicaUsage, VersionSeries, VersionSummary

QUANTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
Vector = dict[tuple[str, ...], float | None]


@dataclass
class _Figures:
    """One version over the window, as Prometheus sums it."""

    requests: float
    errors_by_type: dict[str, float]
    quantiles_ms: dict[str, float | None]
    compared: float = 0.0
    agreed: float = 0.0
    cumulative: dict[float, float] = field(default_factory=dict)  # le -> count


def _label(value: str) -> str:
    """A PromQL string literal: names are validated upstream, this keeps it so."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _number(raw: str) -> float | None:
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value


def rate_range_s(step_s: float, scrape_interval_s: float) -> float:
    """The range of the rate() behind each point: a step plus two scrape intervals, so an
    increase between two late samples still falls inside some point's range, and at least
    four intervals, so each range holds enough samples."""
    return max(step_s + 2 * scrape_interval_s, 4 * scrape_interval_s)


class PrometheusSource:
    def __init__(
        self,
        url: str,
        replicas: ReplicaLister,
        stale_after_s: float = 10.0,
        scrape_interval_s: float = 15.0,
        timeout_s: float = 10.0,
        feedback_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`scrape_interval_s`: how often Prometheus scrapes the replicas; rate() ranges are
        sized from it (see `_range_s`)."""
        self._prom = PrometheusConnect(
            url=url.rstrip("/"), retry=Retry(total=1, backoff_factor=0), timeout=timeout_s
        )
        self._replicas = replicas
        self._stale_after_s = stale_after_s
        self._scrape_interval_s = scrape_interval_s
        self._clock = clock
        self.feedback = FeedbackFeed()
        self._client: httpx.Client | None = None
        self._loop = Loop(
            feedback_interval_s,
            self.pull_feedback,
            "pier-metrics-feedback",
            wait_first=False,
            stop_timeout_s=5,
        )

    def start(self) -> None:
        self._loop.start()

    def close(self) -> None:
        self._loop.stop()
        self._prom.close()
        if self._client is not None:
            self._client.close()
            self._client = None

    def pull_feedback(self) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=httpx.Timeout(2.0, connect=1.0))
        now = self._clock()
        self.feedback.pull(
            self._client, live_targets(self._replicas, now, self._stale_after_s), now
        )

    # -- queries -------------------------------------------------------------------------

    def _instant(self, query: str, at: datetime, by: tuple[str, ...]) -> Vector:
        try:
            result = self._prom.custom_query(query, params={"time": f"{at.timestamp():.3f}"})
        except (RequestException, PrometheusApiClientException) as e:
            raise MetricsUnavailable(f"Prometheus did not answer: {e}") from e
        return {
            tuple(r["metric"].get(label, "") for label in by): _number(r["value"][1])
            for r in result
        }

    def _range(self, query: str, steps: Steps, by: str) -> dict[str, list[float | None]]:
        start = datetime.fromtimestamp(steps.last - (steps.points - 1) * steps.step_s, UTC)
        end = datetime.fromtimestamp(steps.last, UTC)
        try:
            result = self._prom.custom_query_range(query, start, end, f"{steps.step_s}s")
        except (RequestException, PrometheusApiClientException) as e:
            raise MetricsUnavailable(f"Prometheus did not answer: {e}") from e
        first = steps.last - (steps.points - 1) * steps.step_s
        out: dict[str, list[float | None]] = {}
        for r in result:
            row: list[float | None] = [None] * steps.points
            for t, raw in r["values"]:
                k = round((float(t) - first) / steps.step_s)
                if 0 <= k < steps.points:
                    row[k] = _number(raw)
            out[r["metric"].get(by, "")] = row
        return out

    def _range_s(self, step_s: int) -> str:
        return f"{round(rate_range_s(step_s, self._scrape_interval_s))}s"

    # -- MetricsSource -------------------------------------------------------------------

    def model_metrics(self, model: str, window_s: int, step_s: int, now: datetime) -> ModelMetrics:
        self.start()
        sel = f"{{model={_label(model)}}}"
        steps = Steps.of(now, window_s, step_s)
        r = self._range_s(step_s)
        rate = f"sum by (version) (rate(pier_requests_total{sel}[{r}]))"
        errors = f"sum by (version) (rate(pier_request_errors_total{sel}[{r}]))"
        buckets = f"sum by (version, le) (rate(pier_request_duration_seconds_bucket{sel}[{r}]))"
        rps = self._range(rate, steps, "version")
        error_rate = self._range(f"({errors} or {rate} * 0) / {rate}", steps, "version")
        quantiles = {
            name: self._range(f"histogram_quantile({q}, {buckets})", steps, "version")
            for name, q in QUANTILES.items()
        }
        summaries = self._summaries(sel, window_s, now, ("version",))
        tallies, tally_steps = self.feedback.window(model, steps)
        versions = sorted(set(rps) | {k[-1] for k in summaries} | {v for _, v in tallies})
        times = steps.times()
        nothing: list[float | None] = [None] * steps.points
        series = [
            VersionSeries(
                version=v,
                rps=points(times, rps.get(v, nothing)),
                p50_ms=points(times, _ms(quantiles["p50_ms"].get(v, nothing))),
                p95_ms=points(times, _ms(quantiles["p95_ms"].get(v, nothing))),
                p99_ms=points(times, _ms(quantiles["p99_ms"].get(v, nothing))),
                error_rate=points(times, error_rate.get(v, nothing)),
                accuracy=accuracy_points(times, tally_steps.get(v)),
                mae=mae_points(times, tally_steps.get(v)),
            )
            for v in versions
        ]
        summary = [
            _summary(v, summaries.get((v,)), window_s, tallies.get((model, v))) for v in versions
        ]
        found = model_metrics(model, window_s, steps, now, (summary, series))
        found.replicas = self._usage(sel, now, r)
        return found

    def summaries(self, window_s: int, now: datetime) -> dict[str, list[VersionSummary]]:
        self.start()
        found = self._summaries("", window_s, now, ("model", "version"))
        steps = Steps.of(now, window_s, window_s)
        with self.feedback.lock:
            tallies = self.feedback.ledger.totals(None, steps.start, steps.end)
        out: dict[str, list[VersionSummary]] = {}
        for model, version in sorted({(k[0], k[1]) for k in found} | set(tallies)):
            figures = found.get((model, version))
            if figures is not None and not figures.requests and (model, version) not in tallies:
                continue
            out.setdefault(model, []).append(
                _summary(version, figures, window_s, tallies.get((model, version)))
            )
        return out

    def _summaries(
        self, sel: str, window_s: int, now: datetime, by: tuple[str, ...]
    ) -> dict[tuple[str, ...], _Figures]:
        w = f"{window_s}s"
        group = ", ".join(by)
        requests = self._instant(
            f"sum by ({group}) (increase(pier_requests_total{sel}[{w}]))", now, by
        )
        errors = self._instant(
            f"sum by ({group}, type) (increase(pier_request_errors_total{sel}[{w}]))",
            now,
            (*by, "type"),
        )
        buckets = f"sum by ({group}, le) (increase(pier_request_duration_seconds_bucket{sel}[{w}]))"
        quantiles = {
            name: self._instant(f"histogram_quantile({q}, {buckets})", now, by)
            for name, q in QUANTILES.items()
        }
        per_le = self._instant(buckets, now, (*by, "le"))
        compared, agreed = (
            self._instant(f"sum by ({group}) (increase({name}{sel}[{w}]))", now, by)
            for name in ("pier_shadow_compared_rows_total", "pier_shadow_agreed_rows_total")
        )
        out: dict[tuple[str, ...], _Figures] = {}
        for key, n in requests.items():
            out[key] = _Figures(
                requests=n or 0.0,
                errors_by_type={},
                quantiles_ms={name: _scale(values.get(key)) for name, values in quantiles.items()},
                compared=compared.get(key) or 0.0,
                agreed=agreed.get(key) or 0.0,
            )
        for key, n in errors.items():
            figures = out.get(key[:-1])
            if figures is not None and n:
                figures.errors_by_type[key[-1]] = n
        for key, n in per_le.items():
            figures = out.get(key[:-1])
            if figures is not None:
                le = key[-1]
                figures.cumulative[math.inf if le in ("+Inf", "Inf") else float(le)] = n or 0.0
        return out

    def _usage(self, sel: str, now: datetime, r: str) -> list[ReplicaUsage]:
        serving = f"(max by (instance) (pier_model_loaded{sel}) == 1)"
        cpu = self._instant(
            f"sum by (instance) (rate(process_cpu_seconds_total[{r}])) * on (instance) {serving}",
            now,
            ("instance",),
        )
        rss = self._instant(
            f"max by (instance) (process_resident_memory_bytes) * on (instance) {serving}",
            now,
            ("instance",),
        )
        return [
            ReplicaUsage(
                replica=name,
                cpu_seconds_per_second=cpu.get((name,)),
                resident_memory_bytes=rss.get((name,)),
            )
            for (name,) in sorted(set(cpu) | set(rss))
        ]


def _scale(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _ms(row: list[float | None]) -> list[float | None]:
    return [_scale(v) for v in row]


def _summary(
    version: str, figures: _Figures | None, window_s: int, tally: Tally | None
) -> VersionSummary:
    t = tally or Tally()
    requests = figures.requests if figures else 0.0
    errors = sum(figures.errors_by_type.values()) if figures else 0.0
    q = figures.quantiles_ms if figures else {}
    bounds: list[float] = []
    counts: list[int] = []
    if figures and figures.cumulative:
        les = sorted(figures.cumulative)
        bounds, counts = bucket_counts(les, [figures.cumulative[le] for le in les])
    compared = figures.compared if figures else 0.0
    return VersionSummary(
        version=version,
        requests=round(requests),
        errors=round(errors),
        rps=requests / window_s,
        p50_ms=q.get("p50_ms"),
        p95_ms=q.get("p95_ms"),
        p99_ms=q.get("p99_ms"),
        error_rate=errors / requests if requests else None,
        errors_by_type={k: round(v) for k, v in sorted(figures.errors_by_type.items())}
        if figures
        else {},
        accuracy=t.accuracy,
        labelled=t.labelled,
        mae=t.mae,
        rmse=t.rmse,
        compared=round(compared),
        agreement=figures.agreed / compared if figures and compared else None,
        latency_bounds_s=bounds,
        latency_counts=counts,
    )
