"""The model page's Replicas chart and the local autoscaler's one-count-for-all-models rule:
pure functions, typed inputs, no browser and no processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from control_plane.backends.local.autoscaler import combine
from control_plane.domain.scaling import ScalingDecision
from control_plane.schemas import AuditEventPublic
from control_plane.services.scaling import DECISION
from control_plane.ui.views.replicas import replica_history, replicas_figure

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def change(i: int, seconds_ago: float, before: int, after: int) -> AuditEventPublic:
    return AuditEventPublic(
        id=i,
        at=NOW - timedelta(seconds=seconds_ago),
        actor="autoscaler",
        action=DECISION,
        model="iris",
        target="iris",
        before={"replicas": before},
        after={"replicas": after},
        reason=f"scale {before} -> {after}",
    )


def test_a_spike_draws_a_step_up_and_back_down() -> None:
    events = [change(2, 60, 3, 1), change(1, 200, 1, 3)]  # newest first, as the log lists
    h = replica_history(events, current=1, now=NOW, window_s=300)
    assert [(round((NOW - s.at).total_seconds()), s.replicas) for s in h.steps] == [
        (300, 1),
        (200, 3),
        (60, 1),
        (0, 1),
    ]
    fig = replicas_figure(h)
    assert fig.data[0].line.shape == "hv"  # a step line: the count holds until it changes
    assert list(fig.data[0].y) == [1, 3, 1, 1]
    assert fig.layout.title.text == "Replicas (1 serving now)"


def test_the_window_starts_at_the_count_then_in_force() -> None:
    # The last change before the window decides where the line starts.
    events = [change(1, 900, 1, 2)]
    h = replica_history(events, current=2, now=NOW, window_s=300)
    assert [s.replicas for s in h.steps] == [2, 2]
    # No change at all: the replicas serving now, flat.
    flat = replica_history([], current=4, now=NOW, window_s=300)
    assert [s.replicas for s in flat.steps] == [4, 4]


def test_a_late_report_does_not_draw_a_dip_and_other_actions_are_ignored() -> None:
    other = change(3, 30, 0, 0).model_copy(update={"action": "deploy", "after": {"v1": 100}})
    events = [other, change(1, 100, 1, 3)]
    h = replica_history(events, current=2, now=NOW, window_s=300)
    assert [s.replicas for s in h.steps] == [1, 3, 3]
    assert h.current == 2


def test_naive_timestamps_read_as_utc() -> None:
    e = change(1, 100, 1, 2)
    naive = e.model_copy(update={"at": e.at.replace(tzinfo=None)})
    assert [s.replicas for s in replica_history([naive], 2, NOW, 300).steps] == [1, 2, 2]


def test_one_count_for_every_model_the_largest_asked_for() -> None:
    decisions = {
        "iris": ScalingDecision(3, "scale up 1 -> 3: inflight 7 per replica vs target 2 -> 4"),
        "fraud": ScalingDecision(1, "keep 1 -> 1: rps 3 per replica vs target 50 -> 1"),
    }
    desired, changes = combine(decisions, current=1, now=NOW)
    assert desired == 3
    by_model = {c.model: c for c in changes}
    assert by_model["iris"].reason.startswith("scale up 1 -> 3: inflight 7")
    assert by_model["fraud"].reason.startswith("scale 1 -> 3 for iris (the local workers")
    assert "for fraud alone: keep 1 -> 1" in by_model["fraud"].reason
    assert all((c.before, c.after) == (1, 3) for c in changes)
    # Nobody asks for a change: nothing to record.
    assert combine({"iris": ScalingDecision(2, "keep 2 -> 2")}, 2, NOW) == (2, [])
    assert combine({}, 2, NOW) == (2, [])
