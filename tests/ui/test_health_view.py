"""The model page's health rows, from the metrics types (no browser needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from control_plane.schemas import ModelMetrics, ReplicaUsage, VersionSummary
from control_plane.ui.views.health import error_type_rows, replica_rows


def _metrics() -> ModelMetrics:
    def summary(version: str, errors: dict[str, int]) -> VersionSummary:
        return VersionSummary(
            version=version,
            requests=100,
            errors=sum(errors.values()),
            rps=1.0,
            p50_ms=1.0,
            p95_ms=2.0,
            p99_ms=3.0,
            error_rate=0.1,
            errors_by_type=errors,
        )

    return ModelMetrics(
        model="iris",
        window_s=300,
        step_s=5,
        generated_at=datetime(2026, 11, 27, tzinfo=UTC),
        summary=[summary("v1", {"invalid_input": 3, "model_error": 7}), summary("v2", {})],
        series=[],
        replicas=[
            ReplicaUsage(
                replica="http://127.0.0.1:8080",
                cpu_seconds_per_second=0.42,
                resident_memory_bytes=275 * 2**20,
            ),
            ReplicaUsage(replica="b", cpu_seconds_per_second=None, resident_memory_bytes=None),
        ],
    )


def test_errors_by_type_most_frequent_first_in_the_version_colour() -> None:
    rows = error_type_rows(_metrics(), {"v1": "#0090ff"})
    assert [(r.version, r.type, r.count, r.color) for r in rows] == [
        ("v1", "model_error", 7, "#0090ff"),
        ("v1", "invalid_input", 3, "#0090ff"),
    ]
    assert error_type_rows(None, {}) == []


def test_replica_usage_reads_as_a_person_would_say_it() -> None:
    rows = replica_rows(_metrics())
    assert [(r.cpu, r.memory) for r in rows] == [("42 % of a core", "275 MiB"), ("-", "-")]
