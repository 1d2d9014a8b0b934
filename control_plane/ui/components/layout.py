"""The frame of every signed-in page: navigation bar, title, and room for the content."""

from __future__ import annotations

from typing import Any

import reflex as rx

from control_plane.ui.components.basics import SCREEN, framed, muted, row
from control_plane.ui.session_state import SessionState

VIEWER_REASON = "Your role is viewer: you can look, not change. An admin can make you a deployer."
"""Why a deployer's button is disabled for a viewer (shown on hover)."""

NAV = (
    ("Overview", "/", "layout-dashboard"),
    ("Upload", "/upload", "upload"),
    ("Activity", "/activity", "history"),
    ("Settings", "/settings", "settings"),
)
COLUMN = {"max_width": "1400px", "margin_x": "auto"}
"""The page's content column, centred; the navigation bar's items line up with it."""


def _model() -> rx.Var[str]:
    """The model whose page is open ("" elsewhere): it gets its own item in the bar."""
    path = SessionState.router.url.path
    return rx.cond(path.startswith("/models/"), path.split("/")[2], "")


def _nav_item(
    element_id: str, label: rx.Var[str] | str, href: rx.Var[str] | str, icon: str, active: Any
) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label, size="2", weight="medium"), spacing="2"),
        href=href,
        id=element_id,
        underline="none",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
        padding_x="0.75em",
        padding_y="0.4em",
        border_radius="6px",
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        # Where the user is, for assistive technology as much as for the eye.
        custom_attrs={"aria-current": rx.cond(active, "page", "false")},
    )


def _nav_link(label: str, href: str, icon: str) -> rx.Component:
    # Prod serves pages with a trailing slash ("/upload/"); a model's page has its own item.
    path = SessionState.router.url.path
    active = (path == "/") if href == "/" else path.startswith(href)
    return _nav_item(f"nav-{label.lower()}", label, href, icon, active)


def _nav_model() -> rx.Component:
    model = _model()
    return rx.cond(model != "", _nav_item("nav-model", model, f"/models/{model}", "box", True))


def _brand() -> rx.Component:
    return rx.link(
        row(rx.icon("anchor", size=22, color=rx.color("accent", 9)), rx.heading("Pier", size="5")),
        href="/",
        underline="none",
        color=rx.color("gray", 12),
    )


def _signed_in() -> rx.Component:
    return rx.cond(
        SessionState.username,
        row(
            rx.icon("circle-user", size=18, color=rx.color("gray", 10)),
            rx.text(SessionState.username, size="2", id="whoami"),
            rx.badge(SessionState.role, variant="soft", id="role"),
            rx.button(
                rx.icon("log-out", size=14),
                "Sign out",
                variant="ghost",
                size="1",
                on_click=SessionState.sign_out,
                id="sign-out",
            ),
            spacing="3",
        ),
    )


def navbar() -> rx.Component:
    return rx.box(
        row(
            _brand(),
            rx.hstack(
                _nav_link(*NAV[0]), _nav_model(), *(_nav_link(*i) for i in NAV[1:]), spacing="1"
            ),
            rx.spacer(),
            _signed_in(),
            spacing="6",
            width="100%",
            **COLUMN,
            padding_x="1.5em",
        ),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        padding_y="0.6em",
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
    )


def page(title: rx.Component | str, *children: rx.Component, subtitle: str = "") -> rx.Component:
    heading = rx.heading(title, size="6", id="page-title") if isinstance(title, str) else title
    content = rx.vstack(
        heading, rx.cond(subtitle != "", muted(subtitle)), *children, spacing="4", width="100%"
    )
    return rx.box(navbar(), rx.box(content, **COLUMN, padding="1.5em", width="100%"), **SCREEN)


def guarded_button(
    *children: rx.Component | str,
    allowed: rx.Var[bool],
    reason: str | rx.Var[str],
    **props: object,
) -> rx.Component:
    """A button that a role may not use: disabled, and the wrapper says why on hover.

    A disabled button gets no pointer events, so the wrapper carries the `id` and the hover text.
    """
    element_id = props.pop("id", None)
    title = props.pop("title", "")
    return rx.box(
        rx.button(*children, disabled=~allowed, **props),
        title=rx.cond(allowed, title, reason),
        display="inline-block",
        id=element_id,
    )


def role_reason() -> rx.Var[str]:
    """Why the signed-in user may not change anything ("" when they may)."""
    return rx.cond(
        SessionState.can_deploy,
        "",
        rx.cond(
            SessionState.role == "",
            "Sign in (again) to change anything: the page does not know who you are.",
            VIEWER_REASON,
        ),
    )


def first_reason(*checks: tuple[Any, Any]) -> rx.Var[str]:
    """The first reason whose check holds, else "": one rule both disables a control and
    says why, so the two never disagree."""
    reason: rx.Var[str] = rx.Var.create("")
    for check, text in reversed(checks):
        reason = rx.cond(check, text, reason)
    return reason


def blocked_button(
    *children: rx.Component | str, blocked: rx.Var[str], **props: object
) -> rx.Component:
    """A button disabled while `blocked` says why (on hover), enabled when it is ""."""
    return guarded_button(*children, allowed=blocked == "", reason=blocked, **props)


def deployer_button(
    *children: rx.Component | str, allowed: rx.Var[bool], **props: object
) -> rx.Component:
    """A small guarded button for deployers: a viewer finds it disabled, and why."""
    return guarded_button(
        *children, allowed=allowed, reason=role_reason(), **{"size": "1", **props}
    )


def secondary_button(*children: rx.Component | str, **props: object) -> rx.Component:
    """A grey button beside the main one: cancel, clear, reset, a link elsewhere."""
    return rx.button(*children, variant="soft", color_scheme="gray", **props)


def empty_state(icon: str, title: str, *body: rx.Component | str, **props: object) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=36, color=rx.color("gray", 9)),
            rx.heading(title, size="4"),
            *body,
            align="center",
            spacing="3",
        ),
        padding="3em",
        width="100%",
        **framed("dashed", "12px"),
        **props,
    )


def loading(text: str = "Loading…") -> rx.Component:
    return rx.hstack(rx.spinner(size="2"), rx.text(text, color_scheme="gray"), padding="1em")
