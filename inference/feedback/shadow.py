"""Shadow traffic: copies of a share of a model's answered requests go to its shadow versions,
on threads of their own at the lowest CPU priority, without ever delaying the caller; their
answers are measured, compared with the live ones and scored by the caller's labels."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import anyio
import numpy as np

from inference.errors import InferenceError, mapping_for
from inference.feedback.ground_truth import GroundTruth
from inference.feedback.predictions import PredictionRecord, remember
from inference.metrics.collectors import Metrics
from inference.models.loaded import LoadedVersion, ModelRegistry

log = logging.getLogger(__name__)

_SHADOW_ID_SEP = "~"
_LOWEST_PRIORITY = 19


def _lower_priority() -> None:
    """Linux gives each thread its own nice value: this one yields the CPU to the live path.
    Where that is not allowed the shadow runs at normal priority (still on its own threads)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _LOWEST_PRIORITY)


def shadow_prediction_id(prediction_id: str, version: str) -> str:
    """Where a shadow's prediction for the caller's `prediction_id` is remembered."""
    return f"{prediction_id}{_SHADOW_ID_SEP}{version}"


def draw_shadows(shadow: Mapping[str, int], rng: random.Random) -> list[str]:
    """Pure: the shadow versions that get a copy of one request, each with its own odds."""
    return [v for v, pct in sorted(shadow.items()) if pct > 0 and rng.random() * 100 < pct]


def agreement(live: PredictionRecord | None, shadow: PredictionRecord | None) -> tuple[int, int]:
    """(rows compared, rows with the same class): classifiers only, (0, 0) otherwise."""
    if live is None or shadow is None or live.kind != "class" or shadow.kind != "class":
        return 0, 0
    if len(live.predicted) != len(shadow.predicted):
        return 0, 0
    same = sum(1 for a, b in zip(live.predicted, shadow.predicted, strict=True) if a == b)
    return len(live.predicted), same


@dataclass(eq=False)
class ShadowJob:
    shadow: LoadedVersion
    live: LoadedVersion
    batch: Mapping[str, np.ndarray]
    live_outputs: Mapping[str, np.ndarray]
    prediction_id: str | None = None


class ShadowMirror:
    def __init__(
        self,
        registry: ModelRegistry,
        metrics: Metrics,
        truth: GroundTruth,
        rng: random.Random,
        capacity: int = 256,
        concurrency: int = 1,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._registry = registry
        self._metrics = metrics
        self._truth = truth
        self._rng = rng
        self._clock = clock
        self.capacity = capacity
        self.concurrency = max(1, concurrency)
        self._queue: asyncio.Queue[ShadowJob] | None = None
        self._executor: ThreadPoolExecutor | None = None
        # The copies of the request answered last, until the caller's prediction id is known
        # (the route records it right after the data plane returns, without yielding).
        self._last: tuple[int, list[ShadowJob]] | None = None
        self._versions: dict[str, set[str]] = {}
        self.dropped = 0
        self._unfinished = 0
        truth.on_record = self.link
        truth.linked_ids = self.linked_ids

    def _ensure_queue(self) -> asyncio.Queue[ShadowJob]:
        if self._queue is None:
            self._queue = asyncio.Queue(self.capacity)
        return self._queue

    @property
    def pending(self) -> int:
        """Copies queued or being served now."""
        return self._unfinished

    def offer(
        self,
        live: LoadedVersion,
        batch: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray],
    ) -> None:
        """Queue copies of one answered request for the shadows drawn; never waits."""
        self._last = None
        snapshot = self._registry.active
        serving = snapshot.models.get(live.model) if snapshot else None
        if serving is None or not serving.route.shadow or live.version not in serving.route.weights:
            return
        queue = self._ensure_queue()
        jobs = []
        for version in draw_shadows(serving.route.shadow, self._rng):
            shadow = serving.versions.get(version)
            if shadow is None:
                continue
            job = ShadowJob(shadow=shadow, live=live, batch=batch, live_outputs=outputs)
            try:
                queue.put_nowait(job)
            except asyncio.QueueFull:
                self.dropped += 1
                self._metrics.count_shadow(live.model, version, "dropped")
                continue
            self._unfinished += 1
            self._versions.setdefault(live.model, set()).add(version)
            jobs.append(job)
        if jobs:
            self._last = (id(outputs), jobs)

    def link(self, outputs: Mapping[str, np.ndarray], prediction_id: str) -> None:
        """The caller's prediction id, for the copies of the request that produced `outputs`."""
        last, self._last = self._last, None
        if last is not None and last[0] == id(outputs):
            for job in last[1]:
                job.prediction_id = prediction_id

    def linked_ids(self, model: str, prediction_id: str) -> list[str]:
        """Where shadows of `model` may have remembered their answer to `prediction_id`."""
        return [shadow_prediction_id(prediction_id, v) for v in self._versions.get(model, ())]

    async def run(self) -> None:
        """Serve queued copies until cancelled."""
        queue = self._ensure_queue()
        # Its own threads: a slow shadow must not take the live path's model threads.
        self._executor = ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="pier-shadow", initializer=_lower_priority
        )
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(self.concurrency):
                    tg.start_soon(self._worker, queue, self._executor)
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _worker(self, queue: asyncio.Queue[ShadowJob], executor: ThreadPoolExecutor) -> None:
        while True:
            job = await queue.get()
            try:
                await self.serve(job, executor)
            finally:
                self._unfinished -= 1

    async def serve(self, job: ShadowJob, executor: ThreadPoolExecutor) -> None:
        """Run one copy on the shadow and record what it answered; never raises."""
        model, version = job.shadow.model, job.shadow.version
        started = self._clock()
        loop = asyncio.get_running_loop()
        try:
            outputs = await loop.run_in_executor(executor, job.shadow.runner.run, job.batch)
        except Exception as e:  # the shadow's failure is measured, never the caller's
            mapping = mapping_for(e) if isinstance(e, InferenceError) else None
            kind = mapping.type if mapping else "model_error"
            status = mapping.status if mapping else 500
            self._metrics.observe(model, version, status, self._clock() - started, kind)
            self._metrics.count_shadow(model, version, "error")
            log.debug("shadow %s@%s failed: %s", model, version, e)
            return
        self._metrics.observe(model, version, 200, self._clock() - started)
        self._metrics.count_shadow(model, version, "ok")
        self._compare(job, outputs)

    def _compare(self, job: ShadowJob, outputs: Mapping[str, np.ndarray]) -> None:
        now = self._truth.now()
        live_spec = job.live.spec.outputs[0]
        shadow_spec = job.shadow.spec.outputs[0]
        shadow_output = outputs.get(shadow_spec.name)
        live_output = job.live_outputs.get(live_spec.name)
        if shadow_output is None or live_output is None:
            return
        model, version = job.shadow.model, job.shadow.version
        shadow_record = remember(shadow_spec, shadow_output, model, version, now)
        live_record = remember(live_spec, live_output, model, job.live.version, now)
        compared, agreed = agreement(live_record, shadow_record)
        self._metrics.count_agreement(model, version, compared, agreed)
        if shadow_record is not None and job.prediction_id is not None:
            self._truth.store.put(shadow_prediction_id(job.prediction_id, version), shadow_record)
