"""What a change makes worse by the versions' declared metrics: pure, no browser needed."""

from __future__ import annotations

import pytest

from control_plane.ui.views.regressions import lower_is_better, regressions, serving_version

DECLARED = {
    "v1": {"accuracy": 0.95, "f1": 0.9, "val_loss": 0.2},
    "v2": {"accuracy": 0.90, "f1": 0.9, "val_loss": 0.3},
    "v3": {"accuracy": 0.97, "f1": 0.92, "val_loss": 0.1},
}


def test_a_deploy_of_a_worse_version_names_each_worse_metric() -> None:
    lines = regressions({"v1": 100}, {"v2": 100}, DECLARED)
    assert lines == [
        "v2: accuracy 0.9 < 0.95 serving now (v1)",
        "v2: val_loss 0.3 > 0.2 serving now (v1); lower is better",
    ]


def test_equal_or_better_metrics_say_nothing() -> None:
    assert regressions({"v1": 100}, {"v3": 100}, DECLARED) == []
    assert regressions({"v1": 100}, {"v1": 100}, DECLARED) == []


def test_a_metric_declared_on_one_side_only_is_not_compared() -> None:
    declared = {"v1": {"accuracy": 0.95}, "v2": {"f1": 0.1}, "v4": {}}
    assert regressions({"v1": 100}, {"v2": 100}, declared) == []
    assert regressions({"v1": 100}, {"v4": 100}, declared) == []
    assert regressions({"v1": 100}, {"v5": 100}, declared) == []


def test_nothing_serving_means_nothing_to_compare_with() -> None:
    assert regressions({}, {"v2": 100}, DECLARED) == []


def test_a_split_warns_about_the_versions_it_gives_more_traffic() -> None:
    assert regressions({"v1": 100}, {"v1": 90, "v2": 10}, DECLARED) == [
        "v2: accuracy 0.9 < 0.95 serving now (v1)",
        "v2: val_loss 0.3 > 0.2 serving now (v1); lower is better",
    ]
    # Less traffic to the worse version is no regression.
    assert regressions({"v1": 80, "v2": 20}, {"v1": 90, "v2": 10}, DECLARED) == []


def test_the_serving_version_is_the_one_with_the_largest_share() -> None:
    assert serving_version({"v1": 30, "v3": 70}) == "v3"
    assert serving_version({"v2": 50, "v1": 50}) == "v1"
    assert serving_version({"v1": 0}) is None
    lines = regressions({"v1": 30, "v3": 70}, {"v1": 100}, DECLARED)
    assert lines[0] == "v1: accuracy 0.95 < 0.97 serving now (v3)"


def test_close_figures_get_the_digits_that_tell_them_apart() -> None:
    declared = {"a": {"auc": 0.96671}, "b": {"auc": 0.96672}}
    assert regressions({"b": 100}, {"a": 100}, declared) == [
        "a: auc 0.96671 < 0.96672 serving now (b)"
    ]


@pytest.mark.parametrize(
    ("metric", "lower"),
    [
        ("accuracy", False),
        ("f1", False),
        ("top5", False),
        ("precision", False),
        ("loss", True),
        ("val_loss", True),
        ("error_rate", True),
        ("MAE", True),
        ("test-rmse", True),
        ("p99_latency_ms", True),
    ],
)
def test_which_metrics_are_better_when_lower(metric: str, lower: bool) -> None:
    assert lower_is_better(metric) is lower
