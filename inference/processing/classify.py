"""A classifier's output rows to labelled top-k answers; cheap for thousands of classes
because only the k best of each row are sorted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_k(
    scores: np.ndarray, labels: Sequence[str], k: int, softmax: bool, index: bool = False
) -> list[list[dict[str, object]]]:
    """Each row's k best classes as {"label", "score"} (and "index" if asked), best first, ties
    by lower class index. A class past the end of ``labels`` is named by its index."""
    if k < 1:
        raise ValueError(f"top_k: k must be at least 1, got {k}")
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"top_k: scores must be (rows, classes), got shape {values.shape}")
    if softmax:
        values = _softmax(values)
    k = min(k, values.shape[1])
    if k == 0:
        return [[] for _ in range(values.shape[0])]
    # Ascending keys rank best first; NaN goes after every number.
    keys = -values
    nan = np.isnan(keys)
    if nan.any():
        keys[nan] = np.inf
    best = _best(keys, k)
    picked = np.take_along_axis(values, best, axis=1).tolist()
    named = len(labels)
    return [
        [
            {"label": labels[i] if i < named else str(i), "score": score}
            | ({"index": i} if index else {})
            for i, score in zip(indices, row_scores, strict=True)
        ]
        for indices, row_scores in zip(best.tolist(), picked, strict=True)
    ]


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def _best(keys: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's k smallest keys, ascending by (key, index)."""
    rows, classes = keys.shape
    if k < classes:
        chosen = np.argpartition(keys, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(keys, chosen[:, k - 1 :], axis=1)
        # A row with more keys equal to its k-th may have kept any of them: sort it stably.
        for row in np.flatnonzero(np.count_nonzero(keys <= kth, axis=1) > k):
            chosen[row] = np.argsort(keys[row], kind="stable")[:k]
        chosen.sort(axis=1)
    else:
        chosen = np.broadcast_to(np.arange(classes), (rows, classes))
    order = np.argsort(np.take_along_axis(keys, chosen, axis=1), axis=1, kind="stable")
    return np.take_along_axis(chosen, order, axis=1)
