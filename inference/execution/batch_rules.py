"""The pure rules of adaptive batching (inference/execution/batcher.py): when a queue makes a
full batch, how long a free call waits, which requests one call takes, and how its outputs
split back into answers."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from inference.execution.model_threads import Done

Arrays = Mapping[str, np.ndarray]
Outputs = dict[str, np.ndarray]
# Starts one model call on the rows given and returns; its outcome goes to the callback,
# on the event loop. The data plane records its metrics.
StartCall = Callable[[Arrays, int, Done[Outputs]], None]
# Per input: name, shape beyond the rows, dtype. Only requests alike in all three concatenate.
Signature = tuple[tuple[str, tuple[int, ...], np.dtype], ...]


@dataclass(frozen=True)
class BatchPolicy:
    max_rows: int
    max_wait_s: float
    # Longest a request waits for its answer, from its arrival; None: as long as it takes.
    timeout_s: float | None = None
    # Learn each version's best batch size up to max_rows (False: always up to max_rows).
    adaptive: bool = True


def batch_is_full(queued_rows: int, queued: int, limit: int, target: int) -> bool:
    """Pure: whether the queue makes a full batch: `limit` rows, or `target` requests
    (Batcher._fill_target), whichever comes first. So a batch is held only for requests
    the load is sure to send."""
    return queued_rows >= limit or queued >= target


def dispatch_delay(policy: BatchPolicy, full: bool, oldest_arrival: float, now: float) -> float:
    """Pure: seconds a free call should still wait before taking the queue (0: take it now).
    A full batch goes at once; otherwise the oldest queued request bounds the wait."""
    if full:
        return 0.0
    return max(0.0, oldest_arrival + policy.max_wait_s - now)


def take_batch(limit: int, queue: Iterable[tuple[Signature, int]]) -> int:
    """Pure: how many requests from the head of the queue go into the next call: the head
    (even alone over `limit` rows), then those after it that are alike and fit. Reads no
    further, so a call costs its batch, not the queue's depth."""
    entries = iter(queue)
    first = next(entries, None)
    if first is None:
        return 0
    head, rows = first
    count = 1
    for signature, more in entries:
        if signature != head or rows + more > limit:
            break
        rows += more
        count += 1
    return count


def signature_of(arrays: Arrays) -> Signature:
    """What requests must share to be gathered into one call: each input's name, its
    shape after the rows, and its dtype."""
    return tuple([(name, a.shape[1:], a.dtype) for name, a in arrays.items()])


def concatenate(parts: Sequence[Arrays]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def split_outputs(outputs: Outputs, rows: Sequence[int]) -> list[Outputs] | None:
    """Each request's rows of a gathered call's outputs; None when an output does not have
    one row per input row (then the gathered answer cannot be told apart)."""
    total = sum(rows)
    if any(a.ndim == 0 or a.shape[0] != total for a in outputs.values()):
        return None
    bounds = np.cumsum([0, *rows])
    return [
        {name: a[start:stop] for name, a in outputs.items()}
        for start, stop in itertools.pairwise(bounds)
    ]
