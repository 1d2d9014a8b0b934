"""Traffic-split arithmetic shared by every client: splits built from what a user asks for
("canary v2 at 10 %") and a change described before it is applied."""

from __future__ import annotations

from dataclasses import dataclass

from control_plane.errors import InvalidRequest


def _ordered(weights: dict[str, int]) -> list[str]:
    """Heaviest first, then by label: the order in which shares are given or taken."""
    return sorted(weights, key=lambda label: (-weights[label], label))


def scale(weights: dict[str, int], total: int) -> dict[str, int]:
    """Scale positive weights to sum to `total`, keeping their proportions (largest remainder)."""
    positive = {label: w for label, w in weights.items() if w > 0}
    if total < 0:
        raise InvalidRequest(f"a total share must be 0-100 %, got {total}")
    if not positive:
        raise InvalidRequest("no version currently receives traffic")
    base = sum(positive.values())
    exact = {label: w * total / base for label, w in positive.items()}
    out = {label: int(x) for label, x in exact.items()}
    short = total - sum(out.values())
    by_remainder = sorted(exact, key=lambda label: (-(exact[label] - out[label]), label))
    for label in by_remainder[:short]:
        out[label] += 1
    return out


def promote(version: str) -> dict[str, int]:
    """All traffic to `version`."""
    return {version: 100}


def set_share(weights: dict[str, int], version: str, percent: int) -> dict[str, int]:
    """Give `version` `percent` (clamped to 0-100); the others absorb the difference.

    Shares are taken from, or given to, the other versions heaviest first, so the total
    stays 100 whenever it was 100 and another version can absorb the change.
    """
    percent = max(0, min(100, percent))
    out = dict(weights)
    out.setdefault(version, 0)
    others = _ordered({label: w for label, w in out.items() if label != version})
    if not others:
        return {version: 100}
    delta = percent - out[version]
    out[version] = percent
    if delta > 0:
        for label in others:
            take = min(out[label], delta)
            out[label] -= take
            delta -= take
            if delta == 0:
                break
    elif delta < 0:
        out[others[0]] += -delta
    return out


def remove(weights: dict[str, int], version: str) -> dict[str, int]:
    """Drop `version` from a split; its share goes to the heaviest remaining version."""
    out = {label: w for label, w in weights.items() if label != version}
    if not out:
        raise InvalidRequest("a split needs at least one version")
    freed = weights.get(version, 0)
    if freed:
        out[_ordered(out)[0]] += freed
    return out


@dataclass(frozen=True)
class ShareChange:
    version: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before


def diff(before: dict[str, int], after: dict[str, int]) -> list[ShareChange]:
    """Every version in either split, with its share before and after, heaviest after first."""
    labels = set(before) | set(after)
    changes = [ShareChange(v, before.get(v, 0), after.get(v, 0)) for v in labels]
    changes = [c for c in changes if c.before or c.after]
    return sorted(changes, key=lambda c: (-c.after, -c.before, c.version))


def problem(weights: dict[str, int]) -> str:
    """What is wrong with a split a user is editing, in words; empty when it can be applied."""
    if not any(w > 0 for w in weights.values()):
        return "Give at least one version some traffic."
    bad = [label for label, w in weights.items() if not 0 <= w <= 100]
    if bad:
        return f"Each share is 0-100 %; check {', '.join(sorted(bad))}."
    total = sum(weights.values())
    if total != 100:
        return f"The shares add up to {total} %; they must add up to 100 %."
    return ""


# Changes that undo the one before them, and steps that continue the change in progress.
UNDOING = frozenset({"rollback", "canary.rollback", "canary.abort"})
CONTINUING = frozenset({"canary.step", "canary.promote"})


def undo_history(changes: list[tuple[dict[str, int], str | None]]) -> list[dict[str, int]]:
    """The splits a rollback walks back through, oldest first, from (weights, action) in
    order: a change pushes its split, a canary's later steps replace its own, and a rollback
    (a person's, or a failed or aborted canary's) pops the change it undid."""
    stack: list[dict[str, int]] = []
    for weights, action in changes:
        if action in UNDOING and len(stack) > 1:
            stack.pop()
            stack[-1] = weights
        elif action in CONTINUING and stack:
            stack[-1] = weights
        elif not stack or stack[-1] != weights:
            stack.append(weights)
    return stack


def rollback_target(changes: list[tuple[dict[str, int], str | None]]) -> dict[str, int] | None:
    """The split before the last change still in force; None when nothing is left to undo."""
    stack = undo_history(changes)
    return stack[-2] if len(stack) > 1 else None
