"""An experiment's verdict in words: the meaningful differences first, each with its
interval; "no meaningful difference" only when every interval says so."""

from __future__ import annotations

from dataclasses import dataclass

from control_plane.domain import stats
from control_plane.domain.analysis import VersionStats
from control_plane.domain.effects import Effect, Thresholds, effects


@dataclass(frozen=True)
class Judgement:
    decided: bool
    text: str
    effects: list[Effect]
    labels_missing: bool


def _digits(e: Effect) -> int:
    if e.unit == "ms":
        return 2 if max(abs(e.base), abs(e.challenger)) < 10 else 1
    return 1 if e.measure == "accuracy" else 2


def _signed(x: float, digits: int) -> str:
    return f"{round(x, digits) + 0.0:+.{digits}f}"  # no "-0.00" for what rounds to nothing


def _unit(e: Effect, x: float | None = None) -> str:
    if e.unit == "ms":
        return "ms"
    return "point" if x is not None and x == 1 else "points"


def _interval(e: Effect, sign: int = 1) -> str:
    d = _digits(e)
    low, high = sorted((sign * e.low, sign * e.high))
    return f"{_signed(sign * e.diff, d)} {_unit(e)} [{_signed(low, d)}, {_signed(high, d)}]"


def _values(e: Effect, first: float, second: float) -> str:
    if e.measure == "latency":
        d = _digits(e)
        return f"p50 {first:.{d}f} vs {second:.{d}f} ms"
    d = 2 if e.measure == "error rate" else 1
    return f"{first:.{d}f} % vs {second:.{d}f} %"


def _evidence(e: Effect) -> str:
    return f"p = {e.p_value:.2g}, n = {e.n:,}"


def _difference(e: Effect, base: str, challenger: str) -> str:
    """The sentence for a meaningful difference, its subject the version it favours or blames."""
    subject_is_challenger = e.reading == ("worse" if e.measure != "accuracy" else "better")
    subject, other = (challenger, base) if subject_is_challenger else (base, challenger)
    sign = 1 if subject_is_challenger else -1
    first, second = (e.challenger, e.base) if subject_is_challenger else (e.base, e.challenger)
    verb = {"latency": "is slower than", "accuracy": "is more accurate than"}
    said = verb.get(e.measure, "fails more often than")
    extra = (
        f", {100 * (first - second) / second:+.0f} %" if e.measure == "latency" and second else ""
    )
    return (
        f"{subject} {said} {other}: {_values(e, first, second)}, "
        f"{_interval(e, sign)}{extra} ({_evidence(e)})"
    )


def _bounded(e: Effect) -> str:
    """A difference within or around its threshold, with the figures behind it."""
    return (
        f"{e.measure} {_values(e, e.challenger, e.base)}, {_interval(e)} "
        f"(threshold ±{e.threshold:.3g} {_unit(e, e.threshold)})"
    )


def _needed(base: VersionStats, e: Effect, alpha: float) -> str:
    if e.measure != "accuracy":
        return ""
    p = min(max(e.base / 100, 0.01), 0.99)
    n = 2 * stats.sample_size_two_proportions(p, min(e.threshold / 100, 0.99), alpha, 0.8)
    return f" (about {n:,} labelled predictions needed, {e.n:,} so far)"


def judge(
    base: VersionStats, challenger: VersionStats, t: Thresholds, *, alpha: float = 0.05
) -> Judgement:
    """The verdict on `challenger` against `base` over the traffic both served."""
    found = effects(base, challenger, t, alpha)
    missing = not (base.labelled and challenger.labelled)
    tail = "; accuracy not compared: no labelled predictions yet" if missing else ""
    names = f"{challenger.version} and {base.version}"
    if not found:
        return Judgement(
            False, f"not enough data yet: no traffic measured for {names}", [], missing
        )
    meaningful = [e for e in found if e.reading in ("better", "worse")]
    if meaningful:
        said = "; ".join(_difference(e, base.version, challenger.version) for e in meaningful)
        return Judgement(True, said + tail, found, missing)
    unclear = [e for e in found if e.reading == "unclear"]
    if not unclear:
        said = "; ".join(_bounded(e) for e in found)
        return Judgement(
            True, f"no meaningful difference between {names}: {said}{tail}", found, missing
        )
    said = "; ".join(
        f"{_bounded(e)} could still be larger{_needed(base, e, alpha)}" for e in unclear
    )
    return Judgement(
        False, f"not enough data yet to tell {names} apart: {said}{tail}", found, missing
    )
