"""Admission control: a bound on the prediction requests one worker holds at once, in
requests and in seconds of work; beyond it a request gets 503 and Retry-After at once,
before its body is read."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from inference.errors import Overloaded

RETRY_AFTER_S = 1
MIN_PER_SLOT = 256
# Answered requests over which the pace is measured (and a busy stretch is cut into).
PACE_EVERY = 32


def default_limit(slots: int, max_batch_rows: int) -> int:
    """Pure: requests in flight a worker admits when the setting leaves it to us. Per slot,
    enough to fill its batch twice over (one running, one queued), and at least 256 so that
    the bursts of clients arriving at random queue briefly rather than being refused."""
    return max(1, slots) * max(2 * max_batch_rows, MIN_PER_SLOT)


@dataclass
class AdmissionStats:
    """What admission did since the worker started, for operators and tests."""

    admitted: int = 0
    refused: int = 0
    # Of the refused: those refused because the work held would take over max_queue_s.
    refused_for_time: int = 0
    peak_in_flight: int = 0


class Admission:
    """The prediction requests in flight and the bounds on them. `max_queue_s` (0: none)
    applies from `floor` requests up, once a pace is measured: below the floor a request is
    always admitted, so that each model call can have one queued behind it."""

    def __init__(
        self,
        limit: int,
        stats: AdmissionStats,
        on_refuse: Callable[[], None] | None = None,
        max_queue_s: float = 0.0,
        floor: int = 2,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.limit = limit
        self.stats = stats
        # Told of each refusal (the metrics count them: the routes never see these).
        self.on_refuse = on_refuse
        self.in_flight = 0
        self.max_queue_s = max_queue_s
        self.floor = max(1, floor)
        self._clock = clock
        # Seconds busy per answered request, lately (None: not measured yet).
        self.pace: float | None = None
        self._busy_since = 0.0
        self._busy = 0.0
        self._answered = 0
        self._last_refusal = ""

    def admit(self) -> bool:
        in_flight = self.in_flight
        if in_flight >= self.limit:
            return self._refuse(
                f"this worker already holds {self.limit} prediction requests, its limit"
            )
        pace = self.pace
        if (
            self.max_queue_s
            and pace is not None
            and in_flight >= self.floor
            and in_flight * pace > self.max_queue_s
        ):
            self.stats.refused_for_time += 1
            return self._refuse(
                f"the {in_flight} prediction requests this worker holds would take about "
                f"{in_flight * pace:.1f} s at its recent pace ({pace * 1000:.1f} ms each), "
                f"more than its max_queue_s of {self.max_queue_s:g} s"
            )
        if in_flight == 0:
            self._busy_since = self._clock()
        self.in_flight = in_flight + 1
        stats = self.stats
        stats.admitted += 1
        if self.in_flight > stats.peak_in_flight:
            stats.peak_in_flight = self.in_flight
        return True

    def release(self) -> None:
        self.in_flight -= 1
        self._answered += 1
        if self.in_flight and self._answered < PACE_EVERY:
            return
        # Idle again, or PACE_EVERY answered in a busy stretch: count the busy time so far.
        now = self._clock()
        self._busy += now - self._busy_since
        self._busy_since = now
        if self._answered >= PACE_EVERY:
            self.pace = self._busy / self._answered
            self._busy, self._answered = 0.0, 0

    def _refuse(self, why: str) -> bool:
        self.stats.refused += 1
        self._last_refusal = why
        if self.on_refuse is not None:
            self.on_refuse()
        return False

    def refusal(self) -> Overloaded:
        """The answer to the request `admit` refused last (on the same turn of the loop)."""
        return Overloaded(
            f"{self._last_refusal}; retry after {RETRY_AFTER_S} s",
            retry_after_s=RETRY_AFTER_S,
        )
