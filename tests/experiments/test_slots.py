"""The slot table's rebalance (pure, hypothesis): exact shares, minimal movement, only from
versions that lost weight to versions that gained, and a compact contract form."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.domain import slots

VERSIONS = ["v1", "v2", "v3", "v4", "v5"]


@st.composite
def weight_maps(draw: st.DrawFn) -> dict[str, int]:
    """Whole percents over 1-5 versions summing to 100 (some may be 0)."""
    n = draw(st.integers(1, len(VERSIONS)))
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=n - 1, max_size=n - 1)))
    bounds = [0, *cuts, 100]
    versions = draw(st.permutations(VERSIONS))[:n]
    return {versions[i]: bounds[i + 1] - bounds[i] for i in range(n)}


@settings(max_examples=200, deadline=None)
@given(st.lists(weight_maps(), min_size=1, max_size=8))
def test_every_change_gives_exact_shares_and_moves_only_what_it_must(
    changes: list[dict[str, int]],
) -> None:
    table = slots.fresh(changes[0])
    for weights in changes[1:]:
        before = Counter(table)
        new = slots.rebalance(table, weights)
        after = Counter(new)
        assert len(new) == slots.SLOTS
        assert after == Counter({v: 10 * w for v, w in weights.items() if w > 0})
        must = sum(max(0, n - after.get(v, 0)) for v, n in before.items())
        assert slots.moved(table, new) == must  # the total variation distance, in slots
        for old, now in zip(table, new, strict=True):
            if old != now:
                assert after[old] < before[old] and before[now] < after[now]
        table = new


@settings(max_examples=100, deadline=None)
@given(st.lists(weight_maps(), min_size=1, max_size=8))
def test_the_contract_form_round_trips_and_stays_short(changes: list[dict[str, int]]) -> None:
    table = slots.fresh(changes[0])
    for weights in changes[1:]:
        table = slots.rebalance(table, weights)
    runs = slots.encode(table)
    assert slots.decode(runs) == table
    assert sum(n for _, n in runs) == slots.SLOTS
    # Each change splits at most a few runs: the table stays far below one entry a slot.
    assert len(runs) <= len(VERSIONS) * len(changes) * 2


def test_quotas_follow_the_weights_by_largest_remainder() -> None:
    assert slots.quotas({"a": 50, "b": 50}) == {"a": 500, "b": 500}
    assert slots.quotas({"a": 1, "b": 1, "c": 1}, 10) == {"a": 4, "b": 3, "c": 3}
    assert slots.quotas({"a": 0, "b": 0}) == {}
    assert slots.rebalance(slots.fresh({"a": 100}), {"a": 0}) == []


def test_a_first_table_is_contiguous_runs_in_label_order() -> None:
    assert slots.encode(slots.fresh({"v2": 10, "v1": 90})) == [("v1", 900), ("v2", 100)]
    assert slots.rebalance(None, {"v1": 100}) == ["v1"] * slots.SLOTS
