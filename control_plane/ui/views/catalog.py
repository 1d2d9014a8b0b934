"""What the pages show, as plain rows: pure formatting of the services' read models."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from control_plane.domain.health import Health, HealthVerdict
from control_plane.schemas import (
    SHA256_RE,
    AuditEventPublic,
    ModelMetrics,
    TensorSpec,
    VersionPublic,
    VersionSummary,
)
from control_plane.services.catalog import ModelCard
from control_plane.ui.views.charts import sparkline_path
from control_plane.ui.views.colors import version_color

NONE = "\u2013"  # an en dash: no figure to show
RATE_S = 60
"""The overview's request rate is the mean of the last minute's steps: a five-minute mean
reads low for minutes after traffic starts or grows."""

HEALTH_COLORS = {
    Health.serving: "green",
    Health.deploying: "blue",
    Health.degraded: "amber",
    Health.failing: "red",
    Health.not_deployed: "gray",
}


@dataclasses.dataclass(frozen=True)
class Chip:
    """A version with its colour, e.g. on a model's deployed line."""

    version: str
    text: str
    color: str


@dataclasses.dataclass(frozen=True)
class Figures:
    """A model's recent traffic over all its versions, formatted."""

    rps: str = NONE
    p50: str = NONE
    p99: str = NONE
    errors: str = NONE
    rps_path: str = ""
    p99_path: str = ""
    errors_path: str = ""


@dataclasses.dataclass(frozen=True)
class OverviewRow:
    name: str
    href: str
    health: str
    health_color: str
    health_reason: str
    deployed: list[Chip]
    versions: str
    rps: str
    p50: str
    p99: str
    errors: str
    rps_path: str
    p99_path: str
    errors_path: str


@dataclasses.dataclass(frozen=True)
class VersionRow:
    """One version as the model page shows it: every field already formatted."""

    version: str
    color: str
    created_at: str
    created_by: str
    short_sha: str
    sha256: str
    format: str
    size: str
    inputs: str
    outputs: str
    metrics: str
    traffic: str
    weight: int


@dataclasses.dataclass(frozen=True)
class ShareRow:
    """One version in the split editor, or in the preview of a change."""

    version: str
    color: str
    weight: int
    before: int


@dataclasses.dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    model: str
    target: str
    before: str
    after: str
    reason: str


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def deployed_line(weights: dict[str, int]) -> str:
    """`v1 → 90%, v2 → 10%`, heaviest first; or say that nothing serves."""
    serving = sorted(((v, w) for v, w in weights.items() if w > 0), key=lambda vw: (-vw[1], vw[0]))
    if not serving:
        return "not deployed"
    return ", ".join(f"{version} → {weight}%" for version, weight in serving)


def when(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _specs(specs: list[TensorSpec]) -> str:
    return ", ".join(f"{s.name} {s.dtype}[{','.join(str(d) for d in s.shape)}]" for s in specs)


def _number(v: float) -> str:
    return f"{v:.4g}"


def version_row(v: VersionPublic, weights: dict[str, int]) -> VersionRow:
    weight = weights.get(v.version, 0)
    return VersionRow(
        version=v.version,
        color=version_color(v.seq),
        created_at=when(v.created_at),
        created_by=v.created_by,
        short_sha=v.sha256[:12],
        sha256=v.sha256,
        format=v.format,
        size=human_size(v.size),
        inputs=_specs(v.inputs),
        outputs=_specs(v.outputs),
        metrics=", ".join(f"{k} {_number(x)}" for k, x in sorted(v.metrics.items())) or NONE,
        traffic=f"{weight}%" if weight else "",
        weight=weight,
    )


def _ms(v: float | None) -> str:
    return NONE if v is None else f"{v:.1f} ms"


def figures(summary: list[VersionSummary], metrics: ModelMetrics | None) -> Figures:
    """All versions together: the rate of the last minute's steps, and over the summary's
    window p50 as the request-weighted mean and p99 as the worst."""
    requests = sum(s.requests for s in summary)
    errors = sum(s.errors for s in summary)
    with_latency = [s for s in summary if s.p50_ms is not None and s.requests]
    p50 = (
        sum((s.p50_ms or 0.0) * s.requests for s in with_latency)
        / sum(s.requests for s in with_latency)
        if with_latency
        else None
    )
    p99s = [s.p99_ms for s in summary if s.p99_ms is not None]
    rps_points, p99_points, err_points = _combined_series(metrics)
    rate = recent_rate(rps_points, metrics.step_s) if metrics else None
    return Figures(
        rps=NONE if rate is None else f"{rate:.1f}",
        p50=_ms(p50),
        p99=_ms(max(p99s) if p99s else None),
        errors=f"{errors / requests:.1%}" if requests else NONE,
        rps_path=sparkline_path(rps_points),
        p99_path=sparkline_path(p99_points),
        errors_path=sparkline_path(err_points),
    )


def recent_rate(rates: list[float | None], step_s: int) -> float | None:
    """The mean of the steps of the last RATE_S seconds that have a figure."""
    recent = [v for v in rates[-max(1, RATE_S // step_s) :] if v is not None]
    return sum(recent) / len(recent) if recent else None


def _combined_series(
    metrics: ModelMetrics | None,
) -> tuple[list[float | None], list[float | None], list[float | None]]:
    if metrics is None or not metrics.series:
        return [], [], []
    n = min(len(s.rps) for s in metrics.series)
    rps: list[float | None] = []
    p99: list[float | None] = []
    err: list[float | None] = []
    for i in range(n):
        rates = [v for s in metrics.series if (v := s.rps[i].value) is not None]
        rps.append(sum(rates) if rates else None)
        worst = [
            v for s in metrics.series if i < len(s.p99_ms) and (v := s.p99_ms[i].value) is not None
        ]
        p99.append(max(worst) if worst else None)
        failed = [
            (s.error_rate[i].value or 0.0) * (s.rps[i].value or 0.0)
            for s in metrics.series
            if i < len(s.error_rate)
        ]
        total = sum(rates)
        err.append(sum(failed) / total if total else None)
    return rps, p99, err


def overview_row(card: ModelCard, verdict: HealthVerdict, figs: Figures) -> OverviewRow:
    return OverviewRow(
        name=card.name,
        href=f"/models/{card.name}",
        health=verdict.health.value,
        health_color=HEALTH_COLORS[verdict.health],
        health_reason=verdict.reason,
        deployed=[
            Chip(version=d.version, text=f"{d.version} · {d.weight}%", color=version_color(d.seq))
            for d in card.deployed
        ],
        versions=(
            f"{card.versions} version{'s' if card.versions != 1 else ''}"
            + (f" · latest {card.latest}" if card.latest else "")
        ),
        rps=figs.rps,
        p50=figs.p50,
        p99=figs.p99,
        errors=figs.errors,
        rps_path=figs.rps_path,
        p99_path=figs.p99_path,
        errors_path=figs.errors_path,
    )


def _compact(d: dict[str, object] | None) -> str:
    if not d:
        return ""
    if set(d) == {"weights"} and isinstance(d["weights"], dict):
        return deployed_line(d["weights"]) if d["weights"] else "not deployed"
    return ", ".join(f"{k}: {_short(v)}" for k, v in d.items())


def _short(value: object) -> str:
    """A sha256 by its first 12 digits, as everywhere else on the pages."""
    text = str(value)
    return f"{text[:12]}…" if SHA256_RE.match(text) else text


def audit_row(e: AuditEventPublic) -> AuditRow:
    return AuditRow(
        id=e.id,
        at=e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        actor=e.actor,
        action=e.action,
        model=e.model or "",
        target=e.target,
        before=_compact(e.before),
        after=_compact(e.after),
        reason=e.reason,
    )
