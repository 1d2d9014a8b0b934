"""The line under a paged list: where it stands at the left, the page turns at the right."""

from __future__ import annotations

from typing import Any

import reflex as rx


def page_button(*children: rx.Component | str, **props: Any) -> rx.Component:
    """A soft, small button that turns the page (`disabled` and `on_click` in `props`)."""
    return rx.button(*children, variant="soft", size="1", **props)


def pager(
    label: rx.Component, back: rx.Component, forward: rx.Component, **props: Any
) -> rx.Component:
    """`label` at the left, then the buttons to the page before and to the page after."""
    return rx.hstack(label, rx.spacer(), back, forward, width="100%", **props)
