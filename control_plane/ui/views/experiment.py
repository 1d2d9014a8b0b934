"""The model page's Experiment panel and canary timeline, as plain rows: pure formatting of
the experiments and canary services' read models, and the canary dialog's input parsing."""

from __future__ import annotations

import dataclasses

from pydantic import ValidationError

from control_plane.errors import InvalidRequest
from control_plane.schemas import (
    AuditEventPublic,
    EffectPublic,
    Estimate,
    ExperimentPublic,
    ThresholdSettings,
    sentences,
)
from control_plane.services.canaries import CanaryPublic, GateSettings
from control_plane.ui.views.catalog import NONE
from control_plane.ui.views.colors import version_color

CANARY_ACTIONS_PREFIX = "canary."
RUNNING = ("running", "paused")


@dataclasses.dataclass(frozen=True)
class ExperimentRow:
    """One live version's figures."""

    version: str
    color: str
    role: str
    weight: str
    accuracy: str
    labelled: str
    error_rate: str
    requests: str
    p50: str
    p99: str


@dataclasses.dataclass(frozen=True)
class VerdictRow:
    """One challenger against the baseline: the sentence, then the numbers behind it."""

    challenger: str
    challenger_color: str
    baseline: str
    baseline_color: str
    verdict: str
    decided: bool
    accuracy_diff: str
    error_diff: str
    p99_ratio: str
    sample: str


@dataclasses.dataclass(frozen=True)
class EffectRow:
    """One measure of one challenger against the baseline, as the verdict weighed it."""

    challenger: str
    color: str
    measure: str
    figures: str
    difference: str
    threshold: str
    reading: str


@dataclasses.dataclass(frozen=True)
class ExperimentNotes:
    """What the figures cover, what counts as a difference, and whether labels are missing."""

    window: str = ""
    thresholds: str = ""
    labels_missing: bool = False


NO_NOTES = ExperimentNotes()


@dataclasses.dataclass(frozen=True)
class CanaryView:
    """The canary in progress (or the last one), for its card."""

    active: bool
    paused: bool
    text: str
    status: str
    steps: str
    reason: str
    baseline: str = ""
    ended: str = ""  # how a finished canary ended: when, by whom, why
    verdict: str = ""
    gates: str = ""  # one gate a line


@dataclasses.dataclass(frozen=True)
class TimelineRow:
    at: str
    action: str
    actor: str
    text: str


NO_CANARY = CanaryView(active=False, paused=False, text="", status="", steps="", reason="")


def _pct(x: float | None, digits: int = 1) -> str:
    return NONE if x is None else f"{100 * x:.{digits}f} %"


def _estimate(e: Estimate) -> str:
    if e.value is None:
        return NONE
    return f"{_pct(e.value)} [{_pct(e.low)}, {_pct(e.high)}]"


def _ms(x: float | None) -> str:
    return NONE if x is None else f"{x:.1f} ms"


def _points(diff: float, low: float, high: float, p: float) -> str:
    return f"{100 * diff:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}], p = {p:.3g}"


READINGS = {
    "better": "better: significant and beyond the threshold",
    "worse": "worse: significant and beyond the threshold",
    "negligible": "no meaningful difference",
    "unclear": "not enough data: the interval still crosses the threshold",
}


def _effect_figures(e: EffectPublic) -> tuple[str, str, str]:
    if e.unit == "ms":
        d = 2 if max(e.baseline, e.challenger) < 10 else 1
        values = f"p50 {e.challenger:.{d}f} vs {e.baseline:.{d}f} ms"
        unit = "ms"
    else:
        d = 1 if e.measure == "accuracy" else 2
        values = f"{e.challenger:.{d}f} % vs {e.baseline:.{d}f} %"
        unit = "points"
    diff = (
        f"{_signed(e.diff, d)} {unit} [{_signed(e.low, d)}, {_signed(e.high, d)}], "
        f"p = {e.p_value:.2g}"
    )
    return values, diff, f"±{e.threshold:.3g} {_plural(unit, e.threshold)}"


def _signed(x: float, digits: int) -> str:
    """With its sign, and no "-0.00" for what rounds to nothing."""
    return f"{round(x, digits) + 0.0:+.{digits}f}"


def _plural(unit: str, x: float) -> str:
    return "point" if unit == "points" and x == 1 else unit


def effect_rows(e: ExperimentPublic | None, seqs: dict[str, int]) -> list[EffectRow]:
    """Every challenger's effects, in the verdicts' order."""
    if e is None:
        return []
    rows = []
    for c in e.comparisons:
        for effect in c.effects:
            values, diff, threshold = _effect_figures(effect)
            rows.append(
                EffectRow(
                    challenger=c.challenger,
                    color=version_color(seqs.get(c.challenger, 0)),
                    measure=effect.measure,
                    figures=values,
                    difference=diff,
                    threshold=threshold,
                    reading=READINGS.get(effect.reading, effect.reading),
                )
            )
    return rows


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60} s" if s < 600 else f"{s // 60} min"
    return f"{s / 3600:.1f} h"


def threshold_text(t: ThresholdSettings) -> str:
    return (
        f"latency beyond {t.latency_pct:g} % and {t.latency_ms:g} ms of the baseline's median, "
        f"accuracy beyond {t.accuracy_points:g} {_plural('points', t.accuracy_points)}, "
        f"error rate beyond {t.error_points:g} {_plural('points', t.error_points)}"
    )


def experiment_notes(e: ExperimentPublic | None) -> ExperimentNotes:
    if e is None:
        return NO_NOTES
    split_at = e.split_since.strftime("%Y-%m-%d %H:%M:%S")
    if e.since_split:
        window = (
            f"Traffic since the current split took effect at {split_at} UTC (revision "
            f"{e.split_revision}): the last {_duration(e.window_s)}."
        )
    else:
        window = (
            f"Traffic of the last {_duration(e.window_s)} (the chart's range); the current "
            f"split has held since {split_at} UTC (revision {e.split_revision})."
        )
    return ExperimentNotes(
        window=window,
        thresholds=f"A difference is declared when significant (p < 0.05) and beyond the "
        f"model's thresholds: {threshold_text(e.thresholds)}.",
        labels_missing=any(c.labels_missing for c in e.comparisons),
    )


def experiment_rows(e: ExperimentPublic | None, seqs: dict[str, int]) -> list[ExperimentRow]:
    if e is None:
        return []
    return [
        ExperimentRow(
            version=v.version,
            color=version_color(seqs.get(v.version, 0)),
            role=v.role,
            weight=f"{v.weight}%",
            accuracy=_estimate(v.accuracy),
            labelled=f"{v.labelled:,}",
            error_rate=_estimate(v.error_rate),
            requests=f"{v.requests:,}",
            p50=_ms(v.p50_ms),
            p99=_ms(v.p99_ms),
        )
        for v in e.versions
    ]


def verdict_rows(e: ExperimentPublic | None, seqs: dict[str, int]) -> list[VerdictRow]:
    if e is None:
        return []
    rows = []
    for c in e.comparisons:
        acc, err = c.accuracy, c.error_rate
        needed = f"{c.needed:,}" if c.needed is not None else NONE
        rows.append(
            VerdictRow(
                challenger=c.challenger,
                challenger_color=version_color(seqs.get(c.challenger, 0)),
                baseline=c.baseline,
                baseline_color=version_color(seqs.get(c.baseline, 0)),
                verdict=c.verdict,
                decided=c.decided,
                accuracy_diff=_points(acc.diff, acc.low, acc.high, acc.p_value) if acc else NONE,
                error_diff=_points(err.diff, err.low, err.high, err.p_value) if err else NONE,
                p99_ratio=f"x{c.p99_ratio:.2f}" if c.p99_ratio is not None else NONE,
                sample=f"{c.labelled:,} of {needed} labelled" + (" (reached)" if c.reached else ""),
            )
        )
    return rows


def canary_view(latest: CanaryPublic | None) -> CanaryView:
    if latest is None:
        return NO_CANARY
    steps = " → ".join(
        f"[{w}%]" if i == latest.step else f"{w}%" for i, w in enumerate(latest.steps)
    )
    return CanaryView(
        active=latest.status in RUNNING,
        paused=latest.status == "paused",
        text=f"{latest.canary} vs {latest.baseline}: {latest.status} at {latest.weight} %",
        status=latest.status,
        steps=f"steps {steps}, every {latest.interval_s:g} s",
        reason=latest.last_reason,
        baseline=latest.baseline,
        **_ending(latest),
    )


def _ending(c: CanaryPublic) -> dict[str, str]:
    if c.summary is None:
        return {}
    s = c.summary
    return {
        "ended": f"{c.canary} vs {c.baseline}: {s.outcome} at {s.weight} % by {s.by}, "
        f"{s.at.strftime('%Y-%m-%d %H:%M:%S')} UTC · {s.reason}",
        "verdict": s.verdict,
        "gates": "\n".join(f"{g.gate}: {g.outcome} ({g.detail})" for g in s.gates),
    }


def _event_text(e: AuditEventPublic) -> str:
    weights = (e.after or {}).get("weights")
    parts = []
    if isinstance(weights, dict) and weights:
        parts.append(", ".join(f"{v} → {w}%" for v, w in weights.items()))
    gates = (e.after or {}).get("gates")
    if isinstance(gates, list):
        parts.append(
            "; ".join(
                f"{g.get('gate')}: {g.get('outcome')} ({g.get('detail')})"
                for g in gates
                if isinstance(g, dict)
            )
        )
    verdict = (e.after or {}).get("verdict")
    if isinstance(verdict, str):
        parts.append(f"verdict: {verdict}")
    if e.reason:
        parts.append(e.reason)
    return " · ".join(parts) or e.target


def timeline_rows(events: list[AuditEventPublic]) -> list[TimelineRow]:
    """The canary.* entries of the audit log, newest first."""
    return [
        TimelineRow(
            at=e.at.strftime("%Y-%m-%d %H:%M:%S"),
            action=e.action.removeprefix(CANARY_ACTIONS_PREFIX),
            actor=e.actor,
            text=_event_text(e),
        )
        for e in events
        if e.action.startswith(CANARY_ACTIONS_PREFIX)
    ]


def parse_steps(text: str) -> list[int]:
    """'5, 25, 50, 100' -> [5, 25, 50, 100], or InvalidRequest saying what is expected."""
    try:
        steps = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as e:
        raise InvalidRequest(
            "steps: expected whole percents separated by commas, e.g. 5,25,50,100"
        ) from e
    if not steps or any(not 1 <= s <= 100 for s in steps) or steps != sorted(set(steps)):
        raise InvalidRequest(
            "steps: expected increasing whole percents from 1 to 100, e.g. 5,25,50,100"
        )
    return steps


def parse_interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError as e:
        raise InvalidRequest("interval: expected seconds between steps, e.g. 60") from e
    if not 1 <= seconds <= 86_400:
        raise InvalidRequest("interval: expected from 1 to 86400 seconds")
    return seconds


@dataclasses.dataclass(frozen=True)
class GateInput:
    """One gate threshold in the canary dialog, in the unit a person thinks in."""

    field: str
    label: str
    unit: str
    scale: float = 1.0  # dialog value x scale = GateSettings value

    def default(self) -> str:
        value = GateSettings.model_fields[self.field].default / self.scale
        return f"{value:g}"


GATE_INPUTS = (
    GateInput("min_requests", "Requests a step needs before it passes or fails", "requests"),
    GateInput("max_error_rate_increase", "Error rate may rise by at most", "points", 0.01),
    GateInput("max_p99_ratio", "Latency fails beyond this ratio to the baseline", "x"),
    GateInput("max_p99_increase_ms", "and beyond this many milliseconds more", "ms"),
    GateInput("min_p99_requests", "Requests each side needs before p99s are compared", "requests"),
    GateInput("min_labelled", "Labels each side needs before accuracy is judged", "labels"),
    GateInput("accuracy_alpha", "Accuracy fails when worse at significance", "p <"),
)


def default_gates() -> dict[str, str]:
    return {g.field: g.default() for g in GATE_INPUTS}


def parse_gates(values: dict[str, str]) -> GateSettings:
    """The dialog's gate fields as GateSettings, or InvalidRequest naming the field."""
    raw: dict[str, float | int] = {}
    for g in GATE_INPUTS:
        text = values.get(g.field, "").strip() or g.default()
        try:
            number = float(text) * g.scale
        except ValueError as e:
            raise InvalidRequest(f"{g.label.lower()}: expected a number, got {text!r}") from e
        integral = isinstance(GateSettings.model_fields[g.field].default, int)
        raw[g.field] = round(number) if integral else number
    try:
        return GateSettings.model_validate(raw)
    except ValidationError as e:
        raise InvalidRequest(sentences(e)) from e
