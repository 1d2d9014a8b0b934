"""Ground truth joined to predictions, tallied by the time of the prediction, so a label that
arrives days late still counts in its prediction's window. Pure: no I/O, the clock is
passed in."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from inference.errors import InvalidInput
from inference.feedback.predictions import PredictionRecord

BUCKET_S = 5
RETENTION_S = 86_400


@dataclass
class Tally:
    """Labelled rows of one (model, version, bucket of prediction time)."""

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
        return self.correct / classified if classified else None

    @property
    def mae(self) -> float | None:
        return self.abs_error / self.regressed if self.regressed else None

    @property
    def rmse(self) -> float | None:
        return math.sqrt(self.sq_error / self.regressed) if self.regressed else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _labels_for(record: PredictionRecord, label: object) -> list[object]:
    rows = len(record.predicted)
    if isinstance(label, list):
        if len(label) != rows:
            raise InvalidInput(
                f"label: expected {rows} labels, one per row of the prediction, got {len(label)}"
            )
        return label
    if rows != 1:
        raise InvalidInput(f"label: the prediction has {rows} rows; expected a list of {rows}")
    return [label]


def score(record: PredictionRecord, label: object) -> Tally:
    """Compare a label (one per row, or a single one for a one-row prediction) with what
    was predicted. Raises InvalidInput with what was expected."""
    labels = _labels_for(record, label)
    tally = Tally(labelled=len(labels))
    if record.kind == "class":
        for predicted, given in zip(record.predicted, labels, strict=True):
            if not isinstance(given, int) or isinstance(given, bool):
                raise InvalidInput(
                    f"label: {record.model}@{record.version} is a classifier; expected a class "
                    f"index (an integer), got {given!r}"
                )
            if record.classes and not 0 <= given < record.classes:
                raise InvalidInput(
                    f"label: expected a class index from 0 to {record.classes - 1}, got {given}"
                )
            tally.correct += int(given == predicted)
        return tally
    for predicted, given in zip(record.predicted, labels, strict=True):
        if not _is_number(given):
            raise InvalidInput(
                f"label: {record.model}@{record.version} is a regressor; expected a finite "
                f"number, got {given!r}"
            )
        assert isinstance(given, int | float)
        error = float(given) - predicted
        tally.regressed += 1
        tally.abs_error += abs(error)
        tally.sq_error += error * error
    return tally


@dataclass(frozen=True)
class BucketTally:
    model: str
    version: str
    start: int  # unix seconds, a multiple of BUCKET_S
    tally: Tally


@dataclass
class _Entry:
    tally: Tally = field(default_factory=Tally)
    revision: int = 0


class FeedbackBook:
    """Tallies per (model, version, bucket of prediction time), kept RETENTION_S.

    Every change bumps a revision, so a reader can ask only for what changed since.
    """

    def __init__(self, bucket_s: int = BUCKET_S, retention_s: int = RETENTION_S) -> None:
        self.bucket_s = bucket_s
        self.retention_s = retention_s
        self.revision = 0
        self._entries: dict[tuple[str, str, int], _Entry] = {}

    def bucket_of(self, at: float) -> int:
        return int(at // self.bucket_s) * self.bucket_s

    def add(self, record: PredictionRecord, tally: Tally, now: float) -> bool:
        """Count a scored prediction; False when it is older than the retention."""
        start = self.bucket_of(record.at)
        if start < now - self.retention_s:
            return False
        self.revision += 1
        entry = self._entries.setdefault((record.model, record.version, start), _Entry())
        entry.tally.add(tally)
        entry.revision = self.revision
        return True

    def prune(self, now: float) -> None:
        horizon = now - self.retention_s
        for key in [k for k in self._entries if k[2] < horizon]:
            del self._entries[key]

    def changed_since(self, revision: int) -> list[BucketTally]:
        return [
            BucketTally(model, version, start, entry.tally)
            for (model, version, start), entry in sorted(self._entries.items())
            if entry.revision > revision
        ]

    def buckets(self) -> list[BucketTally]:
        return self.changed_since(-1)

    def __len__(self) -> int:
        return len(self._entries)


def totals(
    buckets: Iterable[BucketTally], start: float, end: float
) -> dict[tuple[str, str], Tally]:
    """Per (model, version): the tallies of predictions made in [start, end)."""
    out: dict[tuple[str, str], Tally] = {}
    for b in buckets:
        if start <= b.start < end:
            out.setdefault((b.model, b.version), Tally()).add(b.tally)
    return out
