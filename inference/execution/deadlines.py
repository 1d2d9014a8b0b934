"""The request timeout: a request still unanswered ``timeout_s`` after its arrival fails
alone with ModelTimeout (504). One timer, set for the oldest unanswered request, serves
them all: watching a request costs an append, not a timer of its own."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from inference.errors import ModelTimeout


class Deadlines:
    def __init__(
        self,
        timeout_s: float,
        clock: Callable[[], float],
        on_expired: Callable[[], None] | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._on_expired = on_expired
        # Unanswered requests in arrival (so deadline) order: (arrival, future).
        self._waiting: deque[tuple[float, asyncio.Future[Any]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, arrival: float, future: asyncio.Future[Any]) -> None:
        """Fail `future` with ModelTimeout at arrival + timeout_s unless it is done by then."""
        waiting = self._waiting
        while waiting and waiting[0][1].done():
            waiting.popleft()  # answered: forget it (this keeps the line to those in flight)
        waiting.append((arrival, future))
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        waiting = self._waiting
        while waiting and waiting[0][1].done():
            waiting.popleft()
        if not waiting:
            self._timer = None
            return
        delay = waiting[0][0] + self.timeout_s - self._clock()
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._expire)

    def _expire(self) -> None:
        now, waiting = self._clock(), self._waiting
        while waiting and (waiting[0][1].done() or waiting[0][0] + self.timeout_s <= now):
            future = waiting.popleft()[1]
            if future.done():
                continue
            if self._on_expired is not None:
                self._on_expired()
            future.set_exception(
                ModelTimeout(
                    f"the model did not answer within {self.timeout_s:g} s "
                    "(PIER_INFERENCE_REQUEST_TIMEOUT_S); the request was abandoned"
                )
            )
        self._arm()
