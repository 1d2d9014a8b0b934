"""Prometheus collectors, defined once per app on its own registry; with several worker
processes, merged through prometheus_client's per-process files (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from inference.metrics.window import RollingWindow
from inference.settings import METRICS_STARTED_FILE

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01,
    0.015, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
REQUEST_BUCKETS = tuple(float(f"{10 ** (k / 12 - 4):.3g}") for k in range(61))
"""0.1 ms to 10 s, twelve bounds a decade (each 21 % above the last, every power of ten
among them): request latency read off these resolves the 10 % differences experiments
and canaries judge, at any scale."""
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
TEXT_CONTENT_TYPE = CONTENT_TYPE_LATEST


def _live_pids(directory: Path) -> list[int]:
    """Worker pids that have written metric files and still run."""
    pids = set()
    for path in directory.glob("*.db"):
        tail = path.stem.rsplit("_", 1)[-1]
        if tail.isdigit():
            pids.add(int(tail))
    return sorted(p for p in pids if Path(f"/proc/{p}").exists())


def _proc_usage(pid: int) -> tuple[float, float] | None:
    """CPU seconds and resident bytes of one process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, float(rss)


class WorkersProcessCollector:
    """The standard process_* figures summed over a replica's live worker processes."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def collect(self) -> Iterator[Metric]:
        usages = [u for pid in _live_pids(self._directory) if (u := _proc_usage(pid))]
        cpu = CounterMetricFamily(
            "process_cpu_seconds", "Total user and system CPU time spent in seconds."
        )
        cpu.add_metric([], sum(u[0] for u in usages))
        rss = GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.")
        rss.add_metric([], sum(u[1] for u in usages))
        workers = GaugeMetricFamily("pier_worker_processes", "Live worker processes.")
        workers.add_metric([], len(usages))
        yield from (cpu, rss, workers)
        try:
            started = float((self._directory / METRICS_STARTED_FILE).read_text())
        except (OSError, ValueError):
            return  # a directory prepared by hand: no start time to tell
        # The replica's start, so a scraper knows its counters hold nothing older.
        start = GaugeMetricFamily(
            "process_start_time_seconds", "Start time of the replica since unix epoch in seconds."
        )
        start.add_metric([], started)
        yield start


@dataclass
class _Series:
    duration: Any
    queued: Any
    inference: Any
    batch: Any
    codes: dict[int, Any] = field(default_factory=dict)


class Metrics:
    """Every collector of one app, on its own CollectorRegistry.

    `enabled=False` turns recording into no-ops (to measure what metrics cost).
    """

    def __init__(
        self,
        enabled: bool = True,
        multiproc_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self.multiproc_dir = multiproc_dir
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Labels: model and version (bounded: only the versions a replica loads), plus
        # code, type or result from fixed sets.
        mv = ["model", "version"]
        self.requests = Counter(
            "pier_requests",
            "Prediction requests by model, version and HTTP status code.",
            [*mv, "code"],
            registry=r,
        )
        self.errors = Counter(
            "pier_request_errors",
            "Failed prediction requests by model, version and error type.",
            [*mv, "type"],
            registry=r,
        )
        self.duration = Histogram(
            "pier_request_duration_seconds",
            "Time to answer a prediction request, from its arrival to its answer.",
            mv,
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.queued = Histogram(
            "pier_request_queue_seconds",
            "Time a request waited for a model worker thread.",
            mv,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference = Histogram(
            "pier_model_inference_seconds",
            "Time spent in the model for one call (one batch).",
            mv,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch = Histogram(
            "pier_batch_size",
            "Rows per model call.",
            mv,
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_limit_rows = Gauge(
            "pier_batch_limit_rows",
            "Most rows one model call now gathers: learned per version, up to max_batch_rows.",
            mv,
            registry=r,
            multiprocess_mode="livemax",
        )
        self.refused = Counter(
            "pier_admission_refused",
            "Prediction requests refused with 503 before they were read: the worker already "
            "held its max_in_flight, or max_queue_s of work at its recent pace. Not in "
            "pier_requests_total (no model was resolved).",
            registry=r,
        )
        self.inflight = Gauge(
            "pier_inflight_requests",
            "Prediction requests being handled now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.loaded = Gauge(
            "pier_model_loaded",
            "1 while a model version is loaded and warm.",
            mv,
            registry=r,
            multiprocess_mode="livemax",
        )
        self.feedback = Counter(
            "pier_feedback",
            "Ground-truth feedback items by result: accepted, unknown, expired, duplicate, "
            "invalid.",
            ["result"],
            registry=r,
        )
        self.labelled = Counter(
            "pier_feedback_labelled_rows",
            "Prediction rows that received a label, by model and version (at arrival).",
            mv,
            registry=r,
        )
        self.correct = Counter(
            "pier_feedback_correct_rows",
            "Classifier rows whose label matched the prediction (at arrival).",
            mv,
            registry=r,
        )
        # Shadow traffic (inference/feedback/shadow.py): `version` is the shadow's; its
        # latency and errors go in the series above under its own version label.
        self.shadow = Counter(
            "pier_shadow_requests",
            "Requests mirrored to a shadow version, by result: ok, error, dropped (queue full).",
            [*mv, "result"],
            registry=r,
        )
        self.shadow_compared = Counter(
            "pier_shadow_compared_rows",
            "Classifier rows answered by both the live version and a shadow version.",
            mv,
            registry=r,
        )
        self.shadow_agreed = Counter(
            "pier_shadow_agreed_rows",
            "Classifier rows where a shadow version predicted the live version's class.",
            mv,
            registry=r,
        )
        if multiproc_dir is None:
            ProcessCollector(registry=r)
        self.window = RollingWindow(clock)
        self._by_version: dict[tuple[str, str], _Series] = {}

    def _series(self, model: str, version: str) -> _Series:
        """The labelled children of one model version, looked up once: `labels()` takes a
        lock and validates on every call, which the request path need not pay."""
        key = (model, version)
        series = self._by_version.get(key)
        if series is None:
            series = _Series(
                duration=self.duration.labels(model, version),
                queued=self.queued.labels(model, version),
                inference=self.inference.labels(model, version),
                batch=self.batch.labels(model, version),
            )
            self._by_version[key] = series
        return series

    def observe(
        self, model: str, version: str, code: int, seconds: float, error_type: str | None = None
    ) -> None:
        if not self.enabled:
            return
        series = self._series(model, version)
        counter = series.codes.get(code)
        if counter is None:
            counter = series.codes[code] = self.requests.labels(model, version, str(code))
        counter.inc()
        series.duration.observe(seconds)
        if error_type is not None:
            self.errors.labels(model, version, error_type).inc()
        self.window.record(model, version, seconds, error_type)

    def observe_call(
        self, model: str, version: str, rows: int, queued_s: float, model_s: float
    ) -> None:
        if not self.enabled:
            return
        series = self._series(model, version)
        series.queued.observe(queued_s)
        series.inference.observe(model_s)
        series.batch.observe(rows)

    def count_refused(self) -> None:
        if self.enabled:
            self.refused.inc()

    def batch_limit(self, model: str, version: str, rows: int) -> None:
        if self.enabled:
            self.batch_limit_rows.labels(model, version).set(rows)

    def request_started(self) -> None:
        """One more prediction request in flight (pair with request_ended, in a finally)."""
        if self.enabled:
            self.inflight.inc()

    def request_ended(self) -> None:
        if self.enabled:
            self.inflight.dec()

    def count_feedback(self, result: str, n: int = 1) -> None:
        if self.enabled and n:
            self.feedback.labels(result).inc(n)

    def count_labels(self, model: str, version: str, rows: int, correct: int | None) -> None:
        if not self.enabled:
            return
        self.labelled.labels(model, version).inc(rows)
        if correct is not None:
            self.correct.labels(model, version).inc(correct)

    def count_shadow(self, model: str, version: str, result: str) -> None:
        if self.enabled:
            self.shadow.labels(model, version, result).inc()

    def count_agreement(self, model: str, version: str, compared: int, agreed: int) -> None:
        if self.enabled and compared:
            self.shadow_compared.labels(model, version).inc(compared)
            self.shadow_agreed.labels(model, version).inc(agreed)

    def set_loaded(self, model: str, version: str, loaded: bool) -> None:
        if loaded:
            self.loaded.labels(model, version).set(1)
        elif self.multiproc_dir is not None:
            # Per-process files keep a removed child; 0 says "not loaded" in every mode.
            self.loaded.labels(model, version).set(0)
        else:
            with contextlib.suppress(KeyError):
                self.loaded.remove(model, version)
            with contextlib.suppress(KeyError):
                self.batch_limit_rows.remove(model, version)

    def render_text(self) -> bytes:
        """The Prometheus text exposition of this replica (every worker, if several)."""
        if self.multiproc_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.multiproc_dir))
        registry.register(WorkersProcessCollector(self.multiproc_dir))
        return generate_latest(registry)

    def worker_exited(self) -> None:
        """Drop this worker's live gauges (in-flight, loaded) from the shared files."""
        if self.multiproc_dir is not None:
            mark_process_dead(os.getpid(), str(self.multiproc_dir))
