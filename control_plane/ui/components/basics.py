"""The smallest pieces of every page: a centred row, a grey line of text, a callout of a
message when there is one, and the prop sets that recur (applied as `**NAME`)."""

from __future__ import annotations

from typing import Any

import reflex as rx

SCREEN: dict[str, Any] = {"min_height": "100vh", "background": rx.color("gray", 2)}
"""A whole-window page on the light grey backdrop."""
ERROR: dict[str, Any] = {"icon": "triangle_alert", "color_scheme": "red"}
"""A callout that says what went wrong."""
NOTE: dict[str, Any] = {"icon": "info", "color_scheme": "gray", "size": "1"}
"""A small grey callout that says why something is missing (e.g. no metrics)."""


def framed(line: str, radius: str) -> dict[str, Any]:
    """A near-white box with a thin grey border: `line` is "solid" or "dashed"."""
    return {
        "border": f"1px {line} {rx.color('gray', 6)}",
        "border_radius": radius,
        "background": rx.color("gray", 1),
    }


def row(*children: rx.Component, spacing: str = "2", **props: Any) -> rx.Component:
    """Children side by side, centred on one line."""
    return rx.hstack(*children, align="center", spacing=spacing, **props)


def muted(*parts: Any, size: str = "2", **props: Any) -> rx.Component:
    """A grey line of text: a caption, a count, a hint."""
    return rx.text(*parts, size=size, color_scheme="gray", **props)


def callout_if(
    message: Any, *, otherwise: rx.Component | None = None, **props: Any
) -> rx.Component:
    """A callout of `message` while it is not empty (else `otherwise`, or nothing)."""
    if otherwise is None:
        return rx.cond(message, rx.callout(message, **props))
    return rx.cond(message, rx.callout(message, **props), otherwise)


def if_any(items: Any, shown: rx.Component, otherwise: rx.Component | None = None) -> rx.Component:
    """`shown` while the list Var `items` holds something, else `otherwise` (or nothing)."""
    if otherwise is None:
        return rx.cond(items.length() > 0, shown)
    return rx.cond(items.length() > 0, shown, otherwise)


def rich_callout(
    icon: rx.Component, *lines: rx.Component, spacing: str, **props: Any
) -> rx.Component:
    """A full-width callout with its own icon and several lines: a result, a secret, progress."""
    return rx.callout.root(
        rx.callout.icon(icon), rx.vstack(*lines, spacing=spacing), **props, width="100%"
    )


def with_error(field: rx.Component, message: Any, element_id: str) -> rx.Component:
    """A form field with what is wrong with it, in small red text right under it."""
    problem = rx.text(message, size="1", color_scheme="red", id=element_id, max_width="260px")
    return rx.vstack(field, rx.cond(message, problem), spacing="1", align="start")
