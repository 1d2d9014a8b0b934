"""The slot table behind sticky routing, as pure functions: a weight change moves only the
slots a version must give up, the least any scheme can move (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SLOTS = 1000

Runs = list[tuple[str, int]]


def quotas(weights: Mapping[str, int], slots: int = SLOTS) -> dict[str, int]:
    """Slots per version for weights in percent: proportional, largest remainder, ties by
    label, so the result is a pure function of the weights."""
    positive = {v: w for v, w in weights.items() if w > 0}
    total = sum(positive.values())
    if total <= 0:
        return {}
    exact = {v: w * slots / total for v, w in positive.items()}
    out = {v: int(x) for v, x in exact.items()}
    short = slots - sum(out.values())
    for v in sorted(exact, key=lambda v: (-(exact[v] - out[v]), v))[:short]:
        out[v] += 1
    return out


def fresh(weights: Mapping[str, int], slots: int = SLOTS) -> list[str]:
    """A first table: each version a contiguous run, in label order."""
    out: list[str] = []
    for version, n in sorted(quotas(weights, slots).items()):
        out.extend([version] * n)
    return out


def rebalance(current: Sequence[str] | None, weights: Mapping[str, int]) -> list[str]:
    """The table for `weights`, changed from `current` as little as possible: versions over
    their quota free their highest slots, versions under it take the freed ones, lowest
    first, in label order. Without a usable current table, a fresh one."""
    if not current:
        return fresh(weights)
    slots = len(current)
    target = quotas(weights, slots)
    if not target:
        return []
    out = list(current)
    held: dict[str, list[int]] = {}
    for i, version in enumerate(out):
        held.setdefault(version, []).append(i)
    free: list[int] = []
    for version, indices in held.items():
        excess = len(indices) - target.get(version, 0)
        if excess > 0:
            free.extend(indices[-excess:])
    free.sort()
    for version in sorted(target):
        need = target[version] - len(held.get(version, []))
        for i in free[:need] if need > 0 else []:
            out[i] = version
        if need > 0:
            free = free[need:]
    return out


def moved(before: Sequence[str], after: Sequence[str]) -> int:
    """Slots whose version differs between two tables of the same size."""
    return sum(1 for a, b in zip(before, after, strict=True) if a != b)


def encode(table: Sequence[str]) -> Runs:
    runs: Runs = []
    for version in table:
        if runs and runs[-1][0] == version:
            runs[-1] = (version, runs[-1][1] + 1)
        else:
            runs.append((version, 1))
    return runs


def decode(runs: Sequence[Sequence[Any]] | None) -> list[str]:
    out: list[str] = []
    for version, count in runs or []:
        out.extend([str(version)] * int(count))
    return out
