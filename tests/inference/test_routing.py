"""routing.py is pure: no server, no clock, the random source passed in."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from inference.routing.table import pick_by_key, pick_random, pick_version

KEYS = [f"user-{i}" for i in range(20_000)]


def test_a_key_always_gets_the_same_version() -> None:
    weights = {"a": 50, "b": 30, "c": 20}
    for key in KEYS[:500]:
        assert len({pick_by_key(weights, key) for _ in range(3)}) == 1
    # Independent of the order the weights come in.
    reordered = {"c": 20, "a": 50, "b": 30}
    assert all(pick_by_key(weights, k) == pick_by_key(reordered, k) for k in KEYS[:500])


@pytest.mark.parametrize("weights", [{"a": 90, "b": 10}, {"a": 50, "b": 30, "c": 20}])
def test_keys_spread_by_weight(weights: dict[str, int]) -> None:
    counts = Counter(pick_by_key(weights, key) for key in KEYS)
    for version, weight in weights.items():
        assert counts[version] / len(KEYS) == pytest.approx(weight / 100, abs=0.015)


@pytest.mark.parametrize("weights", [{"a": 90, "b": 10}, {"a": 1, "b": 99}, {"x": 25, "y": 75}])
def test_random_draws_honour_weights(weights: dict[str, int]) -> None:
    rng = random.Random(7)
    draws = 50_000
    counts = Counter(pick_random(weights, rng) for _ in range(draws))
    for version, weight in weights.items():
        assert counts[version] / draws == pytest.approx(weight / 100, abs=0.01)


def test_minimal_movement_when_weights_change() -> None:
    before = {key: pick_by_key({"v1": 90, "v2": 10}, key) for key in KEYS}
    after = {key: pick_by_key({"v1": 80, "v2": 20}, key) for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    # Only keys leaving v1 for v2 move, and about the 10% of traffic that had to.
    assert all(before[k] == "v1" and after[k] == "v2" for k in moved)
    assert len(moved) / len(KEYS) == pytest.approx(0.10, abs=0.015)


def test_adding_a_version_only_takes_keys_for_itself() -> None:
    before = {key: pick_by_key({"v1": 50, "v2": 50}, key) for key in KEYS}
    after = {key: pick_by_key({"v1": 45, "v2": 45, "v3": 10}, key) for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    assert all(after[k] == "v3" for k in moved)
    assert len(moved) / len(KEYS) == pytest.approx(0.10, abs=0.015)


def test_zero_weights_and_no_weights_route_nowhere() -> None:
    rng = random.Random(1)
    assert pick_version({}, None, rng) is None
    assert pick_version({"a": 0}, "key", rng) is None
    assert {pick_version({"a": 0, "b": 100}, None, rng) for _ in range(100)} == {"b"}
    assert {pick_version({"a": 0, "b": 100}, k, rng) for k in KEYS[:100]} == {"b"}


def test_same_seed_same_draws() -> None:
    weights = {"a": 50, "b": 50}
    first = [pick_version(weights, None, random.Random(3)) for _ in range(1)]
    rng1, rng2 = random.Random(3), random.Random(3)
    assert [pick_version(weights, None, rng1) for _ in range(100)] == [
        pick_version(weights, None, rng2) for _ in range(100)
    ]
    assert first
