"""`/login`: username and password; the session that results lasts eight hours."""

from __future__ import annotations

import reflex as rx

from control_plane.ui.components.basics import ERROR, SCREEN, callout_if, muted, row
from control_plane.ui.session_state import SIGN_IN_JS, SessionState


def _field(label: str, **props: object) -> tuple[rx.Component, rx.Component]:
    """A label over a full-width input."""
    return rx.text(label, size="2", weight="medium"), rx.input(**props, width="100%")


def _form() -> rx.Component:
    return rx.vstack(
        row(
            rx.icon("anchor", size=26, color=rx.color("accent", 9)),
            rx.heading("Sign in to Pier", size="6"),
        ),
        muted("The first admin's password is in .pier/credentials after `make run`."),
        *_field("Username", name="username", id="username", auto_focus=True),
        *_field("Password", name="password", id="password", type="password"),
        callout_if(SessionState.sign_in_error, **ERROR, id="sign-in-error", width="100%"),
        rx.button(
            "Sign in", type="submit", loading=SessionState.signing_in, width="100%", id="sign-in"
        ),
        spacing="3",
        width="100%",
    )


def login() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                _form(),
                # The password goes from the page to /api/v1/session only, never through
                # the websocket; the answer sets the HttpOnly session cookie.
                on_submit=rx.call_script(SIGN_IN_JS, callback=SessionState.sign_in_result),
                reset_on_submit=False,
            ),
            width="380px",
            size="4",
        ),
        **SCREEN,
    )


def register(app: rx.App) -> None:
    app.add_page(
        login, route="/login", title="Sign in · Pier", on_load=SessionState.already_signed_in
    )
