"""The range of the rate() behind each chart point (control_plane/metrics/prometheus.py).

A chart point at time t shows rate(...[r]) over the samples in (t - r, t]. An increase
between two consecutive samples shows on the chart only if both samples lie in one point's
range. Scrapes come late under load, so two consecutive samples can be two scrape
intervals apart.
"""

from __future__ import annotations

import pytest

from control_plane.metrics.prometheus import rate_range_s


def _shown(step_s: float, range_s: float, first: float, gap_s: float) -> bool:
    """Whether some point k * step_s has samples `first` and `first + gap_s` in its range.
    Only the first point at or after the later sample can: later ones start later."""
    k = 0
    while k * step_s < first + gap_s:
        k += 1
    return k * step_s - range_s < first


def _always_shown(step_s: float, range_s: float, gap_s: float) -> bool:
    # Points repeat every step: every phase of the first sample within one step, in 1 ms.
    phases = [i * step_s / 1000 for i in range(1000)]
    return all(_shown(step_s, range_s, p, gap_s) for p in phases)


@pytest.mark.parametrize(
    ("step_s", "interval_s"), [(5, 1), (5, 15), (15, 15), (60, 15), (60, 30), (300, 15)]
)
def test_an_increase_between_samples_a_late_scrape_apart_is_always_charted(
    step_s: int, interval_s: int
) -> None:
    range_s = rate_range_s(step_s, interval_s)
    for gap in (interval_s, 1.5 * interval_s, 2 * interval_s):
        assert _always_shown(step_s, range_s, gap), (step_s, interval_s, gap)
    # Each range holds at least four scrape intervals of samples.
    assert range_s >= 4 * interval_s


def test_a_step_plus_one_interval_would_lose_an_increase_after_a_late_scrape() -> None:
    """Why two intervals: over a step plus one, the monitoring tests' chart (5 s points,
    1 s scrapes) loses an increase when a loaded machine makes one scrape a second late."""
    assert _always_shown(5, 5 + 1, gap_s=1)
    assert not _always_shown(5, 5 + 1, gap_s=2)
    assert _always_shown(5, rate_range_s(5, 1), gap_s=2)
