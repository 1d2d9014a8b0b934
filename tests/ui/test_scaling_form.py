"""The Scaling card's pure parts: the sentence it shows and the settings its form asks for."""

from __future__ import annotations

import pytest

from control_plane.schemas import ScalingSettings
from control_plane.ui.panels.scaling import describe, form_settings


def test_the_sentence_names_bounds_target_and_window() -> None:
    s = ScalingSettings(min_replicas=2, max_replicas=6, target_metric="rps", target_value=40)
    assert describe(s, True) == (
        "2-6 replicas, aiming at 40 requests per second per replica; "
        "scale down after 300 s of lower load."
    )
    assert describe(ScalingSettings(), False).endswith("(the defaults).")
    assert "70 % CPU" in describe(ScalingSettings(), False)


def test_the_form_changes_bounds_target_and_window_and_keeps_the_rest() -> None:
    current = ScalingSettings()
    got = form_settings(current, "2", "4", "inflight", "8", "60")
    assert (got.min_replicas, got.max_replicas, got.target_metric) == (2, 4, "inflight")
    assert got.target_value == 8.0
    assert got.scale_down.stabilization_window_s == 60
    assert got.scale_down.policies == current.scale_down.policies
    assert got.scale_up == current.scale_up
    back = form_settings(got, "1", "3", "cpu", "55", "300")
    assert (back.target_cpu_utilization, back.target_value) == (55, None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("x", "3", "cpu", "70", "300"), "min_replicas: expected a whole number, got 'x'"),
        (("3", "2", "cpu", "70", "300"), "max_replicas (2) must be at least"),
        (("1", "3", "cpu", "170", "300"), "target_cpu_utilization"),
        (("1", "3", "rps", "0", "300"), "target_value"),
        (("1", "3", "cpu", "70", "-5"), "scale_down.stabilization_window_s"),
    ],
)
def test_bad_values_are_refused_with_a_sentence(
    fields: tuple[str, str, str, str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        form_settings(ScalingSettings(), *fields)
