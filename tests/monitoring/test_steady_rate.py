"""A steady load reads steady on the requests chart (the direct source, control_plane/metrics/
direct.py): scrapes that do not line up with the chart's steps must not make it dip or spike.

The scraper runs every interval plus the time a round takes, so its scrapes drift against the
clock's seconds; here a 1.5 s interval against the 5-minute range's 2 s steps makes the same
mismatch happen every few steps instead of every minute or so.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from control_plane.metrics.direct import DirectSource
from control_plane.schemas import ReplicaReport
from control_plane.services.replicas import ReplicaBook
from tests.monitoring.conftest import StartReplica
from tests.monitoring.support import predict
from tests.support.servers import wait_until

RATE = 20.0  # requests per second: light for a shared 2-core machine
LOAD_S = 30.0
STEP_S = 2  # the dashboard's 5-minute range
SCRAPE_EVERY_S = 1.5
TOLERANCE = 0.25


class PacedLoad:
    """RATE predictions a second on a fixed schedule, in a thread; keeps when each finished."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.done: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="paced-load")

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as c:
            start = time.time()
            i = 0
            while not self.stop.is_set():
                wait = start + i / RATE - time.time()
                if wait > 0:
                    time.sleep(wait)
                predict(c)
                self.done.append(time.time())
                i += 1

    def finished_in(self, start: float, end: float) -> int:
        return sum(1 for t in self.done if start <= t < end)


@pytest.fixture(scope="module")
def source(start_replica: StartReplica) -> Iterator[tuple[DirectSource, str]]:
    replica = start_replica()
    book = ReplicaBook()
    book.report(
        ReplicaReport(
            id="r1",
            url=replica.url,
            revision=1,
            loaded=["iris@v1"],
            error="",
            last_seen=datetime.now(UTC),
        )
    )
    direct = DirectSource(book, stale_after_s=3600, interval_s=SCRAPE_EVERY_S)
    direct.start()
    wait_until(lambda: direct.counters.covered_until is not None, timeout=30, interval=0.1)
    yield direct, replica.url
    direct.close()


def _rps(direct: DirectSource) -> list[tuple[float, float | None]]:
    """iris v1's chart points as (first second the point stands for, req/s)."""
    figures = direct.model_metrics("iris", 300, STEP_S, datetime.now(UTC))
    series = next(s for s in figures.series if s.version == "v1")
    return [(p.t.timestamp() - STEP_S + 1, p.value) for p in series.rps]


def test_a_steady_load_reads_steady_in_every_step_and_in_the_one_in_progress(
    source: tuple[DirectSource, str],
) -> None:
    direct, url = source
    load = PacedLoad(url)
    load.thread.start()
    latest: list[float | None] = []
    try:
        time.sleep(5)
        deadline = time.time() + LOAD_S
        while time.time() < deadline:
            # The step in progress: its rate so far, not a fraction of a whole step.
            known = [v for _, v in _rps(direct) if v is not None]
            latest.append(known[-1] if known else None)
            time.sleep(0.7)
    finally:
        load.stop.set()
        load.thread.join()
    first, last = load.done[0], load.done[-1]
    wait_until(lambda: (direct.counters.covered_until or 0) > last + 1, timeout=30, interval=0.1)

    # Every whole step of the load, against what the client saw finish in the same seconds.
    steps = [(t, v) for t, v in _rps(direct) if first + 2 <= t and t + STEP_S <= last - 1]
    assert len(steps) >= 10, steps
    off = [
        (round(t) % 1000, v, load.finished_in(t, t + STEP_S) / STEP_S)
        for t, v in steps
        if v is None or abs(v - load.finished_in(t, t + STEP_S) / STEP_S) > TOLERANCE * RATE
    ]
    shown = [round(v or 0, 1) for _, v in steps]
    assert off == [], f"steps off by more than {TOLERANCE:.0%} (second, chart, sent): {off}"
    assert statistics.median(shown) == pytest.approx(RATE, rel=0.1), shown

    low = [v for v in latest if v is None or abs(v - RATE) > TOLERANCE * RATE]
    assert low == [], f"the latest point of each read: {[round(v or 0, 1) for v in latest]}"
