"""The catalog as the dashboard shows it: pure formatting of the service's read model."""

from __future__ import annotations

import dataclasses
from datetime import UTC

from control_plane.schemas import ModelOverview


@dataclasses.dataclass(frozen=True)
class VersionRow:
    """One version as the page shows it: every field already formatted."""

    version: str
    created_at: str
    created_by: str
    short_sha: str
    sha256: str
    format: str
    size: str
    traffic: str


@dataclasses.dataclass(frozen=True)
class ModelRow:
    name: str
    deployed: str
    versions: list[VersionRow]


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


def to_rows(overview: list[ModelOverview]) -> list[ModelRow]:
    """Pure formatting of the catalog for the page, newest version first as the service returns."""
    return [
        ModelRow(
            name=model.name,
            deployed=deployed_line(model.weights),
            versions=[
                VersionRow(
                    version=v.version,
                    created_at=v.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    created_by=v.created_by,
                    short_sha=v.sha256[:12],
                    sha256=v.sha256,
                    format=v.format,
                    size=human_size(v.size),
                    traffic=f"{model.weights[v.version]}%"
                    if model.weights.get(v.version, 0) > 0
                    else "",
                )
                for v in model.versions
            ],
        )
        for model in overview
    ]
