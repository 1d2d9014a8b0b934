"""Read one replica's Prometheus text into typed cumulative figures (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, str]  # (model, version)


@dataclass
class VersionCounters:
    """Cumulative counters of one model version on one replica."""

    requests: float = 0.0
    errors_by_type: dict[str, float] = field(default_factory=dict)
    bounds: tuple[float, ...] = ()
    buckets: tuple[float, ...] = ()  # cumulative per bound, aligned with `bounds`
    # Shadow versions: classifier rows compared with the live answer, and those that agreed.
    compared: float = 0.0
    agreed: float = 0.0

    @property
    def errors(self) -> float:
        return sum(self.errors_by_type.values())


@dataclass
class ReplicaFigures:
    versions: dict[Key, VersionCounters]
    cpu_seconds: float | None
    resident_bytes: float | None
    start_time: float | None  # unix seconds; None where the exposition has none


def _le(raw: str) -> float:
    return math.inf if raw in ("+Inf", "Inf") else float(raw)


def parse(text: str) -> ReplicaFigures:
    """Raises ValueError on text that is not the Prometheus exposition format."""
    versions: dict[Key, VersionCounters] = {}
    buckets: dict[Key, dict[float, float]] = {}
    cpu = rss = start = None

    def counters(labels: dict[str, str]) -> VersionCounters:
        key = (labels.get("model", ""), labels.get("version", ""))
        return versions.setdefault(key, VersionCounters())

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "pier_requests_total":
                counters(labels).requests += value
            elif name == "pier_request_errors_total":
                by_type = counters(labels).errors_by_type
                kind = labels.get("type", "unknown")
                by_type[kind] = by_type.get(kind, 0.0) + value
            elif name == "pier_request_duration_seconds_bucket":
                counters(labels)
                key = (labels.get("model", ""), labels.get("version", ""))
                per_le = buckets.setdefault(key, {})
                le = _le(labels["le"])
                per_le[le] = per_le.get(le, 0.0) + value
            elif name == "pier_shadow_compared_rows_total":
                counters(labels).compared += value
            elif name == "pier_shadow_agreed_rows_total":
                counters(labels).agreed += value
            elif name == "process_cpu_seconds_total":
                cpu = value
            elif name == "process_resident_memory_bytes":
                rss = value
            elif name == "process_start_time_seconds":
                start = value
    for key, per_le in buckets.items():
        bounds = tuple(sorted(per_le))
        versions[key].bounds = bounds
        versions[key].buckets = tuple(per_le[b] for b in bounds)
    return ReplicaFigures(versions, cpu, rss, start)
