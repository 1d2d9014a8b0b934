"""State of the activity page: the audit log, newest first, filtered and paged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import reflex as rx
from sqlmodel import Session

from control_plane.schemas import Principal
from control_plane.services import audit
from control_plane.ui import calls
from control_plane.ui.session_state import SessionState
from control_plane.ui.views.catalog import AuditRow, audit_row

PAGE_SIZE = 50
ALL = "all"
"""The select value meaning "no filter" (a Radix select item cannot have an empty value)."""


@dataclass(frozen=True)
class Filters:
    model: str
    actor: str
    action: str
    before_id: int | None


@dataclass(frozen=True)
class ActivityView:
    rows: list[AuditRow]
    models: list[str]
    actors: list[str]
    actions: list[str]


def read_activity(f: Filters) -> Callable[[Session, Principal], ActivityView]:
    """A page of the audit log with the filters' choices, as one unit of work."""

    def work(session: Session, _p: Principal) -> ActivityView:
        events = audit.list_events(
            session,
            model=None if f.model == ALL else f.model,
            actor=None if f.actor == ALL else f.actor,
            action=None if f.action == ALL else f.action,
            limit=PAGE_SIZE,
            before_id=f.before_id,
        )
        return ActivityView(
            rows=[audit_row(e) for e in events],
            models=[ALL, *audit.filter_choices(session, "model")],
            actors=[ALL, *audit.filter_choices(session, "actor")],
            actions=[ALL, *audit.filter_choices(session, "action")],
        )

    return work


class ActivityState(SessionState):
    rows: list[AuditRow] = []
    models: list[str] = [ALL]
    actors: list[str] = [ALL]
    actions: list[str] = [ALL]
    model_filter: str = ALL
    actor_filter: str = ALL
    action_filter: str = ALL
    # Ids of the newest event of each earlier page, to step back to newer pages.
    cursors: list[int] = []
    loaded: bool = False
    error: str = ""

    @rx.var
    def has_older(self) -> bool:
        return len(self.rows) == PAGE_SIZE

    async def _read(self) -> Any:
        before = self.cursors[-1] if self.cursors else None
        filters = Filters(self.model_filter, self.actor_filter, self.action_filter, before)
        view = await self._caller().call(read_activity(filters), "reading the activity log")
        if isinstance(view, calls.Failure):
            if view.redirect is None:
                self.error = view.message
            return view.redirect
        self.rows, self.models, self.actors, self.actions = (
            view.rows,
            view.models,
            view.actors,
            view.actions,
        )
        self.loaded, self.error = True, ""
        return None

    @rx.event
    async def load(self) -> Any:
        query = self.router.url.query_parameters
        self.model_filter = query.get("model", ALL)
        self.actor_filter = query.get("actor", ALL)
        self.action_filter = query.get("action", ALL)
        self.cursors = []
        return await self._gate() or await self._read()

    @rx.event
    async def filter_model(self, value: str) -> Any:
        self.model_filter, self.cursors = value, []
        return await self._read()

    @rx.event
    async def filter_actor(self, value: str) -> Any:
        self.actor_filter, self.cursors = value, []
        return await self._read()

    @rx.event
    async def filter_action(self, value: str) -> Any:
        self.action_filter, self.cursors = value, []
        return await self._read()

    @rx.event
    async def older(self) -> Any:
        if self.rows:
            self.cursors = [*self.cursors, self.rows[-1].id]
        return await self._read()

    @rx.event
    async def newest(self) -> Any:
        self.cursors = []
        return await self._read()
