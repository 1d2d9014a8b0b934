"""Predictions remembered for ground-truth feedback, in a bounded, expiring store. An id is
a UUIDv7 carrying the prediction's time, so feedback for an id no longer held is told
expired (410) or unknown (404); the request path never waits on Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol

import numpy as np
import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

from inference.schemas import TensorSpec

log = logging.getLogger(__name__)

Kind = Literal["class", "value"]
_INTEGER_DTYPES = {"int64", "int32", "int16", "int8", "uint8", "bool"}
# A prediction id may be stamped a little ahead of this clock (another replica's).
_CLOCK_SKEW_S = 60.0


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """What feedback is scored against: one predicted class or value per row."""

    model: str
    version: str
    at: float  # unix seconds when the prediction was made
    kind: Kind
    predicted: tuple[float, ...]
    classes: int = 0  # number of classes of a classifier with scores; 0 when unknown

    def encode(self) -> bytes:
        return orjson.dumps(
            [self.model, self.version, self.at, self.kind, self.predicted, self.classes]
        )

    @staticmethod
    def decode(raw: bytes) -> PredictionRecord:
        model, version, at, kind, predicted, classes = orjson.loads(raw)
        return PredictionRecord(model, version, at, kind, tuple(predicted), classes)


def new_prediction_id(now: float, random_bytes: bytes | None = None) -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: time-ordered, and it carries its own time."""
    rand = int.from_bytes(random_bytes or os.urandom(10), "big")
    ms = int(now * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | (0x7 << 76) | (((rand >> 62) & 0xFFF) << 64)
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    return f"{value:032x}"


def prediction_time(prediction_id: str) -> float | None:
    """The time stamped in a prediction id, or None when it is not one of ours."""
    if len(prediction_id) != 32:
        return None
    try:
        value = int(prediction_id, 16)
    except ValueError:
        return None
    if (value >> 76) & 0xF != 7 or (value >> 62) & 0b11 != 0b10:
        return None
    return (value >> 80) / 1000


def remember(
    spec: TensorSpec, output: np.ndarray, model: str, version: str, at: float
) -> PredictionRecord | None:
    """The record of a prediction from its first output; None for shapes we cannot score.
    Float scores [rows, k>1] are a classifier (argmax); an integer output [rows] or
    [rows, 1] is a class; a float one of that shape is a regression value."""
    if output.ndim == 2 and output.shape[1] > 1 and spec.dtype not in _INTEGER_DTYPES:
        return PredictionRecord(
            model,
            version,
            at,
            "class",
            tuple(int(i) for i in np.argmax(output, axis=1)),
            int(output.shape[1]),
        )
    if output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1):
        flat = output.reshape(-1)
        if spec.dtype in _INTEGER_DTYPES:
            return PredictionRecord(
                model, version, at, "class", tuple(int(v) for v in flat.tolist())
            )
        return PredictionRecord(model, version, at, "value", tuple(float(v) for v in flat.tolist()))
    return None


class Found(Enum):
    """Why a lookup found no record to score."""

    unknown = "unknown"
    expired = "expired"
    duplicate = "duplicate"


Lookup = PredictionRecord | Found


@dataclass(frozen=True)
class StoreStats:
    kind: Literal["local", "redis", "off"]
    entries: int
    rows: int
    capacity_rows: int | None
    ttl_s: float
    pending_writes: int = 0
    dropped: int = 0


class PredictionStore(Protocol):
    def put(self, prediction_id: str, record: PredictionRecord) -> None:
        """Remember a prediction; never blocks and never raises on the request path."""
        ...

    async def claim(self, prediction_ids: Sequence[str], now: float) -> dict[str, Lookup]:
        """Each prediction's record, marking it labelled so a second feedback is a duplicate."""
        ...

    async def release(self, prediction_id: str, record: PredictionRecord) -> None:
        """Undo a claim whose label was refused, so a corrected label can follow."""
        ...

    def stats(self) -> StoreStats: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def _missing(prediction_id: str, now: float, ttl_s: float, evicted_until: float) -> Found:
    at = prediction_time(prediction_id)
    if at is None or at > now + _CLOCK_SKEW_S:
        return Found.unknown
    if at < now - ttl_s or at <= evicted_until:
        return Found.expired
    return Found.unknown


class LocalPredictionStore:
    """In-process, bounded by rows (oldest first) and by TTL. Event-loop thread only.
    About 400 bytes per row held (tests/monitoring/test_memory.py)."""

    def __init__(self, capacity_rows: int, ttl_s: float) -> None:
        self.capacity_rows = capacity_rows
        self.ttl_s = ttl_s
        self._items: OrderedDict[str, PredictionRecord | None] = OrderedDict()
        self._rows = 0
        # Newest prediction time dropped for room: anything at or before it is expired.
        self._evicted_until = 0.0

    def put(self, prediction_id: str, record: PredictionRecord) -> None:
        if self.capacity_rows <= 0:
            return
        self._items[prediction_id] = record
        self._rows += len(record.predicted)
        self._expire(record.at)
        # Rows bound the records; ids already labelled (kept to spot a repeat) are bound
        # too, to as many again.
        while self._items and (
            self._rows > self.capacity_rows or len(self._items) > 2 * self.capacity_rows
        ):
            old_id, old = self._items.popitem(last=False)
            if old is not None:
                self._rows -= len(old.predicted)
            at = old.at if old is not None else prediction_time(old_id) or 0.0
            self._evicted_until = max(self._evicted_until, at)

    def _expire(self, now: float) -> None:
        horizon = now - self.ttl_s
        while self._items:
            first_id, first = next(iter(self._items.items()))
            at = first.at if first is not None else prediction_time(first_id) or 0.0
            if at >= horizon:
                return
            self._items.popitem(last=False)
            if first is not None:
                self._rows -= len(first.predicted)

    async def claim(self, prediction_ids: Sequence[str], now: float) -> dict[str, Lookup]:
        self._expire(now)
        found: dict[str, Lookup] = {}
        for pid in prediction_ids:
            if pid not in self._items:
                found[pid] = _missing(pid, now, self.ttl_s, self._evicted_until)
                continue
            record = self._items[pid]
            if record is None:
                found[pid] = Found.duplicate
                continue
            # Keep the id (as labelled) so a repeat is told apart; its rows are freed.
            self._items[pid] = None
            self._rows -= len(record.predicted)
            found[pid] = record
        return found

    async def release(self, prediction_id: str, record: PredictionRecord) -> None:
        if self._items.get(prediction_id, record) is None:
            self._items[prediction_id] = record
            self._rows += len(record.predicted)

    def stats(self) -> StoreStats:
        return StoreStats(
            kind="local" if self.capacity_rows > 0 else "off",
            entries=len(self._items),
            rows=self._rows,
            capacity_rows=self.capacity_rows,
            ttl_s=self.ttl_s,
        )

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


_KEY_PREFIX = "pier:prediction:"
_LABELLED = b"L"


class RedisPredictionStore:
    """Shared by every replica: feedback may reach another replica than the prediction.
    Writes are buffered and sent in pipelines by a background task; while Redis is down
    the buffer is bounded and the oldest writes are dropped (and counted)."""

    def __init__(
        self,
        url: str,
        ttl_s: float,
        flush_interval_s: float = 0.02,
        max_pending: int = 100_000,
    ) -> None:
        self.ttl_s = ttl_s
        self._client = redis.from_url(url)
        self._interval = flush_interval_s
        self._max_pending = max_pending
        self._pending: OrderedDict[str, PredictionRecord] = OrderedDict()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self.dropped = 0

    def put(self, prediction_id: str, record: PredictionRecord) -> None:
        self._pending[prediction_id] = record
        if len(self._pending) > self._max_pending:
            self._pending.popitem(last=False)
            self.dropped += 1
        if len(self._pending) >= 512:
            self._wake.set()

    async def flush(self) -> None:
        async with self._flush_lock:
            while self._pending:
                chunk: list[tuple[str, PredictionRecord]] = []
                while self._pending and len(chunk) < 2048:
                    chunk.append(self._pending.popitem(last=False))
                ttl_ms = max(int(self.ttl_s * 1000), 1)
                pipe = self._client.pipeline(transaction=False)
                for pid, record in chunk:
                    pipe.set(_KEY_PREFIX + pid, record.encode(), px=ttl_ms)
                try:
                    await pipe.execute()
                except (RedisError, OSError):
                    # Put them back in front, oldest first, and let the loop retry later.
                    for pid, record in reversed(chunk):
                        self._pending[pid] = record
                        self._pending.move_to_end(pid, last=False)
                    raise

    async def _run(self) -> None:
        backoff = self._interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), backoff)
            self._wake.clear()
            try:
                await self.flush()
                backoff = self._interval
            except (RedisError, OSError) as e:
                log.warning("prediction store: Redis unavailable (%s); buffering", e)
                backoff = min(max(backoff * 2, 0.5), 5.0)

    async def claim(self, prediction_ids: Sequence[str], now: float) -> dict[str, Lookup]:
        await self.flush()
        pipe = self._client.pipeline(transaction=False)
        for pid in prediction_ids:
            # Atomically read the record and leave a marker with the same expiry.
            pipe.set(_KEY_PREFIX + pid, _LABELLED, xx=True, keepttl=True, get=True)
        raws: list[bytes | None] = await pipe.execute()
        found: dict[str, Lookup] = {}
        for pid, raw in zip(prediction_ids, raws, strict=True):
            if raw is None:
                found[pid] = _missing(pid, now, self.ttl_s, 0.0)
            elif raw == _LABELLED:
                found[pid] = Found.duplicate
            else:
                found[pid] = PredictionRecord.decode(raw)
        return found

    async def release(self, prediction_id: str, record: PredictionRecord) -> None:
        await self._client.set(_KEY_PREFIX + prediction_id, record.encode(), xx=True, keepttl=True)

    def stats(self) -> StoreStats:
        return StoreStats(
            kind="redis",
            entries=0,
            rows=0,
            capacity_rows=None,
            ttl_s=self.ttl_s,
            pending_writes=len(self._pending),
            dropped=self.dropped,
        )

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pier-prediction-store")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(RedisError, OSError):
            await self.flush()
        await self._client.aclose()


def open_store(
    redis_url: str, ttl_s: float, capacity_rows: int
) -> LocalPredictionStore | RedisPredictionStore:
    if redis_url and capacity_rows > 0:
        return RedisPredictionStore(redis_url, ttl_s)
    return LocalPredictionStore(capacity_rows, ttl_s)
