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

import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from inference.errors import Overloaded, is_v2_path, render

RETRY_AFTER_S = 1
MIN_PER_SLOT = 64
# POST /predict and the Open Inference Protocol's infer, with or without a version.
_PREDICTION = re.compile(r"^/(predict|v2/models/[^/]+(/versions/[^/]+)?/infer)/?$")


def default_limit(slots: int, max_batch_rows: int) -> int:
    """Pure: requests in flight a worker admits when the setting leaves it to us.

    Per slot (model call at once), enough to fill its batch twice over (one batch running,
    one queued behind it), so batching is never starved, and at least 64, so that with
    batching off (or small batches) a burst from many clients still queues briefly rather
    than being refused. The wait of an admitted request stays within a few model calls.
    """
    return max(1, slots) * max(2 * max_batch_rows, MIN_PER_SLOT)


def is_prediction(method: str, path: str) -> bool:
    return method == "POST" and _PREDICTION.match(path) is not None


@dataclass
class AdmissionStats:
    """What admission did since the worker started, for operators and tests."""

    admitted: int = 0
    refused: int = 0
    peak_in_flight: int = 0


class AdmissionMiddleware:
    """Pure ASGI: count prediction requests in flight; refuse those beyond ``limit``."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        stats: AdmissionStats,
        on_refuse: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.stats = stats
        # Told of each refusal (the metrics count them: the routes never see these).
        self.on_refuse = on_refuse
        self.in_flight = 0

    async def _refuse(self, scope: Scope, send: Send) -> None:
        error = Overloaded(
            f"this worker already holds {self.limit} prediction requests, its limit; "
            f"retry after {RETRY_AFTER_S} s",
            retry_after_s=RETRY_AFTER_S,
        )
        status, body, headers = render(error, v2=is_v2_path(scope["path"]))
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_prediction(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.stats.refused += 1
            if self.on_refuse is not None:
                self.on_refuse()
            await self._refuse(scope, send)
            return
        self.in_flight += 1
        self.stats.admitted += 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
