"""The batch sizer on cost curves like real models': it settles on the size whose calls
cost the least a row, keeps growing while bigger stays cheaper, and looks again."""

from __future__ import annotations

from collections.abc import Callable

from inference.execution.sizer import EXPLORE_EVERY, BatchSizer, size_class

# The bench's CNN on one CPU core, in-process, in images/s by call size: cheapest a row
# in eights (8,362 images/s), about twice as dear in sixteens (4,274).
CNN_RATE = {1: 3_293, 2: 5_460, 4: 8_075, 8: 8_362, 16: 4_274, 32: 4_000}


def cnn(rows: int) -> float:
    return rows / CNN_RATE[size_class(rows)]


def mlp(rows: int) -> float:
    return 100e-6 + rows * 2e-6  # a thread hop, then a few microseconds a row


def drive(sizer: BatchSizer, cost: Callable[[int], float], sizes: list[int]) -> None:
    for rows in sizes:
        sizer.record(rows, cost(rows))


def test_size_classes_are_the_nearest_powers_of_two() -> None:
    assert [size_class(n) for n in (0, 1, 2, 3, 5, 6, 11, 12, 31, 100)] == [
        1, 1, 2, 4, 4, 8, 8, 16, 32, 128,
    ]  # fmt: skip


def test_it_starts_at_the_configured_maximum() -> None:
    sizer = BatchSizer(32)
    assert sizer.limit == 32 and sizer.next_limit() == 32
    assert sizer.costs() == {}


def test_a_model_cheapest_in_eights_gets_batches_of_eight() -> None:
    sizer = BatchSizer(32)
    drive(sizer, cnn, [1, 2, 4, 8, 16, 32] * 3)
    assert sizer.limit == 8
    assert min(sizer.costs(), key=lambda size: sizer.costs()[size]) == 8


def test_a_model_that_keeps_getting_cheaper_keeps_the_maximum() -> None:
    sizer = BatchSizer(32)
    drive(sizer, mlp, [1, 2, 4, 8, 16, 32] * 3)
    assert sizer.limit == 32
    # Only the small sizes measured so far: nothing says bigger costs more, so room to grow.
    sizer = BatchSizer(128)
    drive(sizer, mlp, [1, 4, 16] * 3)
    assert sizer.limit == 128


def test_on_a_tie_the_bigger_size_is_taken() -> None:
    sizer = BatchSizer(64)
    costs = {1: 10e-6, 2: 6e-6, 4: 5e-6, 8: 5e-6, 16: 9e-6}
    drive(sizer, lambda n: n * costs[size_class(n)], [1, 2, 4, 8, 16] * 3)
    assert sizer.limit == 8


def test_one_call_in_so_many_takes_twice_the_limit_or_half_by_turns() -> None:
    sizer = BatchSizer(32)
    drive(sizer, cnn, [4, 8, 16] * 3)
    assert sizer.limit == 8
    limits = [sizer.next_limit() for _ in range(4 * EXPLORE_EVERY)]
    probes = [limit for limit in limits if limit != 8]
    assert probes == [16, 4, 16, 4]
    # At the maximum there is no room up: every probe goes down.
    top = BatchSizer(32)
    assert {top.next_limit() for _ in range(4 * EXPLORE_EVERY)} == {32, 16}


def test_under_steady_full_batches_the_probes_walk_the_limit_down_to_the_cheapest() -> None:
    """A queue always deeper than the limit: every call takes what next_limit allows, so
    the sizes below the maximum are only ever seen through the probes."""
    sizer = BatchSizer(32)
    for _ in range(40 * EXPLORE_EVERY):
        rows = sizer.next_limit()
        sizer.record(rows, cnn(rows))
    assert sizer.limit == 8


def test_when_a_bigger_size_turns_cheaper_the_limit_moves_up() -> None:
    sizer = BatchSizer(32)
    drive(sizer, cnn, [4, 8, 16] * 3)
    assert sizer.limit == 8
    # The machine changed (the load moved off, a bigger cache): sixteens are now cheapest.
    drive(sizer, lambda n: n * (40e-6 if n >= 16 else 120e-6), [8, 16] * 10)
    assert sizer.limit == 32  # 16 is the largest measured and the cheapest: room to grow


def test_nonsense_measurements_are_ignored() -> None:
    sizer = BatchSizer(16)
    drive(sizer, lambda n: 0.0, [1, 2, 4, 8] * 5)
    sizer.record(0, 1.0)
    assert sizer.costs() == {} and sizer.limit == 16
