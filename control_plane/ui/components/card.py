"""The frame of every panel: a full-width card with a heading, a grey line beside it, then
the content. One place, so the panels look alike."""

from __future__ import annotations

from typing import Any

import reflex as rx


def card(
    title: str,
    subtitle: str | tuple[Any, ...],
    *children: rx.Component,
    aside: rx.Component | None = None,
    **props: object,
) -> rx.Component:
    """`subtitle` is a text, or the parts of one (texts and Vars), "" for none; `aside` goes
    at the right of the heading (e.g. a control); `props` go to the card (`id`, `on_mount`)."""
    heading: list[rx.Component] = [rx.heading(title, size="4")]
    if subtitle:
        parts = subtitle if isinstance(subtitle, tuple) else (subtitle,)
        heading.append(rx.text(*parts, size="2", color_scheme="gray"))
    if aside is not None:
        top = rx.hstack(*heading, rx.spacer(), aside, width="100%", align="center")
    elif len(heading) > 1:
        top = rx.hstack(*heading, align="baseline", spacing="3")
    else:
        top = heading[0]
    return rx.card(
        rx.vstack(top, *children, width="100%"),
        width="100%",
        **props,
    )
