"""State of the model overview page: what is registered and what serves traffic."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import reflex as rx
from sqlalchemy.exc import SQLAlchemyError

from control_plane.db import session_scope
from control_plane.services import catalog
from control_plane.settings import PierSettings
from control_plane.ui import context
from control_plane.ui.catalog_view import ModelRow, to_rows

logger = logging.getLogger(__name__)

REFRESH_S = 3.0
"""How often an open page re-reads the catalog."""


def read_catalog(settings: PierSettings) -> list[ModelRow]:
    with session_scope(settings) as session:
        return to_rows(catalog.overview(session))


class IndexState(rx.State):
    models: list[ModelRow] = []
    loaded: bool = False
    error: str = ""
    refreshed_at: str = ""
    # Bumped by each page load so that a poller left from an earlier load stops.
    _generation: int = 0

    @rx.event(background=True)
    async def poll(self) -> None:
        """Re-read the catalog every REFRESH_S while this page load is the latest one.

        Reflex cancels an on_load chain when its client disconnects or reloads,
        which stops this loop; the generation check is the second guard.
        """
        async with self:
            self._generation += 1
            generation = self._generation
        settings = context.settings()
        while True:
            try:
                rows = await asyncio.to_thread(read_catalog, settings)
                error = ""
            except SQLAlchemyError as exc:
                logger.exception("reading the catalog for the dashboard failed")
                rows, error = None, f"The database did not answer: {type(exc).__name__}"
            async with self:
                if self._generation != generation:
                    return
                if rows is not None:
                    self.models = rows
                    self.loaded = True
                self.error = error
                self.refreshed_at = datetime.now(UTC).strftime("%H:%M:%S UTC")
            await asyncio.sleep(REFRESH_S)
