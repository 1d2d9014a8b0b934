"""Several worker processes per replica: each writes its rolling window and feedback tallies
to the multiprocess directory once a second, and the worker that answers a summary merges
the live others' files with its own figures (prometheus_client merges the counters)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from inference.feedback.tallies import BucketTally, FeedbackBook, Tally
from inference.metrics.window import RollingWindow, Second, Seconds

log = logging.getLogger(__name__)

_PREFIX = "pier_worker_"
STALE_AFTER_S = 5.0


@dataclass(frozen=True)
class BookView:
    """One worker's feedback tallies, as a reader of /feedback/aggregates sees them."""

    epoch: str
    revision: int
    buckets: list[BucketTally]


@dataclass(frozen=True)
class WorkerFigures:
    window: Seconds
    book: BookView


def _window_json(window: RollingWindow) -> dict[str, dict[str, list[object]]]:
    return {
        f"{model}\t{version}": {str(s): sec.to_json() for s, sec in seconds.items()}
        for (model, version), seconds in window.series.items()
    }


def _window_from(raw: dict[str, dict[str, list[object]]]) -> Seconds:
    out: Seconds = {}
    for key, seconds in raw.items():
        model, version = key.split("\t", 1)
        out[(model, version)] = {int(s): Second.from_json(v) for s, v in seconds.items()}
    return out


def _book_json(epoch: str, book: FeedbackBook) -> dict[str, object]:
    return {
        "epoch": epoch,
        "revision": book.revision,
        "buckets": [[b.model, b.version, b.start, *_tally_fields(b.tally)] for b in book.buckets()],
    }


def _tally_fields(t: Tally) -> list[float]:
    return [t.labelled, t.correct, t.regressed, t.abs_error, t.sq_error]


def _book_from(raw: dict[str, object]) -> BookView:
    buckets = raw["buckets"]
    assert isinstance(buckets, list)
    return BookView(
        epoch=str(raw["epoch"]),
        revision=int(str(raw["revision"])),
        buckets=[
            BucketTally(m, v, int(s), Tally(int(lab), int(cor), int(reg), float(ae), float(se)))
            for m, v, s, lab, cor, reg, ae, se in buckets
        ],
    )


class WorkerSpool:
    def __init__(self, directory: Path, epoch: str) -> None:
        self._directory = directory
        self._epoch = epoch
        self._path = directory / f"{_PREFIX}{os.getpid()}.json"

    def write(self, window: RollingWindow, book: FeedbackBook) -> None:
        body = orjson.dumps({"window": _window_json(window), "book": _book_json(self._epoch, book)})
        tmp = self._path.with_suffix(".tmp")
        tmp.write_bytes(body)
        tmp.replace(self._path)

    def others(self, now: float) -> list[WorkerFigures]:
        """The figures of every other live worker that wrote recently."""
        found = []
        for path in self._directory.glob(f"{_PREFIX}*.json"):
            pid = path.stem.removeprefix(_PREFIX)
            if not pid.isdigit() or int(pid) == os.getpid() or not Path(f"/proc/{pid}").exists():
                continue
            try:
                if now - path.stat().st_mtime > STALE_AFTER_S:
                    continue
                raw = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # being replaced, or gone: the next call sees it
            found.append(WorkerFigures(_window_from(raw["window"]), _book_from(raw["book"])))
        return found

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    async def run(self, window: RollingWindow, book: FeedbackBook, interval_s: float) -> None:
        while True:
            try:
                self.write(window, book)
            except OSError as e:
                log.warning("could not write worker figures to %s: %s", self._path, e)
            await asyncio.sleep(interval_s)
