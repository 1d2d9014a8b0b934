"""Pure routing decisions: which version of a model serves one request.

With a key, weighted rendezvous hashing: a key sticks to its version, and when
weights change only the keys that must move do (those leaving a version that
lost weight, for a version that gained). Without a key, a weighted draw from
the random source the caller passes in.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping

_SCALE = float(2**64)


def _unit_hash(key: str, version: str) -> float:
    """A uniform number in (0, 1) for the pair, stable across processes."""
    digest = hashlib.blake2b(f"{key}\x00{version}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / _SCALE


def weighted(weights: Mapping[str, int]) -> list[tuple[str, int]]:
    """Versions that receive traffic, in a deterministic order."""
    return sorted((v, w) for v, w in weights.items() if w > 0)


def pick_by_key(weights: Mapping[str, int], key: str) -> str | None:
    """Weighted rendezvous hashing: the version with the highest -w / ln(u) score."""
    best: tuple[float, str] | None = None
    for version, weight in weighted(weights):
        score = -weight / math.log(_unit_hash(key, version))
        if best is None or score > best[0]:
            best = (score, version)
    return None if best is None else best[1]


def pick_random(weights: Mapping[str, int], rng: random.Random) -> str | None:
    """A weighted draw: each version with probability weight / total."""
    candidates = weighted(weights)
    total = sum(w for _, w in candidates)
    if total == 0:
        return None
    point = rng.random() * total
    for version, weight in candidates:
        point -= weight
        if point < 0:
            return version
    return candidates[-1][0]


def pick_version(weights: Mapping[str, int], key: str | None, rng: random.Random) -> str | None:
    """The version for one request, or None when no version receives traffic."""
    if key:
        return pick_by_key(weights, key)
    return pick_random(weights, rng)
