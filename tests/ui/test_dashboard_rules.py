"""The rules behind the dashboard's buttons: pure functions, with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from control_plane.domain import traffic
from control_plane.domain.convergence import ReplicaReport, rollout
from control_plane.domain.health import Health, judge
from control_plane.errors import InvalidRequest
from control_plane.ui.session_state import safe_next
from control_plane.ui.views.colors import PALETTE, version_color

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STALE = timedelta(seconds=10)


def report(
    rid: str, revision: int, *, ago_s: float = 1, loaded: str = "iris@v1", error: str = ""
) -> ReplicaReport:
    return ReplicaReport(
        id=rid,
        url=f"http://{rid}",
        revision=revision,
        loaded=[loaded],
        error=error,
        last_seen=NOW - timedelta(seconds=ago_s),
    )


def test_editing_one_share_keeps_the_total_at_100() -> None:
    assert traffic.set_share({"v1": 100, "v2": 0}, "v2", 10) == {"v1": 90, "v2": 10}
    # Taken from the heaviest first, then the next.
    assert traffic.set_share({"v1": 60, "v2": 30, "v3": 10}, "v3", 80) == {
        "v1": 0,
        "v2": 20,
        "v3": 80,
    }
    # Given back to the heaviest other version.
    assert traffic.set_share({"v1": 60, "v2": 40}, "v2", 10) == {"v1": 90, "v2": 10}
    assert traffic.set_share({"v1": 50, "v2": 50}, "v2", 250) == {"v1": 0, "v2": 100}
    assert traffic.set_share({"v1": 100}, "v1", 40) == {"v1": 100}


def test_removing_a_version_gives_its_share_to_the_heaviest() -> None:
    assert traffic.remove({"v1": 70, "v2": 20, "v3": 10}, "v3") == {"v1": 80, "v2": 20}
    with pytest.raises(InvalidRequest):
        traffic.remove({"v1": 100}, "v1")


def test_the_preview_lists_every_version_before_and_after() -> None:
    changes = traffic.diff({"v1": 100}, {"v1": 90, "v2": 10})
    assert [(c.version, c.before, c.after, c.delta) for c in changes] == [
        ("v1", 100, 90, -10),
        ("v2", 0, 10, 10),
    ]


def test_a_split_being_edited_says_what_is_wrong() -> None:
    assert traffic.problem({"v1": 90, "v2": 10}) == ""
    assert "add up to 95 %" in traffic.problem({"v1": 90, "v2": 5})
    assert "at least one" in traffic.problem({"v1": 0})
    assert "0-100" in traffic.problem({"v1": 120, "v2": -20})


def test_a_rollout_counts_live_replicas_only() -> None:
    r = rollout(
        "iris",
        7,
        [report("a", 7), report("b", 6), report("gone", 1, ago_s=60)],
        NOW,
        STALE,
    )
    assert (r.live, r.caught_up, r.done) == (2, 1, False)
    assert r.fraction == 0.5
    assert "1 of 2 replicas serve revision 7" in r.describe()
    done = rollout("iris", 7, [report("a", 8)], NOW, STALE)
    assert done.done and done.describe() == "1 replica serves revision 7."
    nobody = rollout("iris", 7, [], NOW, STALE)
    assert not nobody.done and "No inference replica" in nobody.describe()


def test_the_status_badge_puts_the_worst_first() -> None:
    serving = rollout("iris", 3, [report("a", 3)], NOW, STALE)
    assert judge(False, None, None).health is Health.not_deployed
    assert judge(True, rollout("iris", 3, [], NOW, STALE), None).health is Health.failing
    assert judge(True, rollout("iris", 3, [report("a", 2)], NOW, STALE), 0.0).health is (
        Health.deploying
    )
    assert judge(True, serving, None).health is Health.serving
    assert judge(True, serving, 0.001).health is Health.serving
    verdict = judge(True, serving, 0.05)
    assert verdict.health is Health.degraded and "5.0%" in verdict.reason
    assert judge(True, serving, 0.5).health is Health.failing
    broken = rollout("iris", 3, [report("a", 3, error="cannot load v2")], NOW, STALE)
    assert judge(True, broken, None).reason == "A replica reports: cannot load v2"


def test_a_version_keeps_its_colour() -> None:
    assert version_color(1) == PALETTE[0]
    assert version_color(2) != version_color(1)
    assert version_color(1 + len(PALETTE)) == version_color(1)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/models/iris", "/models/iris"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        ("", "/"),
    ],
)
def test_after_sign_in_only_this_site_is_a_destination(target: str, expected: str) -> None:
    assert safe_next(target) == expected
