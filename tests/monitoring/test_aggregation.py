"""The pure parts, with the clock passed in: scoring, buckets by prediction time, quantiles,
counter increases, the rolling window and window validation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from control_plane.errors import InvalidRequest
from control_plane.metrics.accuracy import AggregatesIn, Ledger
from control_plane.metrics.exposition import VersionCounters
from control_plane.metrics.histogram import quantile
from control_plane.metrics.rollup import Rollup, delta
from control_plane.services.monitoring import check_window
from inference.errors import InvalidInput
from inference.feedback.predictions import (
    Found,
    LocalPredictionStore,
    PredictionRecord,
    new_prediction_id,
    prediction_time,
)
from inference.feedback.tallies import FeedbackBook, score, totals

T0 = 1_800_000_000.0
INF = float("inf")


def record(
    at: float = T0, predicted: tuple[float, ...] = (1,), kind: str = "class"
) -> PredictionRecord:
    return PredictionRecord("iris", "v1", at, kind, predicted, 3 if kind == "class" else 0)  # type: ignore[arg-type]


def test_prediction_ids_carry_their_time() -> None:
    pid = new_prediction_id(T0 + 0.123)
    assert len(pid) == 32
    assert prediction_time(pid) == pytest.approx(T0 + 0.123, abs=0.001)
    assert prediction_time("0" * 32) is None
    assert prediction_time("not hex at all, but 32 chars long") is None


def test_a_late_label_lands_in_the_bucket_of_its_prediction() -> None:
    book = FeedbackBook(bucket_s=5, retention_s=86_400)
    arrival = T0 + 3 * 3600
    book.add(record(T0 + 1), score(record(T0 + 1), 1), now=arrival)
    book.add(record(T0 + 2), score(record(T0 + 2), 2), now=arrival)
    book.add(record(T0 + 400), score(record(T0 + 400), 1), now=arrival)
    first = totals(book.buckets(), T0, T0 + 300)[("iris", "v1")]
    assert (first.labelled, first.correct, first.accuracy) == (2, 1, 0.5)
    later = totals(book.buckets(), T0 + 300, T0 + 600)[("iris", "v1")]
    assert later.accuracy == 1.0
    assert totals(book.buckets(), arrival - 300, arrival) == {}
    # Older than the retention: refused rather than counted somewhere wrong.
    assert not book.add(record(T0), score(record(T0), 1), now=T0 + 86_400 + 10)


def test_scoring_checks_labels() -> None:
    assert score(record(predicted=(0, 2)), [0, 1]).correct == 1
    with pytest.raises(InvalidInput, match="expected a list of 2"):
        score(record(predicted=(0, 2)), 0)
    with pytest.raises(InvalidInput, match="class index"):
        score(record(), True)
    regression = score(record(predicted=(1.0, 3.0), kind="value"), [2.0, 1.0])
    assert (regression.mae, regression.rmse) == (1.5, pytest.approx((2.5) ** 0.5))
    with pytest.raises(InvalidInput, match="finite number"):
        score(record(kind="value", predicted=(1.0,)), float("nan"))


def test_local_store_is_bounded_and_tells_expired_from_unknown() -> None:
    asyncio.run(_local_store())


async def _local_store() -> None:
    store = LocalPredictionStore(capacity_rows=3, ttl_s=3600)
    ids = [new_prediction_id(T0 + i) for i in range(5)]
    for i, pid in enumerate(ids):
        store.put(pid, record(T0 + i))
    assert store.stats().rows == 3
    found = await store.claim([ids[0], ids[4], new_prediction_id(T0 + 10)], now=T0 + 10)
    assert found[ids[0]] is Found.expired  # dropped for room
    assert isinstance(found[ids[4]], PredictionRecord)
    assert list(found.values())[2] is Found.unknown
    assert (await store.claim([ids[4]], now=T0 + 10))[ids[4]] is Found.duplicate
    assert (await store.claim([ids[3]], now=T0 + 3600 + 5))[ids[3]] is Found.expired


def test_histogram_quantile_interpolates_like_promql() -> None:
    bounds = (0.001, 0.01, 0.1, INF)
    assert quantile(0.5, bounds, (0, 10, 10, 10)) == pytest.approx(0.0055)
    assert quantile(0.99, bounds, (0, 0, 0, 5)) == 0.1  # in +Inf: the largest finite bound
    assert quantile(0.5, bounds, (0, 0, 0, 0)) is None


def test_counter_increases_survive_a_restart() -> None:
    before = VersionCounters(requests=100, errors_by_type={"invalid_input": 4})
    after = VersionCounters(requests=130, errors_by_type={"invalid_input": 5})
    assert (delta(before, after).requests, delta(before, after).errors) == (30, 1)
    restarted = VersionCounters(requests=7)
    assert delta(after, restarted).requests == 7


def test_rollup_keeps_seconds_for_an_hour_and_minutes_for_a_day() -> None:
    rollup = Rollup()
    key = ("iris", "v1")
    for s in range(0, 2 * 86_400, 30):
        rollup.add(key, int(T0) + s, delta(None, VersionCounters(requests=1)))
    assert rollup.seconds.slot_count() <= 3600 // 30 + 2
    assert rollup.minutes.slot_count() <= 86_400 // 60 + 2


def test_ledger_replaces_a_revised_bucket() -> None:
    ledger = Ledger()

    def body(labelled: int, revision: int) -> AggregatesIn:
        return AggregatesIn.model_validate(
            {
                "bucket_s": 5,
                "retention_s": 86_400,
                "books": [
                    {
                        "epoch": "a",
                        "revision": revision,
                        "buckets": [
                            {
                                "model": "iris",
                                "version": "v1",
                                "start": int(T0),
                                "labelled": labelled,
                                "correct": labelled,
                                "regressed": 0,
                                "abs_error": 0,
                                "sq_error": 0,
                            }
                        ],
                    }
                ],
            }
        )

    ledger.apply("r", body(2, 1), now=T0)
    ledger.apply("r", body(5, 2), now=T0 + 7200)
    assert ledger.totals("iris", T0, T0 + 5)[("iris", "v1")].labelled == 5
    assert ledger.after("r") == ["a@2"]


@pytest.mark.parametrize(
    ("window", "step", "expected"),
    [(300, None, (300, 5)), (86_400, None, (86_400, 1440)), (3600, 60, (3600, 60))],
)
def test_windows_allowed(window: int, step: int | None, expected: tuple[int, int]) -> None:
    assert check_window(window, step) == expected


@pytest.mark.parametrize(
    ("window", "step", "message"),
    [
        (299, None, "window: expected one of 300, 900, 3600, 21600, 86400"),
        (300, 0, "step: expected whole seconds from 1 to 300"),
        (86_400, 30, "from 144 to 86400"),
    ],
)
def test_windows_refused(window: int, step: int | None, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_window(window, step)


def test_steps_line_up_with_now() -> None:
    from control_plane.metrics.timeline import Steps

    steps = Steps.of(datetime.fromtimestamp(T0 + 0.7, UTC), 300, 5)
    times = steps.times()
    assert len(times) == 60 and times[-1].timestamp() == T0
    assert steps.start == T0 + 1 - 300
