"""The scaling policy, table-driven, with the clock passed in: no process, no sleep."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from control_plane.domain.scaling import ReplicaLoad, ScalingHistory, decide
from control_plane.schemas import ScalingRate, ScalingRules, ScalingSettings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def inflight(settings_target: float = 8, **kw: object) -> ScalingSettings:
    return ScalingSettings(target_metric="inflight", target_value=settings_target, **kw)  # type: ignore[arg-type]


def each(n: int, value: float | None, metric: str = "inflight") -> list[ReplicaLoad]:
    return [ReplicaLoad(**{metric: value}) for _ in range(n)]  # type: ignore[arg-type]


@dataclass(frozen=True)
class Step:
    t: int  # seconds after T0
    replicas: int
    desired: int


def simulate(
    settings: ScalingSettings,
    start: int,
    load: Callable[[int], float | None],
    until_s: int,
    every_s: int = 15,
) -> list[Step]:
    """Drive the policy like the orchestrator does: one decision per period, carried out at
    once. `load(t)` is the *total* in-flight work; it spreads evenly over the replicas."""
    current, history, steps = start, ScalingHistory(), []
    for t in range(0, until_s + 1, every_s):
        total = load(t)
        per = None if total is None else total / current
        d = decide(
            now=T0 + timedelta(seconds=t),
            current=current,
            loads=each(current, per),
            settings=settings,
            history=history,
        )
        steps.append(Step(t, current, d.desired))
        current, history = d.desired, d.history
    return steps


@pytest.mark.parametrize(
    ("name", "settings", "current", "loads", "desired", "words"),
    [
        ("spike", inflight(max_replicas=10), 1, each(1, 40), 5, "scale up 1 -> 5"),
        ("spike capped", inflight(max_replicas=4), 1, each(1, 40), 4, "max_replicas 4"),
        (
            "spike rate-limited",
            inflight(
                max_replicas=10,
                scale_up=ScalingRules(
                    stabilization_window_s=0,
                    policies=(ScalingRate(type="Pods", value=1, period_s=60),),
                ),
            ),
            1,
            each(1, 40),
            2,
            "limited to 2 by policy",
        ),
        ("within tolerance", inflight(), 3, each(3, 8.7), 3, "within tolerance"),
        ("just past tolerance", inflight(max_replicas=10), 3, each(3, 8.9), 4, "scale up 3 -> 4"),
        (
            "low load, no history: down",
            inflight(max_replicas=4),
            4,
            each(4, 1),
            1,
            "scale down 4 -> 1",
        ),
        ("min clamp", inflight(min_replicas=2), 3, each(3, 1), 2, "min_replicas 2"),
        ("below min", inflight(min_replicas=2), 1, each(1, 0), 2, "moved to min_replicas"),
        ("above max", inflight(max_replicas=3), 5, each(5, 100), 3, "moved to max_replicas"),
        ("cpu target", ScalingSettings(max_replicas=9), 2, each(2, 140, "cpu"), 4, "cpu 140"),
        (
            "rps target",
            inflight(max_replicas=9).model_copy(update={"target_metric": "rps"}),
            2,
            each(2, 20, "rps"),
            5,
            "rps 20",
        ),
        ("no metrics at all", inflight(), 3, each(3, None), 3, "no inflight sample"),
        (
            # The HPA's conservative fill: the silent replica counts as on target, so
            # (1+1+8)/3/8 -> 2, not the 1 that the two samples alone would give.
            "missing sample slows a scale down",
            inflight(),
            3,
            [ReplicaLoad(inflight=1), ReplicaLoad(inflight=1), ReplicaLoad()],
            2,
            "1 without a sample",
        ),
        (
            # Ratio 24/8=3 over 2 samples -> 6; counting the silent replica as 0: 48/3/8=2 -> 6.
            "missing sample on a spike: counted as idle",
            inflight(max_replicas=10),
            3,
            [ReplicaLoad(inflight=24), ReplicaLoad(inflight=24), ReplicaLoad()],
            6,
            "scale up 3 -> 6",
        ),
        (
            # Unready replicas count as 0 on the way up: 12/8 over 2 -> 3, but (12+0)/2/8 < 1.1.
            "a replica still starting damps a small rise",
            inflight(max_replicas=10),
            2,
            [ReplicaLoad(inflight=12), ReplicaLoad(ready=False)],
            2,
            "1 not ready",
        ),
    ],
)
def test_one_decision(
    name: str,
    settings: ScalingSettings,
    current: int,
    loads: Sequence[ReplicaLoad],
    desired: int,
    words: str,
) -> None:
    d = decide(now=T0, current=current, loads=loads, settings=settings)
    assert (d.desired, name) == (desired, name), d.reason
    assert words in d.reason


def test_a_spike_scales_up_at_once_and_back_down_only_after_the_window() -> None:
    settings = inflight(max_replicas=6)  # down window 300 s (the HPA's default)
    # 8 per replica is the target: 40 in flight from t=60 to t=180 wants 5 replicas.
    steps = simulate(settings, 1, lambda t: 40 if 60 <= t <= 180 else 4, until_s=900)
    up = next(s for s in steps if s.desired > s.replicas)
    assert (up.t, up.desired) == (60, 5)
    down = next(s for s in steps if s.desired < s.replicas)
    # The last high recommendation was at t=180; it leaves the window at t=180+300.
    assert (down.t, down.desired) == (480, 1)
    assert steps[-1].desired == 1


def test_noise_does_not_flap() -> None:
    # Load swings +-30 % around the target every period: up moves are allowed at once,
    # but no down move happens while the window remembers a high.
    settings = inflight(max_replicas=10)
    steps = simulate(settings, 3, lambda t: 24 * (1.3 if (t // 15) % 2 else 0.7), until_s=600)
    changes = [s for s in steps if s.desired != s.replicas]
    assert all(s.desired > s.replicas for s in changes), changes
    assert len(changes) <= 1


def test_noise_within_tolerance_never_moves() -> None:
    settings = inflight(max_replicas=10)
    steps = simulate(settings, 3, lambda t: 24 * (1.08 if (t // 15) % 2 else 0.92), until_s=600)
    assert {s.desired for s in steps} == {3}


def test_up_window_ignores_a_blip_shorter_than_itself() -> None:
    up = ScalingRules(
        stabilization_window_s=60, policies=(ScalingRate(type="Percent", value=100, period_s=15),)
    )
    settings = inflight(max_replicas=10, scale_up=up)
    blip = simulate(settings, 2, lambda t: 64 if t == 30 else 16, until_s=300)
    assert {s.desired for s in blip} == {2}
    lasting = simulate(settings, 2, lambda t: 64 if t >= 30 else 16, until_s=300)
    first_up = next(s for s in lasting if s.desired > 2)
    # Up at the first decision whose 60 s window, (15 s, 75 s], holds only high recommendations.
    assert first_up.t == 75


def test_rate_policy_counts_the_changes_already_made_in_its_period() -> None:
    up = ScalingRules(
        stabilization_window_s=0, policies=(ScalingRate(type="Pods", value=2, period_s=60),)
    )
    settings = inflight(max_replicas=10, scale_up=up)
    steps = simulate(settings, 1, lambda t: 80, until_s=180)
    assert [(s.t, s.desired) for s in steps if s.desired != s.replicas] == [
        (0, 3),
        (60, 5),
        (120, 7),
        (180, 9),
    ]


def test_disabled_direction_never_moves() -> None:
    down = ScalingRules(
        stabilization_window_s=0,
        policies=(ScalingRate(type="Pods", value=1, period_s=15),),
        select="Disabled",
    )
    d = decide(
        now=T0, current=4, loads=each(4, 0), settings=inflight(max_replicas=4, scale_down=down)
    )
    assert d.desired == 4 and "disabled" in d.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_replicas": 4, "max_replicas": 2}, "at least min_replicas"),
        ({"target_metric": "inflight"}, "needs target_value"),
        ({"target_metric": "cpu", "target_value": 3}, "for 'cpu' set target_cpu_utilization"),
        ({"target_metric": "gpu"}, "'cpu', 'inflight' or 'rps'"),
        ({"target_metric": "rps", "target_value": 0}, "greater than 0"),
        (
            {"scale_down": {"stabilization_window_s": 60, "policies": []}},
            "at least 1 item",
        ),
        (
            {
                "scale_up": {
                    "stabilization_window_s": 0,
                    "policies": [{"type": "Replicas", "value": 1, "period_s": 15}],
                }
            },
            "'Pods' or 'Percent'",
        ),
        ({"scale_up": {"stabilization_window_s": -1, "policies": []}}, "greater than or equal"),
    ],
)
def test_settings_say_what_is_expected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScalingSettings.model_validate(kwargs)
