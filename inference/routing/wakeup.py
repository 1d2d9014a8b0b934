"""Redis pub/sub wake-up: a routing change the control plane announces triggers a poll at
once. Polling stays the source of truth; Redis being down, or coming back, never disturbs
serving."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


async def listen(url: str, channel: str, on_message: Callable[[], None]) -> None:
    """Call `on_message` for every message on `channel`, reconnecting with backoff, forever."""
    backoff = 0.5
    while True:
        client = redis.from_url(url)
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            await pubsub.subscribe(channel)
            # A change may have happened while we were not subscribed: poll once now.
            on_message()
            backoff = 0.5
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    on_message()
        except (RedisError, OSError) as e:
            log.warning("routing wake-up via Redis unavailable (%s); polling only", e)
        finally:
            await client.aclose()
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 10.0)
