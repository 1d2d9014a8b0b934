"""What the pages show, formatted from the services' read models: pure, no browser needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from control_plane.schemas import (
    AuditEventPublic,
    ModelMetrics,
    Point,
    Resources,
    TensorSpec,
    VersionPublic,
    VersionSeries,
    VersionSummary,
)
from control_plane.ui.views import charts
from control_plane.ui.views.catalog import (
    audit_row,
    deployed_line,
    figures,
    human_size,
    version_row,
)
from control_plane.ui.views.colors import version_color

T0 = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


def version(label: str, seq: int, size: int = 2048) -> VersionPublic:
    spec = TensorSpec(name="features", dtype="float32", shape=[-1, 4])
    return VersionPublic(
        model="iris",
        version=label,
        seq=seq,
        sha256="ab" * 32,
        size=size,
        format="torchscript",
        framework="pytorch",
        inputs=[spec],
        outputs=[TensorSpec(name="probabilities", dtype="float32", shape=[-1, 3])],
        resources=Resources(),
        metrics={"accuracy": 0.96667},
        description="",
        created_at=datetime(2025, 1, 2, 4, 5, tzinfo=timezone(timedelta(hours=1))),
        created_by="alice",
    )


def series(label: str, rps: list[float | None], p99: list[float | None]) -> VersionSeries:
    def pts(values: list[float | None]) -> list[Point]:
        return [Point(t=T0 + timedelta(seconds=i), value=v) for i, v in enumerate(values)]

    return VersionSeries(
        version=label,
        rps=pts(rps),
        p50_ms=pts(p99),
        p95_ms=pts(p99),
        p99_ms=pts(p99),
        error_rate=pts([0.0 if v else None for v in rps]),
    )


def summary(label: str, requests: int, errors: int, p50: float, p99: float) -> VersionSummary:
    return VersionSummary(
        version=label,
        requests=requests,
        errors=errors,
        rps=requests / 300,
        p50_ms=p50,
        p95_ms=p99,
        p99_ms=p99,
        error_rate=errors / requests,
    )


def test_sizes_read_like_a_file_listing() -> None:
    assert human_size(900) == "900 B"
    assert human_size(9735) == "9.5 KiB"
    assert human_size(3 * 1024**2) == "3.0 MiB"
    assert human_size(5 * 1024**4) == "5120.0 GiB"


def test_deployed_line_lists_serving_versions_heaviest_first() -> None:
    assert deployed_line({}) == "not deployed"
    assert deployed_line({"v1": 0}) == "not deployed"
    assert deployed_line({"v1": 10, "v2": 90}) == "v2 → 90%, v1 → 10%"


def test_a_version_row_has_its_colour_schema_metrics_and_traffic() -> None:
    row = version_row(version("v2", seq=2), {"v1": 90, "v2": 10})
    assert row.color == version_color(2)
    assert row.created_at == "2025-01-02 03:05 UTC"
    assert row.short_sha == "abababababab"
    assert row.inputs == "features float32[-1,4]"
    assert row.metrics == "accuracy 0.9667"
    assert (row.traffic, row.weight) == ("10%", 10)
    assert version_row(version("v3", seq=3), {"v1": 100}).traffic == ""


def test_figures_add_rates_and_take_the_worst_p99() -> None:
    figs = figures(
        [summary("v1", 900, 9, p50=4.0, p99=10.0), summary("v2", 100, 0, p50=14.0, p99=30.0)],
        None,
    )
    assert figs.p50 == "5.0 ms"  # weighted by requests: (900*4 + 100*14) / 1000
    assert figs.p99 == "30.0 ms"
    assert figs.errors == "0.9%"
    assert figs.rps == "\u2013"  # no series: no recent rate to show
    assert figures([], None).rps == "\u2013"


def test_the_overview_rate_is_the_last_minute_not_the_five_minute_mean() -> None:
    """Traffic that started a minute ago at 20 req/s reads 20, not its five-minute mean of 4."""
    quiet, busy = [0.0] * 24, [20.0] * 5
    metrics = ModelMetrics(
        model="iris",
        window_s=300,
        step_s=10,
        generated_at=T0,
        summary=[],
        # The step in progress has no figure yet.
        series=[series("v1", [*quiet, *busy, None], [5.0] * 30)],
    )
    figs = figures([summary("v1", 1200, 0, p50=4.0, p99=5.0)], metrics)
    assert figs.rps == "20.0"


def test_sparklines_follow_the_traffic_and_break_where_there_was_none() -> None:
    metrics = ModelMetrics(
        model="iris",
        window_s=300,
        step_s=1,
        generated_at=T0,
        summary=[],
        series=[series("v1", [1.0, None, 3.0, 4.0], [5.0, None, 5.0, 6.0])],
    )
    figs = figures([summary("v1", 8, 0, 5.0, 6.0)], metrics)
    assert figs.rps_path.startswith("M0.0,") and figs.rps_path.count("M") == 2
    assert charts.sparkline_path([None, None]) == ""
    assert charts.sparkline_path([1.0]) == ""


def test_charts_draw_each_version_in_its_colour_with_three_quantiles() -> None:
    metrics = ModelMetrics(
        model="iris",
        window_s=300,
        step_s=1,
        generated_at=T0,
        summary=[],
        series=[series("v1", [1.0, 2.0], [5.0, 6.0]), series("v2", [None, 1.0], [None, 9.0])],
    )
    colors = {"v1": version_color(1), "v2": version_color(2)}
    latency = charts.latency_figure(metrics, colors)
    assert [t.name for t in latency.data] == [
        "v1 p50",
        "v1 p95",
        "v1 p99",
        "v2 p50",
        "v2 p95",
        "v2 p99",
    ]
    assert {t.line.color for t in latency.data if t.name.startswith("v2")} == {version_color(2)}
    rps = charts.rps_figure(metrics, colors)
    assert [t.line.color for t in rps.data] == [version_color(1), version_color(2)]
    assert list(rps.data[1].y) == [None, 1.0]
    assert charts.error_figure(None, colors).data == ()
    assert charts.time_range("24h").window_s == 86400
    assert charts.time_range("nonsense").key == "5m"


def test_audit_rows_show_splits_in_words_and_short_hashes() -> None:
    row = audit_row(
        AuditEventPublic(
            id=1,
            at=T0,
            actor="alice",
            action="deployment.set",
            model="iris",
            target="iris",
            before={"weights": {"v1": 100}},
            after={"weights": {"v1": 90, "v2": 10}},
            reason="canary",
        )
    )
    assert (row.before, row.after) == ("v1 → 100%", "v1 → 90%, v2 → 10%")
    push = audit_row(
        AuditEventPublic(
            id=2,
            at=T0,
            actor="alice",
            action="version.push",
            model="iris",
            target="iris@v2",
            before=None,
            after={"version": "v2", "sha256": "ab" * 32},
            reason="",
        )
    )
    assert push.after == "version: v2, sha256: abababababab…"
