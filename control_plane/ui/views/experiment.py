"""The model page's Experiment panel and canary timeline, as plain rows: pure formatting of
the experiments and canary services' read models, and the canary dialog's input parsing."""

from __future__ import annotations

import dataclasses

from control_plane.errors import InvalidRequest
from control_plane.schemas import AuditEventPublic
from control_plane.services.canaries import CanaryPublic
from control_plane.services.experiments import Estimate, ExperimentPublic
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
class CanaryView:
    """The canary in progress (or the last one), for its card."""

    active: bool
    paused: bool
    text: str
    status: str
    steps: str
    reason: str
    baseline: str = ""


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
    )


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
