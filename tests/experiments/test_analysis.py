"""Canary gates and verdicts: table-driven, on numbers like those monitoring reports."""

from __future__ import annotations

import pytest

from control_plane.domain.analysis import Gates, VersionStats, analyse, verdict

BASE = VersionStats("v1", requests=5_000, errors=5, p99_ms=20.0)


@pytest.mark.parametrize(
    ("canary", "outcome", "failing_gate"),
    [
        (VersionStats("v2", 500, 1, 21.0), "pass", None),
        (VersionStats("v2", 50, 0, 19.0), "wait", None),  # too little traffic to promote
        (VersionStats("v2", 0, 0, None), "wait", None),
        (VersionStats("v2", 40, 12, 20.0), "fail", "error rate"),  # errors fail early
        (VersionStats("v2", 10, 5, 20.0), "wait", None),  # ...but not on a handful
        (VersionStats("v2", 500, 30, 20.0), "fail", "error rate"),  # 6 % vs 0.1 %
        (VersionStats("v2", 500, 5, 20.0), "pass", None),  # +0.9 points: within the margin
        (VersionStats("v2", 500, 1, 45.0), "fail", "p99 latency"),  # x2.25
        (VersionStats("v2", 500, 1, 29.0), "pass", None),  # x1.45
    ],
)
def test_canary_gates(canary: VersionStats, outcome: str, failing_gate: str | None) -> None:
    result = analyse(BASE, canary, Gates())
    assert result.outcome == outcome, result.summary
    failed = [g.name for g in result.gates if g.outcome == "fail"]
    if failing_gate:
        assert failing_gate in failed
    assert "error rate" in result.summary and "p99 latency" in result.summary


def test_gates_can_be_overridden() -> None:
    canary = VersionStats("v2", 500, 1, 45.0)
    assert analyse(BASE, canary, Gates(max_p99_ratio=3.0)).outcome == "pass"
    assert analyse(BASE, VersionStats("v2", 60, 0, 20.0), Gates(min_requests=50)).outcome == "pass"


@pytest.mark.parametrize(
    ("base_acc", "canary_acc", "n", "outcome"),
    [
        ((910, 1000), (860, 1000), 1000, "fail"),  # 5 points worse, p < 0.001
        ((910, 1000), (905, 1000), 1000, "pass"),  # not significantly worse
        ((910, 1000), (950, 1000), 1000, "pass"),  # better
        ((91, 100), (50, 100), 100, "pass"),  # too few labels to judge: not a blocker
    ],
)
def test_accuracy_gate(
    base_acc: tuple[int, int], canary_acc: tuple[int, int], n: int, outcome: str
) -> None:
    base = VersionStats("v1", 5_000, 5, 20.0, labelled=base_acc[1], correct=base_acc[0])
    canary = VersionStats("v2", 1_000, 1, 20.0, labelled=canary_acc[1], correct=canary_acc[0])
    assert analyse(base, canary, Gates()).outcome == outcome


def test_a_significant_accuracy_difference_is_named_with_its_numbers() -> None:
    base = VersionStats("v1", 6_200, 0, 20.0, labelled=6_200, correct=5_642)  # 91.0 %
    challenger = VersionStats("v2", 6_200, 0, 20.0, labelled=6_200, correct=5_772)  # 93.1 %
    v = verdict(base, challenger)
    assert v.decided
    assert v.text.startswith("v2 is more accurate than v1: 93.1 % vs 91.0 % (p = ")
    assert "n = 12,400" in v.text


def test_too_little_data_says_how_much_is_needed() -> None:
    base = VersionStats("v1", 600, 0, 20.0, labelled=600, correct=546)
    challenger = VersionStats("v2", 600, 0, 20.0, labelled=600, correct=552)
    v = verdict(base, challenger)
    assert not v.decided
    assert v.text.startswith("not enough data yet: 1,200 of about ")
    needed = int(v.text.split("of about ")[1].split(" ")[0].replace(",", ""))
    assert 5_000 < needed < 10_000


def test_enough_data_but_no_difference_is_reported_as_such() -> None:
    base = VersionStats("v1", 9_000, 0, 20.0, labelled=9_000, correct=8_190)
    challenger = VersionStats("v2", 9_000, 0, 20.0, labelled=9_000, correct=8_200)
    v = verdict(base, challenger)
    assert not v.decided and v.text.startswith("no significant accuracy difference")


def test_without_labels_error_rates_decide() -> None:
    v = verdict(BASE, VersionStats("v2", 5_000, 60, 20.0))
    assert v.decided and v.text.startswith("v2 fails more often than v1")
    assert not verdict(BASE, VersionStats("v2", 5_000, 6, 20.0)).decided
