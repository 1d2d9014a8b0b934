"""One model: what serves traffic, and its versions in a table."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.catalog_view import ModelRow, VersionRow

_COLUMNS = ("Version", "Created", "By", "SHA-256", "Format", "Size", "Traffic")


def _version_row(v: ObjectVar[VersionRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(v.version),
        rx.table.cell(v.created_at),
        rx.table.cell(v.created_by),
        rx.table.cell(rx.code(v.short_sha), title=v.sha256),
        rx.table.cell(v.format),
        rx.table.cell(v.size),
        rx.table.cell(v.traffic),
    )


def model_card(model: ObjectVar[ModelRow]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(model.name, size="5"),
                rx.text("deployed: ", model.deployed, color_scheme="gray"),
                align="baseline",
                spacing="4",
            ),
            rx.table.root(
                rx.table.header(rx.table.row(*(rx.table.column_header_cell(c) for c in _COLUMNS))),
                rx.table.body(rx.foreach(model.versions, _version_row)),
                size="1",
                width="100%",
            ),
            width="100%",
        ),
        id=f"model-{model.name}",
        width="100%",
    )
