"""A version's colour swatch and chip: the same colour everywhere a version appears."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.basics import framed
from control_plane.ui.views.catalog import Chip


def swatch(color: rx.Var[str] | str) -> rx.Component:
    return rx.box(
        width="10px",
        height="10px",
        border_radius="3px",
        background=color,
        flex_shrink="0",
        display="inline-block",
    )


def version_label(label: rx.Var[str] | str, color: rx.Var[str] | str) -> rx.Component:
    return rx.hstack(swatch(color), rx.text(label, weight="medium"), spacing="2", align="center")


def chip(c: ObjectVar[Chip]) -> rx.Component:
    return rx.hstack(
        swatch(c.color),
        rx.text(c.text, size="1"),
        spacing="1",
        align="center",
        padding_x="0.5em",
        padding_y="0.15em",
        **framed("solid", "999px"),
    )


def sparkline(path: rx.Var[str], color: str) -> rx.Component:
    return rx.el.svg(
        rx.el.svg.path(d=path, stroke=color, fill="none", stroke_width="1.5"),
        view_box="0 0 100 24",
        width="100px",
        height="24px",
        preserve_aspect_ratio="none",
    )
