"""State of the overview: a page of models, their health and their recent traffic."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from control_plane.composition import Platform
from control_plane.domain.convergence import rollout
from control_plane.domain.health import judge
from control_plane.schemas import ModelMetrics
from control_plane.services import catalog
from control_plane.ui import calls, metrics_feed
from control_plane.ui.session_state import SessionState
from control_plane.ui.views.catalog import Figures, OverviewRow, figures, overview_row

logger = logging.getLogger(__name__)

REFRESH_S = 2.0
"""How often an open overview re-reads the catalog, the replicas and the metrics."""
PAGE_SIZE = 20
SUMMARY_WINDOW_S = 300
SPARK_STEP_S = 10


@dataclass(frozen=True)
class Overview:
    rows: list[OverviewRow]
    total: int
    metrics_note: str
    data_ms: float


def read_overview(ctx: Platform, token: str, offset: int, query: str, now: datetime) -> Overview:
    """Everything the overview shows, read through the services as the signed-in user."""
    started = time.perf_counter()
    page = calls.run_as(
        ctx,
        token,
        lambda s, _p: catalog.catalog_page(s, offset=offset, limit=PAGE_SIZE, name_contains=query),
    )
    data_ms = (time.perf_counter() - started) * 1000
    reports = ctx.replicas.all()
    note = ""
    try:
        summaries = metrics_feed.summaries(ctx, SUMMARY_WINDOW_S, now)
    except metrics_feed.MetricsUnavailable as e:
        summaries, note = {}, str(e)
    rows = []
    for card in page.models:
        summary = summaries.get(card.name, [])
        series: ModelMetrics | None = None
        if card.deployed and not note:
            try:
                series = metrics_feed.model_metrics(
                    ctx, card.name, SUMMARY_WINDOW_S, SPARK_STEP_S, now
                )
            except metrics_feed.MetricsUnavailable as e:
                note = str(e)
        figs = figures(summary, series) if summary or series else Figures()
        requests = sum(s.requests for s in summary)
        error_rate = sum(s.errors for s in summary) / requests if requests else None
        state = (
            rollout(card.name, card.revision, reports, now, ctx.stale_after)
            if card.deployed
            else None
        )
        rows.append(overview_row(card, judge(bool(card.deployed), state, error_rate), figs))
    return Overview(rows=rows, total=page.total, metrics_note=note, data_ms=data_ms)


class IndexState(SessionState):
    rows: list[OverviewRow] = []
    total: int = 0
    page: int = 0
    query: str = ""
    loaded: bool = False
    error: str = ""
    metrics_note: str = ""
    refreshed_at: str = ""
    data_ms: str = ""
    # Bumped by each page load so that a poller left from an earlier load stops.
    _generation: int = 0

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def page_label(self) -> str:
        noun = "model" if self.total == 1 else "models"
        return f"Page {self.page + 1} of {self.pages} · {self.total} {noun}"

    def _reading(self) -> Callable[[Platform, str], Overview]:
        """One read of the overview, for the page and filter it shows now."""
        offset, query = self.page * PAGE_SIZE, self.query
        return lambda ctx, token: read_overview(ctx, token, offset, query, datetime.now(UTC))

    def _take(self, data: Overview | calls.Failure) -> Any:
        """Show a read, or its failure above the table (the sign-in page when signed out)."""
        if isinstance(data, calls.Failure):
            if data.redirect is None:
                self.error = data.message
            return data.redirect
        self._show(data)
        return None

    def _show(self, data: Overview) -> None:
        self.rows = data.rows
        self.total = data.total
        self.metrics_note = data.metrics_note
        self.data_ms = f"{data.data_ms:.0f} ms"
        self.loaded = True
        self.error = ""
        self.refreshed_at = datetime.now(UTC).strftime("%H:%M:%S UTC")

    @rx.event(background=True)
    async def poll(self) -> Any:
        """Re-read every REFRESH_S while this page load is the latest one.

        Reflex cancels an on_load chain when its client disconnects or navigates away,
        which stops this loop; the generation check is the second guard.
        """
        async with self:
            self._generation += 1
            generation = self._generation
            principal = await self._principal()
            to_sign_in = self._to_sign_in() if principal is None else None
        if to_sign_in is not None:
            yield to_sign_in
            return
        while True:
            async with self:
                if self._generation != generation:
                    return
                caller, read = self._caller(), self._reading()
            data = await caller.run(read, "reading the catalog")
            async with self:
                if self._generation != generation:
                    return
                redirect = self._take(data)
            if redirect is not None:
                yield redirect
                return
            await asyncio.sleep(REFRESH_S)

    async def _refresh_now(self) -> Any:
        return self._take(await self._caller().run(self._reading(), "reading the catalog"))

    @rx.event
    async def search(self, query: str) -> Any:
        self.query = query.strip().lower()
        self.page = 0
        return await self._refresh_now()

    @rx.event
    async def next_page(self) -> Any:
        if self.page + 1 < self.pages:
            self.page += 1
        return await self._refresh_now()

    @rx.event
    async def previous_page(self) -> Any:
        self.page = max(0, self.page - 1)
        return await self._refresh_now()
