"""Admission control: a bound on the prediction requests one worker holds at once.

Beyond the bound a request is answered at once with 503 and ``Retry-After``, before its
body is read or a model is touched. Without it, a worker past its capacity queues without
limit: every request gets slower, memory grows, and clients time out after the work was
done anyway. With it, the requests admitted keep their latency (the queue ahead of them is
bounded) and the others learn at once to retry, here or at another replica.

Only the prediction routes count: health, readiness, metrics and feedback are always
answered, so an overloaded replica still says how it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inference.errors import Overloaded

RETRY_AFTER_S = 1
MIN_PER_SLOT = 256


def default_limit(slots: int, max_batch_rows: int) -> int:
    """Pure: requests in flight a worker admits when the setting leaves it to us.

    Per slot (model call at once), enough to fill its batch twice over (one batch running,
    one queued behind it), so batching is never starved, and at least 256, so that a burst
    from many clients queues briefly rather than being refused. Clients that arrive at
    random come in bursts: with at least 64, W1 under Poisson arrivals at 80 % of one
    core's capacity had 47 requests of 46,500 refused in 5 s (a pause of the host of a few
    milliseconds lets 64 arrive at once); with 256, none up to 120 % (bench/poisson.py,
    twelfth session). The bound is in requests, not seconds: for a model that takes 100 ms
    a request, 256 queued are 25 s of work per slot, and such a deployment should set
    max_in_flight itself (the request timeout answers 504 to what waits longer).
    """
    return max(1, slots) * max(2 * max_batch_rows, MIN_PER_SLOT)


@dataclass
class AdmissionStats:
    """What admission did since the worker started, for operators and tests."""

    admitted: int = 0
    refused: int = 0
    peak_in_flight: int = 0


class Admission:
    """The prediction requests in flight, and the bound on them. The prediction lane
    (inference/lane.py) asks before it reads a request's body and answers a refusal with
    `refusal()`; every admitted request is released when it is answered."""

    def __init__(
        self, limit: int, stats: AdmissionStats, on_refuse: Callable[[], None] | None = None
    ) -> None:
        self.limit = limit
        self.stats = stats
        # Told of each refusal (the metrics count them: the routes never see these).
        self.on_refuse = on_refuse
        self.in_flight = 0

    def admit(self) -> bool:
        if self.in_flight >= self.limit:
            self.stats.refused += 1
            if self.on_refuse is not None:
                self.on_refuse()
            return False
        self.in_flight += 1
        stats = self.stats
        stats.admitted += 1
        if self.in_flight > stats.peak_in_flight:
            stats.peak_in_flight = self.in_flight
        return True

    def release(self) -> None:
        self.in_flight -= 1

    def refusal(self) -> Overloaded:
        return Overloaded(
            f"this worker already holds {self.limit} prediction requests, its limit; "
            f"retry after {RETRY_AFTER_S} s",
            retry_after_s=RETRY_AFTER_S,
        )
