"""The model page's "Replicas" chart: the replica count over time as a step line, from the
autoscaler's audit events (each holds the count before and after) and the replicas serving
now (their routing-poll reports), so it needs no table of its own. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
from pydantic import BaseModel
from sqlmodel import Session

from control_plane.schemas import AuditEventPublic, ReplicaReport
from control_plane.services import audit
from control_plane.services.scaling import DECISION

MAX_EVENTS = 500


class ReplicaStep(BaseModel):
    at: datetime
    replicas: int


class ReplicaHistory(BaseModel):
    """The steps inside the window (oldest first), and its bounds."""

    start: datetime
    end: datetime
    steps: tuple[ReplicaStep, ...]
    current: int


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _count(side: dict[str, object] | None) -> int | None:
    value = (side or {}).get("replicas")
    return value if isinstance(value, int) else None


def serving_now(
    model: str, reports: Sequence[ReplicaReport], now: datetime, stale: timedelta
) -> int:
    """Replicas that reported the model loaded within `stale`."""
    return sum(
        1
        for r in reports
        if now - r.last_seen <= stale and any(x.startswith(f"{model}@") for x in r.loaded)
    )


def replica_history(
    events: Sequence[AuditEventPublic], current: int, now: datetime, window_s: int
) -> ReplicaHistory:
    """Pure: scaling events (any order) + the count now -> a step line over the window.

    It starts at the count in force when the window opens (the last change before it, else the
    first change's "before", else `current`) and holds the last change up to now."""
    start = now - timedelta(seconds=window_s)
    changes = sorted(
        (e for e in events if e.action == DECISION and _count(e.after) is not None),
        key=lambda e: (_utc(e.at), e.id),
    )
    before_window = [e for e in changes if _utc(e.at) <= start]
    inside = [e for e in changes if start < _utc(e.at) <= now]
    if before_window:
        first = _count(before_window[-1].after)
    elif inside:
        first = _count(inside[0].before)
    else:
        first = current
    steps = [ReplicaStep(at=start, replicas=first if first is not None else current)]
    for e in inside:
        after = _count(e.after)
        assert after is not None
        steps.append(ReplicaStep(at=_utc(e.at), replicas=after))
    # The line holds the last decided count up to now (a replica late with its report must
    # not draw a dip); without any decision it is the count serving now.
    last = steps[-1].replicas if changes else current
    steps.append(ReplicaStep(at=now, replicas=last))
    return ReplicaHistory(start=start, end=now, steps=tuple(steps), current=current)


def read_history(
    session: Session,
    model: str,
    reports: Sequence[ReplicaReport],
    now: datetime,
    window_s: int,
    stale: timedelta,
) -> ReplicaHistory:
    events = audit.list_events(session, model=model, action=DECISION, limit=MAX_EVENTS)
    return replica_history(events, serving_now(model, reports, now, stale), now, window_s)


def replicas_figure(history: ReplicaHistory | None) -> go.Figure:
    fig = go.Figure()
    if history is not None:
        fig.add_trace(
            go.Scatter(
                x=[s.at for s in history.steps],
                y=[s.replicas for s in history.steps],
                name="replicas",
                mode="lines",
                line={"color": "#3e63dd", "width": 2, "shape": "hv"},
                fill="tozeroy",
                fillcolor="rgba(62,99,221,0.12)",
            )
        )
    top = max((s.replicas for s in history.steps), default=1) if history else 1
    title = f"Replicas ({history.current} serving now)" if history is not None else "Replicas"
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        autosize=True,
        margin={"l": 50, "r": 10, "t": 36, "b": 30},
        showlegend=False,
        uirevision="keep",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        yaxis={"title": {"text": "replicas"}, "range": [0, top + 1], "dtick": 1},
        xaxis={"type": "date", **({"range": [history.start, history.end]} if history else {})},
    )
    return fig
