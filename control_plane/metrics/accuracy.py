"""Accuracy from ground truth: the replicas' feedback tallies by bucket of prediction time,
so a late label revises its prediction's window (Prometheus cannot write into the past)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel

RETENTION_S = 86_400


class BucketIn(BaseModel):
    model: str
    version: str
    start: int
    labelled: int
    correct: int
    regressed: int
    abs_error: float
    sq_error: float


class BookIn(BaseModel):
    epoch: str
    revision: int
    buckets: list[BucketIn]


class AggregatesIn(BaseModel):
    """The body of a replica's GET /feedback/aggregates."""

    bucket_s: int
    retention_s: int
    books: list[BookIn]


@dataclass
class Tally:
    labelled: int = 0
    correct: int = 0
    regressed: int = 0
    abs_error: float = 0.0
    sq_error: float = 0.0

    def add(self, other: Tally) -> None:
        self.labelled += other.labelled
        self.correct += other.correct
        self.regressed += other.regressed
        self.abs_error += other.abs_error
        self.sq_error += other.sq_error

    @property
    def accuracy(self) -> float | None:
        classified = self.labelled - self.regressed
        return self.correct / classified if classified > 0 else None

    @property
    def mae(self) -> float | None:
        return self.abs_error / self.regressed if self.regressed else None

    @property
    def rmse(self) -> float | None:
        return math.sqrt(self.sq_error / self.regressed) if self.regressed else None


class Ledger:
    """Tallies per (epoch, model, version, bucket start), kept RETENTION_S seconds."""

    def __init__(self, retention_s: int = RETENTION_S) -> None:
        self.retention_s = retention_s
        self._buckets: dict[tuple[str, str, str, int], Tally] = {}
        self._cursors: dict[str, dict[str, int]] = {}  # replica -> epoch -> revision
        self._seen: dict[str, float] = {}
        self.bucket_s = 1  # the replicas' bucket of prediction time, once one has answered

    def after(self, replica: str) -> list[str]:
        """The `after` query values to send to this replica."""
        return [f"{e}@{r}" for e, r in sorted(self._cursors.get(replica, {}).items())]

    def apply(self, replica: str, body: AggregatesIn, now: float) -> None:
        cursors = self._cursors.setdefault(replica, {})
        self.bucket_s = max(self.bucket_s, body.bucket_s)
        horizon = now - self.retention_s
        for book in body.books:
            for b in book.buckets:
                if b.start >= horizon:
                    self._buckets[(book.epoch, b.model, b.version, b.start)] = Tally(
                        b.labelled, b.correct, b.regressed, b.abs_error, b.sq_error
                    )
            cursors[book.epoch] = book.revision
        self._seen[replica] = now

    def prune(self, now: float) -> None:
        horizon = now - self.retention_s
        for key in [k for k in self._buckets if k[3] < horizon]:
            del self._buckets[key]
        for replica in [r for r, t in self._seen.items() if t < horizon]:
            del self._seen[replica]
            self._cursors.pop(replica, None)

    def totals(self, model: str | None, start: float, end: float) -> dict[tuple[str, str], Tally]:
        """Per (model, version): the tallies of buckets of prediction time that overlap
        [start, end): a window starting mid-bucket keeps the labels of its first seconds."""
        out: dict[tuple[str, str], Tally] = {}
        for (_, m, v, s), tally in self._buckets.items():
            if (model is None or m == model) and start < s + self.bucket_s and s < end:
                out.setdefault((m, v), Tally()).add(tally)
        return out

    def __len__(self) -> int:
        return len(self._buckets)

    def per_step(
        self, model: str, end: float, step_s: int, points: int
    ) -> dict[str, list[Tally | None]]:
        """Per version: one tally per point; point k holds predictions made in
        [end - (points - k) * step_s, end - (points - k - 1) * step_s), None if unlabelled."""
        first = end - points * step_s
        out: dict[str, list[Tally | None]] = {}
        for (_, m, v, s), tally in self._buckets.items():
            if m != model or not first <= s < end:
                continue
            k = int((s - first) // step_s)
            row = out.setdefault(v, [None] * points)
            if row[k] is None:
                row[k] = Tally()
            slot = row[k]
            assert slot is not None
            slot.add(tally)
        return out
