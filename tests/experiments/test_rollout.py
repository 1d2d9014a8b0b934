"""The canary state machine, with the clock passed in: no cluster, no sleep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from control_plane.domain.analysis import Analysis, GateResult
from control_plane.domain.canary import CanaryPlan, abort, advance, pause, resume, start

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PLAN = CanaryPlan("iris", "v1", "v2", (5, 25, 50, 100), timedelta(seconds=60))
PASS = Analysis("pass", [GateResult("error rate", "pass", "0.1 % vs 0.1 %")])
WAIT = Analysis("wait", [GateResult("traffic", "wait", "40 of 100 requests needed")])
FAIL = Analysis("fail", [GateResult("error rate", "fail", "12.00 % vs 0.10 %")])


def test_a_healthy_canary_steps_up_each_interval_and_is_promoted() -> None:
    state = start(PLAN, T0)
    assert state.weights() == {"v1": 95, "v2": 5}
    applied = []
    now = T0
    for _ in range(10):
        now += timedelta(seconds=61)
        d = advance(state, PASS, now)
        if d.weights:
            applied.append(d.weights)
        state = d.state
        if d.kind == "promote":
            break
    assert applied == [{"v1": 75, "v2": 25}, {"v1": 50, "v2": 50}, {"v2": 100}]
    assert state.status == "promoted"


def test_no_step_before_the_interval_or_without_enough_data() -> None:
    state = start(PLAN, T0)
    early = advance(state, PASS, T0 + timedelta(seconds=30))
    assert early.kind == "wait" and "30 s left at 5 %" in early.reason
    starving = advance(state, WAIT, T0 + timedelta(seconds=90))
    assert starving.kind == "wait" and "40 of 100" in starving.reason


@pytest.mark.parametrize("elapsed", [1, 59, 600])
def test_a_failed_analysis_rolls_back_at_once(elapsed: int) -> None:
    state = start(PLAN, T0)
    d = advance(state, FAIL, T0 + timedelta(seconds=elapsed))
    assert d.kind == "rollback" and d.weights == {"v1": 100}
    assert d.state.status == "rolled_back"
    assert "failed at 5 %" in d.reason and "12.00 %" in d.reason
    assert advance(d.state, PASS, T0 + timedelta(hours=1)).kind == "wait"


def test_pause_resume_and_abort() -> None:
    state = pause(start(PLAN, T0))
    assert advance(state, PASS, T0 + timedelta(hours=1)).kind == "wait"
    state = resume(state, T0 + timedelta(hours=1))
    # The interval restarts on resume.
    assert advance(state, PASS, T0 + timedelta(hours=1, seconds=30)).kind == "wait"
    assert advance(state, PASS, T0 + timedelta(hours=1, seconds=61)).kind == "step"
    aborted = abort(state)
    assert aborted.weights == {"v1": 100} and aborted.state.status == "aborted"
    with pytest.raises(ValueError, match="aborted"):
        resume(aborted.state, T0)


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((), "steps"),
        ((5, 50), "last step must be 100"),
        ((50, 25, 100), "rise"),
        ((0, 100), "1..100"),
    ],
)
def test_plans_are_validated(steps: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CanaryPlan("iris", "v1", "v2", steps, timedelta(seconds=60))
