"""Announcing routing changes on Redis, so replicas poll at once instead of at their interval.

SQL stays the source of truth and replicas keep polling: a lost announcement only delays a
change by one poll interval, so publishing failures are logged and never fail a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

ROUTING_CHANNEL = "pier:routing"


class RoutingAnnouncer:
    """Tells replicas (over Redis) and in-process listeners (the Kubernetes reconciler)."""

    def __init__(self, redis_url: str, channel: str = ROUTING_CHANNEL) -> None:
        self.channel = channel
        self._listeners: list[Callable[[], None]] = []
        self._client = (
            redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
            if redis_url
            else None
        )

    def listen(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def routing_changed(self) -> None:
        for callback in self._listeners:
            callback()
        if self._client is None:
            return
        try:
            self._client.publish(self.channel, "changed")
        except RedisError as e:
            log.warning("could not announce a routing change on Redis (%s); replicas will poll", e)
