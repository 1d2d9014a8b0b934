"""The declared metrics (pier.yaml `metrics:`) of the versions a change gives traffic to,
against those of the version serving now: a worse figure is said before the change is made."""

from __future__ import annotations

import re

LOWER_WORDS = ("loss", "error", "latency", "perplexity")
"""A metric whose name holds one of these is better when lower."""
LOWER_TOKENS = frozenset({"err", "mae", "mse", "rmse", "mape", "wer", "cer"})
"""...and so is one with one of these as a word of its name (`val_mse`, `test-wer`)."""


def lower_is_better(metric: str) -> bool:
    name = metric.lower()
    words = set(re.split(r"[^a-z0-9]+", name))
    return any(word in name for word in LOWER_WORDS) or bool(words & LOWER_TOKENS)


def serving_version(weights: dict[str, int]) -> str | None:
    """The version with the largest share (by name on a tie), or None when nothing serves."""
    serving = sorted((-w, v) for v, w in weights.items() if w > 0)
    return serving[0][1] if serving else None


def gaining(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """The versions other than the serving one whose share the change makes larger."""
    serving = serving_version(before)
    if serving is None:
        return []
    return sorted(v for v, w in after.items() if w > before.get(v, 0) and v != serving)


def _figures(new: float, now: float) -> tuple[str, str]:
    """Both values, with as many digits as it takes to tell them apart."""
    for digits in range(4, 16):
        a, b = f"{new:.{digits}g}", f"{now:.{digits}g}"
        if a != b:
            return a, b
    return repr(new), repr(now)


def worse(
    candidate: str, declared: dict[str, float], serving: str, serving_declared: dict[str, float]
) -> list[str]:
    """One sentence per metric both versions declare on which `candidate` is worse."""
    lines = []
    for metric in sorted(declared.keys() & serving_declared.keys()):
        new, now = declared[metric], serving_declared[metric]
        lower = lower_is_better(metric)
        if (new > now) if lower else (new < now):
            a, b = _figures(new, now)
            sign = ">" if new > now else "<"
            tail = "; lower is better" if lower else ""
            lines.append(f"{candidate}: {metric} {a} {sign} {b} serving now ({serving}){tail}")
    return lines


def regressions(
    before: dict[str, int], after: dict[str, int], declared: dict[str, dict[str, float]]
) -> list[str]:
    """What a change from split `before` to `after` would make worse, by the metrics in
    `declared` (version -> metrics); empty when nothing serves or nothing is declared."""
    serving = serving_version(before)
    if serving is None:
        return []
    now = declared.get(serving, {})
    lines: list[str] = []
    for version in gaining(before, after):
        lines += worse(version, declared.get(version, {}), serving, now)
    return lines
