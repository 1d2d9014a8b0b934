"""The benchmark's one-connection batching figure: each round's on/off ratio, so that a
slow spell of the host weighs on both sides of a ratio."""

from __future__ import annotations

import pytest

from bench.loadgen import Row
from bench.scenarios import paired_change


def rows(p50s: list[float]) -> list[Row]:
    return [Row("pier", 1, 2000.0, p50, 3.0, 0, 300.0, 1.0) for p50 in p50s]


def test_a_slow_spell_in_one_round_does_not_move_the_figure() -> None:
    # On costs 2 % in most rounds; the host slowed down for the last two rounds, and in
    # the third round only for on's half. Comparing each side's median would read +27 %.
    off = [0.40, 0.41, 0.40, 0.60, 0.62]
    on = [0.408, 0.4182, 0.52, 0.612, 0.6324]
    assert paired_change(rows(off), rows(on)) == pytest.approx(0.02)


def test_a_round_without_its_pair_is_an_error_not_dropped() -> None:
    with pytest.raises(ValueError):
        paired_change(rows([0.4, 0.4]), rows([0.4]))
