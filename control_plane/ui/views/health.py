"""Rows for the model page's health panel: errors by type and each replica's CPU and memory.
Pure, so they test without a browser."""

from __future__ import annotations

import dataclasses

from control_plane.schemas import ModelMetrics
from control_plane.ui.views.colors import UNKNOWN


@dataclasses.dataclass(frozen=True)
class ErrorTypeRow:
    version: str
    color: str
    type: str
    count: int


@dataclasses.dataclass(frozen=True)
class ReplicaRow:
    replica: str
    cpu: str
    memory: str


def error_type_rows(metrics: ModelMetrics | None, colors: dict[str, str]) -> list[ErrorTypeRow]:
    rows = []
    for summary in metrics.summary if metrics else []:
        for kind, count in sorted(summary.errors_by_type.items(), key=lambda kv: -kv[1]):
            if count:
                color = colors.get(summary.version, UNKNOWN)
                rows.append(ErrorTypeRow(summary.version, color, kind, count))
    return rows


def replica_rows(metrics: ModelMetrics | None) -> list[ReplicaRow]:
    rows = []
    for usage in metrics.replicas if metrics else []:
        cpu = (
            "-"
            if usage.cpu_seconds_per_second is None
            else f"{100 * usage.cpu_seconds_per_second:.0f} % of a core"
        )
        memory = (
            "-"
            if usage.resident_memory_bytes is None
            else f"{usage.resident_memory_bytes / 2**20:.0f} MiB"
        )
        rows.append(ReplicaRow(usage.replica, cpu, memory))
    return rows
