"""Predictions in, labels in, tallies out: the I/O around the pure scoring in
inference/feedback/tallies.py."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.errors import InvalidInput
from inference.feedback.predictions import (
    Found,
    PredictionRecord,
    PredictionStore,
    new_prediction_id,
    prediction_time,
    remember,
)
from inference.feedback.tallies import FeedbackBook, Tally, score, totals
from inference.metrics.collectors import Metrics
from inference.metrics.window import RollingWindow, WindowStats, summarize
from inference.metrics.workers import BookView, WorkerSpool
from inference.models.loaded import LoadedVersion
from inference.schemas import FeedbackItem, FeedbackOutcome

_PRUNE_EVERY_S = 60.0


@dataclass(frozen=True)
class VersionFigures:
    stats: WindowStats | None
    tally: Tally


class GroundTruth:
    def __init__(
        self,
        store: PredictionStore,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        multiproc_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.book = FeedbackBook()
        self.epoch = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        # With several workers per replica, each shares its figures through this spool.
        self.spool = WorkerSpool(multiproc_dir, self.epoch) if multiproc_dir else None
        self._clock = clock
        self._pruned_at = 0.0
        # Shadow traffic (shadow.py) hooks in here: it learns each caller's prediction id,
        # and names the ids of the shadows' answers that the caller's label scores too.
        self.on_record: Callable[[Mapping[str, np.ndarray], str], None] | None = None
        self.linked_ids: Callable[[str, str], list[str]] = lambda model, pid: []

    def now(self) -> float:
        return self._clock()

    def record(self, loaded: LoadedVersion, outputs: Mapping[str, np.ndarray]) -> str:
        """A new prediction id; the prediction is remembered when its output can be scored."""
        now = self._clock()
        prediction_id = new_prediction_id(now)
        spec = loaded.spec.outputs[0]
        record = remember(spec, outputs[spec.name], loaded.model, loaded.version, now)
        if record is not None:
            self.store.put(prediction_id, record)
        if self.on_record is not None:
            self.on_record(outputs, prediction_id)
        return prediction_id

    async def submit(self, items: Sequence[FeedbackItem]) -> list[FeedbackOutcome]:
        """Score every item against its prediction; one outcome per item, in order."""
        now = self._clock()
        outcomes: dict[int, FeedbackOutcome] = {}
        wanted: list[str] = []
        for i, item in enumerate(items):
            if prediction_time(item.prediction_id) is None:
                outcomes[i] = FeedbackOutcome(
                    prediction_id=item.prediction_id,
                    result="invalid",
                    message="prediction_id: expected the 32 hex digits /predict returned",
                )
            else:
                wanted.append(item.prediction_id)
        found = await self.store.claim(list(dict.fromkeys(wanted)), now) if wanted else {}
        seen: set[str] = set()
        for i, item in enumerate(items):
            if i in outcomes:
                continue
            pid = item.prediction_id
            lookup = found[pid] if pid not in seen else Found.duplicate
            seen.add(pid)
            outcomes[i] = await self._apply(pid, lookup, item.label, now)
        if now - self._pruned_at > _PRUNE_EVERY_S:
            self.book.prune(now)
            self._pruned_at = now
        result = [outcomes[i] for i in range(len(items))]
        for outcome in result:
            self.metrics.count_feedback(outcome.result)
        await self._score_linked(items, result, now)
        return result

    async def _score_linked(
        self, items: Sequence[FeedbackItem], outcomes: Sequence[FeedbackOutcome], now: float
    ) -> None:
        """The accepted labels also score the shadows' answers to the same predictions."""
        labels: dict[str, object] = {}
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome.result == "accepted" and outcome.model is not None:
                for linked in self.linked_ids(outcome.model, item.prediction_id):
                    labels[linked] = item.label
        if not labels:
            return
        found = await self.store.claim(list(labels), now)
        for linked, lookup in found.items():
            if isinstance(lookup, Found):
                continue
            try:
                tally = score(lookup, labels[linked])
            except InvalidInput:
                continue
            if self.book.add(lookup, tally, now):
                correct = tally.correct if lookup.kind == "class" else None
                self.metrics.count_labels(lookup.model, lookup.version, tally.labelled, correct)

    async def _apply(
        self, pid: str, lookup: PredictionRecord | Found, label: object, now: float
    ) -> FeedbackOutcome:
        if isinstance(lookup, Found):
            return FeedbackOutcome(prediction_id=pid, result=lookup.value, message=_why(lookup))
        try:
            tally = score(lookup, label)
        except InvalidInput as e:
            await self.store.release(pid, lookup)
            return FeedbackOutcome(prediction_id=pid, result="invalid", message=e.message)
        if not self.book.add(lookup, tally, now):
            return FeedbackOutcome(prediction_id=pid, result="expired", message=_why(Found.expired))
        correct = tally.correct if lookup.kind == "class" else None
        self.metrics.count_labels(lookup.model, lookup.version, tally.labelled, correct)
        return FeedbackOutcome(
            prediction_id=pid, result="accepted", model=lookup.model, version=lookup.version
        )

    def books(self) -> list[BookView]:
        """This worker's tallies, and every other live worker's when there are several."""
        own = BookView(self.epoch, self.book.revision, self.book.buckets())
        others = [w.book for w in self.spool.others(self._clock())] if self.spool else []
        return [own, *others]

    def own_book_since(self, revision: int) -> BookView:
        return BookView(self.epoch, self.book.revision, self.book.changed_since(revision))

    def window(self, window: RollingWindow, window_s: int) -> dict[tuple[str, str], VersionFigures]:
        """Latency, errors and accuracy of each version over the last window_s seconds."""
        now = self._clock()
        others = self.spool.others(now) if self.spool else []
        stats = summarize([window.series, *(w.window for w in others)], now, window_s)
        views = [self.own_book_since(-1), *(w.book for w in others)]
        buckets = [b for view in views for b in view.buckets]
        tallies = totals(buckets, now - window_s, now + 1)
        out: dict[tuple[str, str], VersionFigures] = {}
        for s in stats:
            key = (s.model, s.version)
            out[key] = VersionFigures(s, tallies.get(key, Tally()))
        for key, tally in tallies.items():
            out.setdefault(key, VersionFigures(None, tally))
        return dict(sorted(out.items()))

    def workers(self) -> int:
        return 1 + (len(self.spool.others(self._clock())) if self.spool else 0)


def _why(found: Found) -> str:
    if found is Found.expired:
        return "this prediction is older than the feedback store keeps; feedback came too late"
    if found is Found.duplicate:
        return "feedback for this prediction was already recorded"
    return "no prediction with this id is known here"
