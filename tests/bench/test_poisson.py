"""How bench/poisson.py sums up its rounds: each side's mean over its rounds, then the
ratio of the means, so that one round's spike counts for what it weighs."""

from __future__ import annotations

import pytest

from bench.loadgen import Row
from bench.poisson import _mean, _ratio


def rounds(*p99s: float) -> list[Row]:
    return [Row("pier", 128, 9000.0, 1.0, p99, 0, 400.0, 1.0) for p99 in p99s]


def test_one_rounds_spike_weighs_as_much_as_it_is() -> None:
    # A p99 at 80 % over two rounds, one spike on each side: the median of the rounds'
    # ratios reads +140 %; the means are 14.0 and 15.1 ms, +8 %.
    off, on = rounds(4.56, 23.49), rounds(19.84, 10.37)
    assert _mean(off, "p99_ms") == pytest.approx(14.025)
    assert _ratio(off, on, "p99_ms") == pytest.approx(15.105 / 14.025 - 1)


def test_equal_sides_read_no_change_and_a_slower_side_reads_its_excess() -> None:
    assert _ratio(rounds(2.0, 4.0), rounds(4.0, 2.0), "p99_ms") == pytest.approx(0.0)
    assert _ratio(rounds(2.0), rounds(3.0), "p99_ms") == pytest.approx(0.5)
    assert _ratio(rounds(2.0), rounds(3.0), "p50_ms") == pytest.approx(0.0)
