"""Property tests of sticky weighted routing (hypothesis): split, stickiness, minimal movement,
for the slot table replicas route with and the rendezvous hashing they fall back to."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sp

from control_plane.domain import slots
from inference.routing.table import expand, pick_by_key, pick_version

VERSIONS = ["v1", "v2", "v3", "v4"]
KEYS = [f"key-{i}" for i in range(4_000)]


@st.composite
def weight_maps(draw: st.DrawFn) -> dict[str, int]:
    """Integer weights over 1-4 versions summing to 100, as the control plane accepts them."""
    n = draw(st.integers(1, len(VERSIONS)))
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=n - 1, max_size=n - 1)))
    bounds = [0, *cuts, 100]
    weights = {VERSIONS[i]: bounds[i + 1] - bounds[i] for i in range(n)}
    assert sum(weights.values()) == 100
    return weights


@settings(max_examples=30, deadline=None)
@given(weight_maps())
def test_the_split_over_many_keys_stays_within_a_999_binomial_interval(
    weights: dict[str, int],
) -> None:
    counts = Counter(pick_by_key(weights, k) for k in KEYS)
    assert set(counts) <= {v for v, w in weights.items() if w > 0}
    for version, weight in weights.items():
        low, high = sp.binom.interval(0.999, len(KEYS), weight / 100)
        assert low <= counts[version] <= high, (weights, counts)


@settings(max_examples=30, deadline=None)
@given(weight_maps(), st.text(min_size=1, max_size=40))
def test_a_key_sticks_while_the_weights_stay(weights: dict[str, int], key: str) -> None:
    first = pick_by_key(weights, key)
    assert all(pick_by_key(dict(reversed(list(weights.items()))), key) == first for _ in range(3))


def _moves(before: dict[str, int], after: dict[str, int], keys: list[str]) -> int:
    moved = 0
    for key in keys:
        a, b = pick_by_key(before, key), pick_by_key(after, key)
        if a != b:
            moved += 1
            # A key only leaves a version that lost weight, or for one that gained.
            assert after.get(a, 0) < before.get(a, 0) or before.get(b, 0) < after.get(b, 0)
    return moved


def _tvd(before: dict[str, int], after: dict[str, int]) -> float:
    """The least share of keys any scheme must move: the total variation distance."""
    return sum(max(0, before.get(v, 0) - after.get(v, 0)) for v in VERSIONS) / 100


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 100), st.integers(0, 100))
def test_a_canary_ramp_moves_only_the_minimum(before: int, after: int) -> None:
    """Baseline and canary: moving the canary from `before` % to `after` % moves exactly
    the keys the new split needs, within binomial noise, and only in one direction."""
    keys = KEYS[:2_000]
    old, new = {"v1": 100 - before, "v2": before}, {"v1": 100 - after, "v2": after}
    moved = _moves(old, new, keys)
    expected = len(keys) * _tvd(old, new)
    assert abs(moved - expected) <= 4 * math.sqrt(len(keys) * 0.25) + 1, (old, new, moved)


@settings(max_examples=40, deadline=None)
@given(weight_maps(), weight_maps())
def test_any_weight_change_moves_close_to_the_minimum(
    before: dict[str, int], after: dict[str, int]
) -> None:
    """With three or more versions, weighted rendezvous hashing moves more than the minimum:
    up to about twice the total variation distance (worst for a small shift between minor
    versions beside a large untouched one)."""
    keys = KEYS[:2_000]
    moved = _moves(before, after, keys)
    expected = len(keys) * _tvd(before, after)
    assert moved <= 2 * expected + 4 * math.sqrt(len(keys) * 0.25), (before, after, moved)


# ---- the slot table (control_plane/domain/slots.py) as replicas route with it ------


def _slot_route(table: list[str]) -> dict[str, str]:
    """key -> version as a replica routes it with this slot table (through the contract's
    run-length form)."""
    shipped = expand(slots.encode(table))
    return {k: pick_version({}, k, random.Random(0), shipped) or "" for k in KEYS}


@settings(max_examples=30, deadline=None)
@given(weight_maps())
def test_slot_routing_splits_keys_within_a_999_binomial_interval(
    weights: dict[str, int],
) -> None:
    routed = _slot_route(slots.fresh(weights))
    counts = Counter(routed.values())
    assert set(counts) <= {v for v, w in weights.items() if w > 0}
    for version, weight in weights.items():
        low, high = sp.binom.interval(0.999, len(KEYS), weight / 100)
        assert low <= counts[version] <= high, (weights, counts)


@settings(max_examples=30, deadline=None)
@given(weight_maps(), st.text(min_size=1, max_size=40))
def test_slot_routing_is_sticky(weights: dict[str, int], key: str) -> None:
    table = expand(slots.encode(slots.fresh(weights)))
    first = pick_version(weights, key, random.Random(1), table)
    assert first is not None and weights[first] > 0
    assert all(pick_version(weights, key, random.Random(s), table) == first for s in range(3))


@settings(max_examples=40, deadline=None)
@given(st.lists(weight_maps(), min_size=2, max_size=5))
def test_slot_routing_moves_exactly_the_minimum_of_keys(changes: list[dict[str, int]]) -> None:
    """Each weight change moves as many slots as the total variation distance (10 slots a
    percent), so that share of the keys within binomial noise, and a key only leaves a
    version that lost weight, for one that gained (rendezvous hashing moves up to 2x)."""
    table = slots.fresh(changes[0])
    routed = _slot_route(table)
    for before, after in itertools.pairwise(changes):
        new_table = slots.rebalance(table, after)
        assert Counter(new_table) == Counter({v: 10 * w for v, w in after.items() if w > 0}), after
        tvd = _tvd(before, after)
        assert slots.moved(table, new_table) == round(tvd * slots.SLOTS)
        new_routed = _slot_route(new_table)
        moved = [k for k in KEYS if routed[k] != new_routed[k]]
        for k in moved:
            a, b = routed[k], new_routed[k]
            assert after.get(a, 0) < before.get(a, 0) and before.get(b, 0) < after.get(b, 0)
        half = 3.29 * math.sqrt(len(KEYS) * tvd * (1 - tvd)) + 1
        assert abs(len(moved) - len(KEYS) * tvd) <= half, (before, after, len(moved))
        table, routed = new_table, new_routed
