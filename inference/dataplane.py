"""Protocol-agnostic request handling shared by the native API and v2: pick the
version, check inputs, run the model off the event loop, record metrics."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from inference.errors import InferenceError, ModelNotFound, NotReady, VersionNotFound, mapping_for
from inference.execution.batch_rules import BatchPolicy
from inference.execution.batcher import Batcher
from inference.execution.cpu_load import CpuLoad
from inference.execution.deadlines import Deadlines
from inference.execution.model_threads import Done, ModelThreads, settler
from inference.feedback.shadow import ShadowMirror
from inference.metrics.collectors import Metrics
from inference.models.loaded import LoadedVersion, ModelRegistry, ServingModel
from inference.routing.table import pick_version
from inference.tensors import rows_of

UNKNOWN_MODEL = "_unknown"
RETRY_AFTER_S = 1


@dataclass
class Outcome:
    """Labels of one request for metrics, filled in as the request is understood."""

    model: str = UNKNOWN_MODEL
    version: str = ""


class DataPlane:
    def __init__(
        self,
        registry: ModelRegistry,
        metrics: Metrics,
        max_rows: int,
        rng: random.Random,
        threads: ModelThreads,
        batching: BatchPolicy | None = None,
        mirror: ShadowMirror | None = None,
        request_timeout_s: float | None = None,
        cpu: CpuLoad | None = None,
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.max_rows = max_rows
        self._rng = rng
        # Where every model call runs; as many threads as calls may run at once.
        self.threads = threads
        # The replica's batching; a version's own (its pier.yaml) overrides it field by
        # field. None, or at most 1 row: every request is its own model call.
        self.batching = batching
        # Per model version: the loaded version it was made for, and its queue (None: its
        # requests are not gathered). Decided once per loaded version, not per request.
        self._batchers: dict[tuple[str, str], tuple[LoadedVersion, Batcher | None]] = {}
        # Copies answered requests to the model's shadow versions (None: no shadow traffic).
        self.mirror = mirror
        # Whether the worker's CPU is the limit: then a free call waits for as many
        # requests as lately queued (inference/execution/batcher.py). None: never.
        self.cpu = cpu
        # The timeout of the requests that are not gathered (a batcher keeps its own line).
        self._deadlines = (
            None if request_timeout_s is None else Deadlines(request_timeout_s, time.perf_counter)
        )

    def serving_model(self, name: str) -> ServingModel:
        snapshot = self.registry.active
        if snapshot is None:
            raise NotReady(
                "no routing table applied yet; retry shortly", retry_after_s=RETRY_AFTER_S
            )
        model = snapshot.models.get(name)
        if model is None:
            served = ", ".join(sorted(snapshot.models)) or "none"
            raise ModelNotFound(f"model {name!r} is not served here; served models: {served}")
        return model

    def resolve(self, name: str, version: str | None, key: str | None) -> LoadedVersion:
        """The loaded version that serves this request: the pinned one, else by weights."""
        model = self.serving_model(name)
        if version is None:
            version = pick_version(model.route.weights, key, self._rng, model.slots)
            if version is None:
                raise NotReady(
                    f"model {name!r} has no version receiving traffic; pin one of "
                    f"{sorted(model.versions)}",
                    retry_after_s=RETRY_AFTER_S,
                )
        loaded = model.versions.get(version)
        if loaded is None:
            served = ", ".join(sorted(model.versions))
            raise VersionNotFound(
                f"version {version!r} of model {name!r} is not served here; "
                f"served versions: {served}"
            )
        return loaded

    def batcher(self, loaded: LoadedVersion) -> Batcher | None:
        """The queue of this loaded version; None when its requests cannot be gathered
        (batching off, or an input without a leading batch dimension)."""
        key = (loaded.model, loaded.version)
        found = self._batchers.get(key)
        if found is not None and found[0] is loaded:
            return found[1]
        # Unloaded versions' batchers go with them: keep only those still served.
        self._batchers = {
            k: v for k, v in self._batchers.items() if self.registry.get_loaded(*k) is v[0]
        }
        policy = self.policy_for(loaded)
        made = None
        if policy is not None and all(s.shape and s.shape[0] == -1 for s in loaded.spec.inputs):
            made = Batcher(
                lambda arrays, rows, done: self._start(loaded, arrays, rows, done),
                policy,
                slots=self.threads.size,
                clock=time.perf_counter,
                on_limit=lambda rows: self.metrics.batch_limit(loaded.model, loaded.version, rows),
                saturated=self.cpu.saturated if self.cpu is not None else None,
            )
        self._batchers[key] = (loaded, made)
        return made

    def policy_for(self, loaded: LoadedVersion) -> BatchPolicy | None:
        """The replica's batching with the version's own settings over it; None: off."""
        if self.batching is None:
            return None
        own = loaded.spec.batching
        policy = replace(
            self.batching,
            max_rows=self.batching.max_rows if own.max_rows is None else own.max_rows,
            max_wait_s=self.batching.max_wait_s
            if own.max_wait_ms is None
            else own.max_wait_ms / 1000,
        )
        return policy if policy.max_rows > 1 else None

    async def run(
        self, loaded: LoadedVersion, batch: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        rows = rows_of(loaded.spec.inputs, batch, self.max_rows)
        batcher = self.batcher(loaded)
        self.metrics.request_started()
        try:
            if batcher is None:
                outputs = await self._call(loaded, batch, rows)
            else:
                outputs = await batcher.submit(batch, rows)
        finally:
            self.metrics.request_ended()
        if self.mirror is not None:
            self.mirror.offer(loaded, batch, outputs)
        return outputs

    async def _call(
        self, loaded: LoadedVersion, batch: Mapping[str, np.ndarray], rows: int
    ) -> dict[str, np.ndarray]:
        future: asyncio.Future[dict[str, np.ndarray]] = asyncio.get_running_loop().create_future()
        if self._deadlines is not None:
            self._deadlines.watch(time.perf_counter(), future)
        self._start(loaded, batch, rows, settler(future))
        return await future

    def _start(
        self,
        loaded: LoadedVersion,
        batch: Mapping[str, np.ndarray],
        rows: int,
        done: Done[dict[str, np.ndarray]],
    ) -> None:
        """One model call on a model thread; pier_batch_size observes its rows, then `done`
        gets the outcome on the event loop."""
        submitted = time.perf_counter()
        span: list[float] = []

        def call() -> dict[str, np.ndarray]:
            span.append(time.perf_counter())
            try:
                return loaded.runner.run(batch)
            finally:
                span.append(time.perf_counter())

        def finished(outputs: dict[str, np.ndarray] | None, error: BaseException | None) -> None:
            if len(span) == 2:
                self.metrics.observe_call(
                    loaded.model,
                    loaded.version,
                    rows,
                    queued_s=span[0] - submitted,
                    model_s=span[1] - span[0],
                )
            done(outputs, error)

        self.threads.submit(call, finished)

    def record(self, outcome: Outcome, code: int, started: float) -> None:
        self.metrics.observe(outcome.model, outcome.version, code, time.perf_counter() - started)

    def record_error(
        self, outcome: Outcome, error: InferenceError, started: float, *, v2: bool = False
    ) -> None:
        mapping = mapping_for(error)
        if outcome.version:
            error.version = outcome.version
        self.metrics.observe(
            outcome.model,
            outcome.version,
            mapping.v2_status if v2 else mapping.status,
            time.perf_counter() - started,
            error_type=mapping.type,
        )
