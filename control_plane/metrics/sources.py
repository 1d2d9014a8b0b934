"""Which metrics source answers: Prometheus when one is configured, else the direct scraper."""

from __future__ import annotations

from control_plane.metrics.base import RunningSource
from control_plane.metrics.direct import DirectSource
from control_plane.metrics.prometheus import PrometheusSource
from control_plane.metrics.scraper import ReplicaLister
from control_plane.settings import PierSettings


def open_source(settings: PierSettings, replicas: ReplicaLister) -> RunningSource:
    """A new source of the kind the settings name (not started; the first query starts it)."""
    if settings.prometheus_url:
        return PrometheusSource(
            settings.prometheus_url, replicas, stale_after_s=settings.replica_stale_s
        )
    return DirectSource(replicas, stale_after_s=settings.replica_stale_s)
