"""Pure routing decisions: which version of a model serves one request. With a key, the
version of its slot in the control plane's slot table (else weighted rendezvous hashing),
so a key stays on its version; without one, a weighted draw from the caller's rng."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence

_SCALE = float(2**64)


def _unit_hash(key: str, version: str) -> float:
    """A uniform number in (0, 1) for the pair, stable across processes."""
    digest = hashlib.blake2b(f"{key}\x00{version}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / _SCALE


def weighted(weights: Mapping[str, int]) -> list[tuple[str, int]]:
    """Versions that receive traffic, in a deterministic order."""
    return sorted((v, w) for v, w in weights.items() if w > 0)


def slot_of(key: str, slots: int) -> int:
    """The slot of a key among `slots`, stable across processes and releases."""
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=b"pier-slot").digest()
    return int.from_bytes(digest, "big") % slots


def expand(runs: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """A run-length slot table as one version per slot."""
    return tuple(version for version, count in runs for _ in range(count))


def pick_by_slot(table: Sequence[str], key: str) -> str | None:
    return table[slot_of(key, len(table))] if table else None


def pick_by_key(weights: Mapping[str, int], key: str) -> str | None:
    """Weighted rendezvous hashing, for a table without slots: the version with the highest
    -w / ln(u) score. Sticky too, but with three versions or more a weight change can move
    more keys than the slot table would."""
    best: tuple[float, str] | None = None
    for version, weight in weighted(weights):
        score = -weight / math.log(_unit_hash(key, version))
        if best is None or score > best[0]:
            best = (score, version)
    return None if best is None else best[1]


def pick_random(weights: Mapping[str, int], rng: random.Random) -> str | None:
    """A weighted draw: each version with probability weight / total."""
    if len(weights) == 1:  # most models: one version, nothing to draw
        ((version, weight),) = weights.items()
        return version if weight > 0 else None
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


def pick_version(
    weights: Mapping[str, int],
    key: str | None,
    rng: random.Random,
    slots: Sequence[str] = (),
) -> str | None:
    """The version for one request, or None when no version receives traffic."""
    if key:
        return pick_by_slot(slots, key) if slots else pick_by_key(weights, key)
    return pick_random(weights, rng)
