"""Sign-in rate limiting: a few failures per (username, client address), then a pause, so
one attacker cannot lock a user out everywhere. The clock is passed in; state is per process."""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime, timedelta

from control_plane.errors import TooManyAttempts

MAX_FAILURES = 5
WINDOW = timedelta(minutes=1)
MAX_KEYS = 100_000


class LoginThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window: timedelta = WINDOW) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[tuple[str, str], deque[datetime]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(username: str, client: str) -> tuple[str, str]:
        return (username.strip().lower()[:200], client)

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def check(self, key: tuple[str, str], now: datetime) -> None:
        """Raise TooManyAttempts (429, Retry-After) while the key is paused."""
        with self._lock:
            times = self._recent(key, now)
            if len(times) < self.max_failures:
                return
            wait = (times[0] + self.window - now).total_seconds()
        error = TooManyAttempts(
            f"too many failed sign-ins for this user from this address; "
            f"try again in {math.ceil(wait)} s"
        )
        error.retry_after_s = max(1, math.ceil(wait))
        raise error

    def failed(self, key: tuple[str, str], now: datetime) -> None:
        with self._lock:
            if len(self._failures) >= MAX_KEYS:  # bounded memory under a spray of names
                self._failures.clear()
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)
