"""A table with one header row and a row per item, as every list on the pages shows it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import reflex as rx


def table(
    headers: Sequence[str], rows: Any, row: Callable[[Any], rx.Component], **props: Any
) -> rx.Component:
    """`row` renders each of the `rows` Var; small and full width unless `props` say otherwise."""
    return rx.table.root(
        rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in headers))),
        rx.table.body(rx.foreach(rows, row)),
        **{"size": "1", "width": "100%", **props},
    )


def wide_table(
    headers: Sequence[str], rows: Any, row: Callable[[Any], rx.Component], **props: Any
) -> rx.Component:
    """A table too wide for its card: it scrolls sideways inside a full-width box."""
    return rx.box(table(headers, rows, row, **props), overflow_x="auto", width="100%")
