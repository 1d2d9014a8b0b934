"""What a rollback returns to, from the history of changes: each change undone once, in
order, and a canary counted as one change however many steps it took."""

from __future__ import annotations

from control_plane.domain.traffic import rollback_target, undo_history

V1, V2, V3 = {"v1": 100}, {"v2": 100}, {"v3": 100}


def test_a_second_rollback_goes_further_back_not_forward() -> None:
    history = [(V1, "deploy"), (V2, "deploy"), (V3, "deploy"), (V2, "rollback")]
    assert rollback_target(history) == V1
    assert rollback_target([*history, (V1, "rollback")]) is None


def test_a_failed_canary_is_not_rolled_back_into() -> None:
    """Before, the last different split was the canary's 50/50: a person's rollback after
    the canary's own would have sent half the traffic back to the version that failed."""
    history = [
        (V1, "deploy"),
        ({"v1": 90, "v2": 10}, "canary.start"),
        ({"v1": 50, "v2": 50}, "canary.step"),
        (V1, "canary.rollback"),
    ]
    assert undo_history(history) == [V1]
    assert rollback_target(history) is None


def test_a_promoted_canary_is_one_change() -> None:
    history = [
        (V1, "deploy"),
        ({"v1": 90, "v2": 10}, "canary.start"),
        ({"v1": 50, "v2": 50}, "canary.step"),
        (V2, "canary.promote"),
    ]
    assert rollback_target(history) == V1


def test_a_revision_that_keeps_the_split_is_not_a_change_to_undo() -> None:
    history = [(V1, "deploy"), (V2, "deploy"), (V2, "shadow.set"), (V2, None)]
    assert undo_history(history) == [V1, V2]
    assert rollback_target(history) == V1
