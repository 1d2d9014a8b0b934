"""Quantiles from cumulative histogram buckets, the way PromQL's histogram_quantile does
them, so the direct source and Prometheus give the same figure for the same counts."""

from __future__ import annotations

import math
from collections.abc import Sequence


def quantile(q: float, bounds: Sequence[float], cumulative: Sequence[float]) -> float | None:
    """The q-quantile of a cumulative histogram (last bound +Inf), None without observations:
    linear within a bucket, 0 below the first, the largest finite bound in the +Inf bucket."""
    if not bounds or len(bounds) != len(cumulative) or not 0 <= q <= 1:
        return None
    total = cumulative[-1]
    if total <= 0:
        return None
    rank = q * total
    for i, (upper, count) in enumerate(zip(bounds, cumulative, strict=True)):
        if count >= rank:
            if math.isinf(upper):
                return bounds[i - 1] if i > 0 else None
            lower = bounds[i - 1] if i > 0 else 0.0
            below = cumulative[i - 1] if i > 0 else 0.0
            in_bucket = count - below
            if in_bucket <= 0:
                return upper
            return lower + (upper - lower) * (rank - below) / in_bucket
    return bounds[-2] if len(bounds) > 1 else None
