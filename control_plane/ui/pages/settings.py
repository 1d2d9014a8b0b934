"""`/settings`: users and API tokens, for admins. A token's secret is shown once."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.card import card
from control_plane.ui.components.layout import loading, page
from control_plane.ui.components.table import table
from control_plane.ui.pages.settings_state import ROLES, SettingsState, TokenRow, UserRow


def _user_row(u: ObjectVar[UserRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(u.username),
        rx.table.cell(rx.badge(u.role, variant="soft")),
        rx.table.cell(u.created_at),
        rx.table.cell(
            rx.cond(
                u.disabled,
                rx.badge("disabled", color_scheme="red"),
                rx.button(
                    "Disable",
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    disabled=u.username == SettingsState.username,
                    on_click=SettingsState.ask_disable(u.username),  # type: ignore[operator]
                ),
            )
        ),
    )


def _token_row(t: ObjectVar[TokenRow]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(t.name),
        rx.table.cell(t.username),
        rx.table.cell(rx.code(t.prefix, size="1")),
        rx.table.cell(rx.badge(t.role, variant="soft")),
        rx.table.cell(t.created_at),
        rx.table.cell(t.expires_at),
        rx.table.cell(
            rx.cond(
                t.state == "active",
                rx.button(
                    "Revoke",
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=SettingsState.ask_revoke(t.id, t.name),  # type: ignore[operator]
                ),
                rx.badge("revoked", color_scheme="gray"),
            )
        ),
    )


def _form(on_submit: Any, form_id: str, *fields: rx.Component) -> rx.Component:
    return rx.form(
        rx.hstack(*fields, spacing="2", align="center", wrap="wrap"),
        on_submit=on_submit,
        reset_on_submit=True,
        id=form_id,
    )


def _users() -> rx.Component:
    return card(
        "Users",
        "",
        table(("User", "Role", "Created", ""), SettingsState.users, _user_row),
        _form(
            SettingsState.create_user,
            "user-form",
            rx.input(name="username", placeholder="username", width="160px"),
            rx.input(
                name="password",
                type="password",
                placeholder="password (12+ characters)",
                width="220px",
            ),
            rx.select(ROLES, name="role", default_value="viewer", size="2"),
            rx.button("Add user", type="submit", id="add-user"),
        ),
    )


def _secret_once() -> rx.Component:
    return rx.cond(
        SettingsState.new_secret,
        rx.callout.root(
            rx.callout.icon(rx.icon("key-round")),
            rx.vstack(
                rx.text(
                    "Token ",
                    SettingsState.new_secret_name,
                    " issued. Copy its secret now: it is shown this once and never stored.",
                    weight="medium",
                ),
                rx.hstack(
                    rx.code(SettingsState.new_secret, id="new-secret"),
                    rx.icon_button(
                        rx.icon("copy", size=14),
                        size="1",
                        variant="soft",
                        on_click=rx.set_clipboard(SettingsState.new_secret),
                        title="Copy",
                    ),
                    rx.button("Done", size="1", variant="soft", on_click=SettingsState.hide_secret),
                    align="center",
                ),
                spacing="2",
            ),
            color_scheme="amber",
            width="100%",
        ),
    )


def _tokens() -> rx.Component:
    return card(
        "API tokens",
        "",
        # Under the heading, not beside it: a sentence too long for one line beside it.
        rx.text(
            "Sessions of the dashboard are tokens named web-session; revoking one signs "
            "that browser out.",
            size="2",
            color_scheme="gray",
        ),
        _secret_once(),
        table(
            ("Name", "User", "Prefix", "Role", "Created", "Expires", ""),
            SettingsState.tokens,
            _token_row,
        ),
        _form(
            SettingsState.create_token,
            "token-form",
            rx.input(name="name", placeholder="name, e.g. ci-deploy", width="180px"),
            rx.input(name="username", placeholder="for user (default: you)", width="180px"),
            rx.select(ROLES, name="role", default_value="viewer", size="2"),
            rx.input(
                name="expires_in_days",
                type="number",
                placeholder="expires in days",
                width="140px",
            ),
            rx.button("Issue token", type="submit", id="issue-token"),
        ),
    )


def _confirm() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(
                rx.cond(
                    SettingsState.pending_revoke != 0,
                    "Revoke token " + SettingsState.pending_revoke_name + "?",
                    "Disable user " + SettingsState.pending_disable + "?",
                )
            ),
            rx.alert_dialog.description(
                "Whatever uses it stops working at once. This cannot be undone.", size="2"
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray"),
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Confirm",
                        color_scheme="red",
                        on_click=rx.cond(
                            SettingsState.pending_revoke != 0,
                            SettingsState.confirm_revoke,
                            SettingsState.confirm_disable,
                        ),
                        id="confirm-access",
                    ),
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=(SettingsState.pending_revoke != 0) | (SettingsState.pending_disable != ""),
        on_open_change=lambda _open: SettingsState.cancel(),  # type: ignore[operator]
    )


def settings_page() -> rx.Component:
    return page(
        "Settings",
        rx.cond(
            SettingsState.is_admin,
            rx.cond(
                SettingsState.loaded,
                rx.vstack(_users(), _tokens(), _confirm(), spacing="4", width="100%"),
                rx.cond(
                    SettingsState.error,
                    rx.callout(SettingsState.error, icon="triangle_alert", color_scheme="red"),
                    loading("Loading users and tokens…"),
                ),
            ),
            rx.callout(
                "Only admins manage users and tokens. Ask an admin if you need access.",
                icon="lock",
                color_scheme="gray",
                id="admins-only",
            ),
        ),
        subtitle="Who can sign in, and the API tokens the CLI, CI jobs and replicas use.",
    )


def register(app: rx.App) -> None:
    app.add_page(
        settings_page, route="/settings", title="Settings · Pier", on_load=SettingsState.load
    )
