"""`/settings`: users and API tokens, for admins. A token's secret is shown once."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from control_plane.ui.components.basics import (
    ERROR,
    callout_if,
    muted,
    rich_callout,
    row,
    with_error,
)
from control_plane.ui.components.card import card
from control_plane.ui.components.layout import loading, page, secondary_button
from control_plane.ui.components.table import table
from control_plane.ui.pages.settings_state import ROLES, SettingsState, TokenRow, UserRow

REPLICAS_WARNING = (
    "The inference replicas use this token to poll the routing table, which is also how "
    "they report in so that their metrics are collected, and to download artifacts. Once it "
    "is revoked they keep serving the versions they have loaded, but they stop receiving "
    "routing changes, cannot load new versions, and their metrics stop being collected. "
    "Restarting Pier gives them a new token."
)
OWN_WARNING = (
    "This browser is signed in with this token: revoking it signs you out at once. "
    "This cannot be undone."
)
GENERAL_WARNING = "Whatever uses it stops working at once. This cannot be undone."


def _danger(label: str, **props: object) -> rx.Component:
    """A small red button that takes access away (after the confirmation)."""
    return rx.button(label, size="1", variant="ghost", color_scheme="red", **props)


def _user_row(u: ObjectVar[UserRow]) -> rx.Component:
    disable = _danger(
        "Disable",
        disabled=u.username == SettingsState.username,
        on_click=SettingsState.ask_disable(u.username),  # type: ignore[operator]
    )
    return rx.table.row(
        rx.table.row_header_cell(u.username),
        rx.table.cell(rx.badge(u.role, variant="soft")),
        rx.table.cell(u.created_at),
        rx.table.cell(rx.cond(u.disabled, rx.badge("disabled", color_scheme="red"), disable)),
    )


def _token_name(t: ObjectVar[TokenRow]) -> rx.Component:
    own = rx.badge("this browser", color_scheme="green", variant="soft", id="own-token")
    return row(rx.text(t.name), rx.cond(t.own, own))


def _token_row(t: ObjectVar[TokenRow]) -> rx.Component:
    ask = SettingsState.ask_revoke(t.id)  # type: ignore[operator]
    revoke = _danger("Revoke", on_click=ask, id="revoke-" + t.id.to_string())
    return rx.table.row(
        rx.table.row_header_cell(_token_name(t)),
        rx.table.cell(t.username),
        rx.table.cell(rx.code(t.prefix, size="1")),
        rx.table.cell(rx.badge(t.role, variant="soft")),
        rx.table.cell(t.created_at),
        rx.table.cell(t.expires_at),
        rx.table.cell(
            rx.cond(t.state == "active", revoke, rx.badge("revoked", color_scheme="gray"))
        ),
    )


def _form(on_submit: Any, form_id: str, *fields: rx.Component) -> rx.Component:
    """The form's fields in a row; the state empties it once what it asked for is done."""
    return rx.form(
        rx.hstack(*fields, spacing="2", align="start", wrap="wrap"),
        on_submit=on_submit,
        reset_on_submit=False,
        id=form_id,
    )


def _user_field(name: str, field: rx.Component) -> rx.Component:
    return with_error(field, SettingsState.user_errors[name], f"error-user-{name}")


def _token_field(name: str, field: rx.Component) -> rx.Component:
    return with_error(field, SettingsState.token_errors[name], f"error-token-{name}")


def _users() -> rx.Component:
    return card(
        "Users",
        "",
        table(("User", "Role", "Created", ""), SettingsState.users, _user_row),
        _form(
            SettingsState.create_user,
            "user-form",
            _user_field(
                "username", rx.input(name="username", placeholder="username", width="160px")
            ),
            _user_field(
                "password",
                rx.input(
                    name="password",
                    type="password",
                    placeholder="password (12+ characters)",
                    width="220px",
                ),
            ),
            _user_field("role", rx.select(ROLES, name="role", default_value="viewer", size="2")),
            _user_field("form", rx.button("Add user", type="submit", id="add-user")),
        ),
    )


def _secret_once() -> rx.Component:
    copy = rx.icon_button(
        rx.icon("copy", size=14),
        size="1",
        variant="soft",
        on_click=rx.set_clipboard(SettingsState.new_secret),
        title="Copy",
    )
    done = rx.button("Done", size="1", variant="soft", on_click=SettingsState.hide_secret)
    issued = rx.text(
        "Token ",
        SettingsState.new_secret_name,
        " issued. Copy its secret now: it is shown this once and never stored.",
        weight="medium",
    )
    secret = row(rx.code(SettingsState.new_secret, id="new-secret"), copy, done, spacing="3")
    return rx.cond(
        SettingsState.new_secret,
        rich_callout(rx.icon("key-round"), issued, secret, spacing="2", color_scheme="amber"),
    )


def _tokens() -> rx.Component:
    return card(
        "API tokens",
        "",
        # Under the heading, not beside it: a sentence too long for one line beside it.
        muted(
            "Sessions of the dashboard are tokens named web-session; revoking one signs "
            "that browser out."
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
            _token_field(
                "name", rx.input(name="name", placeholder="name, e.g. ci-deploy", width="180px")
            ),
            _token_field(
                "username",
                rx.input(name="username", placeholder="for user (default: you)", width="180px"),
            ),
            _token_field("role", rx.select(ROLES, name="role", default_value="viewer", size="2")),
            _token_field(
                "expires_in_days",
                rx.input(
                    name="expires_in_days",
                    type="number",
                    placeholder="expires in days",
                    width="140px",
                ),
            ),
            _token_field("form", rx.button("Issue token", type="submit", id="issue-token")),
        ),
    )


def _revoke_warning() -> rx.Component:
    """What revoking this token breaks; the replicas' token also asks for its name."""
    name = SettingsState.pending_revoke_name
    typed = rx.input(
        value=SettingsState.revoke_typed,
        on_change=SettingsState.set_revoke_typed,
        placeholder=name,
        id="revoke-confirm-name",
    )
    return rx.cond(
        SettingsState.pending_revoke_replicas,
        rx.vstack(
            rx.alert_dialog.description(REPLICAS_WARNING, size="2", id="revoke-warning"),
            rx.text("Type ", rx.code(name), " to revoke it anyway.", size="2"),
            typed,
            spacing="2",
        ),
        rx.alert_dialog.description(
            rx.cond(SettingsState.pending_revoke_own, OWN_WARNING, GENERAL_WARNING),
            size="2",
            id="revoke-warning",
        ),
    )


def _confirm() -> rx.Component:
    revoking = SettingsState.pending_revoke != 0
    confirm = rx.button(
        rx.cond(revoking, "Revoke", "Disable"),
        color_scheme="red",
        disabled=~SettingsState.revoke_ready,
        on_click=rx.cond(revoking, SettingsState.confirm_revoke, SettingsState.confirm_disable),
        id="confirm-access",
    )
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(
                rx.cond(
                    revoking,
                    "Revoke token " + SettingsState.pending_revoke_name + "?",
                    "Disable user " + SettingsState.pending_disable + "?",
                )
            ),
            rx.cond(
                revoking,
                _revoke_warning(),
                rx.alert_dialog.description(GENERAL_WARNING, size="2"),
            ),
            rx.hstack(
                rx.alert_dialog.cancel(secondary_button("Cancel", id="cancel-access")),
                rx.alert_dialog.action(confirm),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=revoking | (SettingsState.pending_disable != ""),
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
                callout_if(
                    SettingsState.error, otherwise=loading("Loading users and tokens…"), **ERROR
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
