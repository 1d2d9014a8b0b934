"""`/login`: username and password; the session that results lasts eight hours."""

from __future__ import annotations

import reflex as rx

from control_plane.ui.session_state import SIGN_IN_JS, SessionState


def login() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.hstack(
                        rx.icon("anchor", size=26, color=rx.color("accent", 9)),
                        rx.heading("Sign in to Pier", size="6"),
                        align="center",
                        spacing="2",
                    ),
                    rx.text(
                        "The first admin's password is in .pier/credentials after `make run`.",
                        size="2",
                        color_scheme="gray",
                    ),
                    rx.text("Username", size="2", weight="medium"),
                    rx.input(name="username", id="username", auto_focus=True, width="100%"),
                    rx.text("Password", size="2", weight="medium"),
                    rx.input(name="password", id="password", type="password", width="100%"),
                    rx.cond(
                        SessionState.sign_in_error,
                        rx.callout(
                            SessionState.sign_in_error,
                            icon="triangle_alert",
                            color_scheme="red",
                            id="sign-in-error",
                            width="100%",
                        ),
                    ),
                    rx.button(
                        "Sign in",
                        type="submit",
                        loading=SessionState.signing_in,
                        width="100%",
                        id="sign-in",
                    ),
                    spacing="3",
                    width="100%",
                ),
                # The password goes from the page to /api/v1/session only, never through
                # the websocket; the answer sets the HttpOnly session cookie.
                on_submit=rx.call_script(SIGN_IN_JS, callback=SessionState.sign_in_result),
                reset_on_submit=False,
            ),
            width="380px",
            size="4",
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )


def register(app: rx.App) -> None:
    app.add_page(
        login, route="/login", title="Sign in · Pier", on_load=SessionState.already_signed_in
    )
