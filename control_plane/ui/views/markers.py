"""Changes of a model's traffic (deploys, rollbacks, splits, canary steps) as vertical lines
on its charts, each with a hover text saying what changed, who changed it and why. Pure."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime

import plotly.graph_objects as go
from pydantic import BaseModel

from control_plane.schemas import AuditEventPublic

NAMES = {
    "deploy": "Deploy",
    "rollback": "Rollback",
    "deployment.set": "Split change",
    "canary.start": "Canary started",
    "canary.step": "Canary step",
    "canary.promote": "Canary promoted",
    "canary.rollback": "Canary rolled back",
    "canary.abort": "Canary aborted",
}
COLORS = {
    "rollback": "#e5484d",
    "canary.rollback": "#e5484d",
    "canary.abort": "#e5484d",
    "canary.promote": "#30a46c",
}
DEFAULT_COLOR = "#60646c"
REASON_CHARS = 240
LINE_CHARS = 60


class ChangeMarker(BaseModel):
    at: datetime
    action: str
    hover: str
    color: str


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _weights(side: dict[str, object] | None) -> dict[str, int] | None:
    value = (side or {}).get("weights")
    if not isinstance(value, dict):
        return None
    return {str(v): int(w) for v, w in value.items() if isinstance(w, int | float)}


def split_line(weights: dict[str, int]) -> str:
    """`v1 → 80 %, v2 → 20 %`, heaviest first; versions at 0 % left out."""
    serving = sorted(((v, w) for v, w in weights.items() if w > 0), key=lambda vw: (-vw[1], vw[0]))
    return ", ".join(f"{v} → {w} %" for v, w in serving) or "no version"


def _lines(text: str) -> str:
    short = text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"
    return "<br>".join(html.escape(x) for x in textwrap.wrap(short, LINE_CHARS))


def _hover(e: AuditEventPublic, after: dict[str, int]) -> str:
    name = NAMES.get(e.action, e.action)
    when = _utc(e.at).strftime("%H:%M:%S UTC")
    change = split_line(after)
    before = _weights(e.before)
    if before is not None:
        change += f", was {split_line(before)}"
    why = f"by {e.actor}: {e.reason}" if e.reason.strip() else f"by {e.actor}, no reason given"
    return f"<b>{html.escape(name)}</b> · {when}<br>{_lines(change)}<br>{_lines(why)}"


def change_markers(
    events: Sequence[AuditEventPublic], start: datetime, end: datetime
) -> list[ChangeMarker]:
    """The events in [start, end] that set the model's traffic, oldest first."""
    out = []
    for e in sorted(events, key=lambda e: (_utc(e.at), e.id)):
        after = _weights(e.after)
        if after is None or not start <= _utc(e.at) <= end:
            continue
        color = COLORS.get(e.action, DEFAULT_COLOR)
        out.append(
            ChangeMarker(at=_utc(e.at), action=e.action, hover=_hover(e, after), color=color)
        )
    return out


def mark(fig: go.Figure, markers: Sequence[ChangeMarker]) -> go.Figure:
    """A dotted line per change across the plot, and a small triangle above it that shows
    the change's hover text (plotly.js draws no hover label for a shape)."""
    for m in markers:
        fig.add_shape(
            type="line",
            xref="x",
            yref="paper",
            x0=m.at,
            x1=m.at,
            y0=0,
            y1=1,
            line={"color": m.color, "width": 1, "dash": "dot"},
        )
        fig.add_annotation(
            x=m.at,
            xref="x",
            y=1,
            yref="paper",
            yanchor="bottom",
            text="▼",
            showarrow=False,
            font={"color": m.color, "size": 11},
            hovertext=m.hover,
            hoverlabel={"bgcolor": "white", "bordercolor": m.color},
            name=f"change-{m.action}",
        )
    return fig
