"""Sign-in rate limiting: a few failures per (username, client address), then a pause, so
one attacker cannot lock a user out everywhere. The clock is passed in; the failures live in
the process, or in Redis when it is configured, shared by every control-plane replica."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import secrets
import threading
from collections import deque
from datetime import datetime, timedelta

import redis
from redis.exceptions import RedisError

from control_plane.errors import TooManyAttempts

log = logging.getLogger(__name__)

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
        _refuse(wait)

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


class SharedLoginThrottle(LoginThrottle):
    """The same limit with the failures in Redis (a sorted set of failure times a key), so
    that replicas behind one Service count together. Without Redis, it counts in-process."""

    def __init__(
        self, client: redis.Redis, max_failures: int = MAX_FAILURES, window: timedelta = WINDOW
    ) -> None:
        super().__init__(max_failures, window)
        self._redis = client

    @staticmethod
    def _name(key: tuple[str, str]) -> str:
        digest = hashlib.sha256("\0".join(key).encode()).hexdigest()[:32]
        return f"pier:sign-in-failures:{digest}"

    def check(self, key: tuple[str, str], now: datetime) -> None:
        t, name = now.timestamp(), self._name(key)
        try:
            pipe = self._redis.pipeline()
            pipe.zremrangebyscore(name, 0, t - self.window.total_seconds())
            pipe.zrange(name, 0, 0, withscores=True)
            pipe.zcard(name)
            _, oldest, count = pipe.execute()
        except RedisError as e:
            log.warning("sign-in throttle: Redis unavailable (%s); counting in-process", e)
            super().check(key, now)
            return
        if count >= self.max_failures and oldest:
            _refuse(oldest[0][1] + self.window.total_seconds() - t)

    def failed(self, key: tuple[str, str], now: datetime) -> None:
        t, name = now.timestamp(), self._name(key)
        try:
            pipe = self._redis.pipeline()
            pipe.zadd(name, {f"{t!r}:{secrets.token_hex(4)}": t})
            pipe.zremrangebyscore(name, 0, t - self.window.total_seconds())
            pipe.expire(name, math.ceil(self.window.total_seconds()))
            pipe.execute()
        except RedisError:
            super().failed(key, now)

    def succeeded(self, key: tuple[str, str]) -> None:
        super().succeeded(key)
        with contextlib.suppress(RedisError):
            self._redis.delete(self._name(key))


def login_throttle(redis_url: str) -> LoginThrottle:
    """In Redis when a URL is given (every replica then shares the count), else in-process."""
    if not redis_url:
        return LoginThrottle()
    client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    return SharedLoginThrottle(client)


def _refuse(wait_s: float) -> None:
    error = TooManyAttempts(
        f"too many failed sign-ins for this user from this address; "
        f"try again in {math.ceil(wait_s)} s"
    )
    error.retry_after_s = max(1, math.ceil(wait_s))
    raise error
