"""State of the settings page (admins): users and API tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import reflex as rx
from pydantic import ValidationError
from sqlmodel import Session

from control_plane.schemas import Principal, Role, TokenCreate, UserCreate
from control_plane.services import auth
from control_plane.ui import calls
from control_plane.ui.session_state import SessionState
from control_plane.ui.views.catalog import when

T = TypeVar("T")
B = TypeVar("B")
ROLES = [r.value for r in Role]
NEVER = "never"


@dataclass(frozen=True)
class UserRow:
    username: str
    role: str
    created_at: str
    disabled: bool


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    username: str
    prefix: str
    role: str
    created_at: str
    expires_at: str
    state: str


@dataclass(frozen=True)
class AccessView:
    users: list[UserRow]
    tokens: list[TokenRow]


def _read(session: Session, principal: Principal) -> AccessView:
    auth.require(principal, Role.admin)
    users = [
        UserRow(u.username, u.role.value, when(u.created_at), u.disabled)
        for u in auth.list_users(session)
    ]
    tokens = [
        TokenRow(
            id=t.id,
            name=t.name,
            username=t.username,
            prefix=t.prefix + "…",
            role=t.role.value,
            created_at=when(t.created_at),
            expires_at=when(t.expires_at) if t.expires_at else NEVER,
            state="revoked" if t.revoked_at else "active",
        )
        for t in auth.list_tokens(session)
    ]
    return AccessView(users=users, tokens=tokens)


def validation_message(e: ValidationError) -> str:
    first = e.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    return f"{field}: {first['msg']}"


def _parsed(build: Callable[[], T]) -> T | str:
    """A request body built from a form's fields, or why the fields make none."""
    try:
        return build()
    except ValidationError as e:
        return validation_message(e)
    except ValueError as e:
        return str(e)


def _then(*events: Any) -> list[Any]:
    """Events to send back, leaving out the ones that did not happen (None)."""
    return [e for e in events if e is not None]


class SettingsState(SessionState):
    users: list[UserRow] = []
    tokens: list[TokenRow] = []
    loaded: bool = False
    error: str = ""
    new_secret: str = ""
    new_secret_name: str = ""
    pending_revoke: int = 0
    pending_revoke_name: str = ""
    pending_disable: str = ""

    async def _reload(self) -> Any:
        view = await self._caller().call(_read, "reading users and tokens")
        if isinstance(view, calls.Failure):
            if view.redirect is None:
                self.error = view.message
            return view.redirect
        self.users, self.tokens = view.users, view.tokens
        self.loaded, self.error = True, ""
        return None

    @rx.event
    async def load(self) -> Any:
        self.new_secret = self.new_secret_name = ""
        self.loaded, self.error = False, ""
        redirect = await self._gate()
        if redirect is not None or not self.is_admin:
            return redirect
        return await self._reload()

    async def _change(
        self, work: Callable[[Session, Principal], T], doing: str
    ) -> tuple[Any, T | None]:
        """What to send back (the reload, or the failure's toast) and the change's result."""
        result = await self._caller().call(work, doing)
        if isinstance(result, calls.Failure):
            return result.effect, None
        return await self._reload(), result

    async def _create(
        self, body: B | str, refused: str, work: Callable[[Session, Principal, B], T], doing: str
    ) -> tuple[Any, T | None]:
        """Make what a form asks for, or say why the form's fields make no request."""
        if isinstance(body, str):
            return rx.toast.error(f"{refused}: {body}"), None
        return await self._change(lambda s, p: work(s, p, body), doing)

    @rx.event
    async def create_user(self, form: dict[str, Any]) -> Any:
        body = _parsed(
            lambda: UserCreate(
                username=str(form.get("username", "")).strip(),
                password=str(form.get("password", "")),
                role=Role(str(form.get("role") or Role.viewer.value)),
            )
        )
        effect, user = await self._create(
            body, "Cannot create the user", auth.add_user, "creating the user"
        )
        if user is None:
            return effect
        return _then(effect, rx.toast.success(f"Created {user.username} ({user.role.value})"))

    @rx.event
    async def create_token(self, form: dict[str, Any]) -> Any:
        days = str(form.get("expires_in_days", "")).strip()
        body = _parsed(
            lambda: TokenCreate(
                name=str(form.get("name", "")).strip(),
                role=Role(str(form.get("role") or Role.viewer.value)),
                username=str(form.get("username", "")).strip() or None,
                expires_in_days=int(days) if days else None,
            )
        )
        effect, issued = await self._create(
            body, "Cannot issue the token", auth.issue_token, "issuing the token"
        )
        if issued is not None:
            self.new_secret = issued.secret
            self.new_secret_name = f"{issued.username}/{issued.name} ({issued.role.value})"
        return effect

    @rx.event
    def hide_secret(self) -> None:
        self.new_secret = self.new_secret_name = ""

    @rx.event
    def ask_revoke(self, token_id: int, name: str) -> None:
        self.pending_revoke, self.pending_revoke_name = token_id, name

    @rx.event
    def ask_disable(self, username: str) -> None:
        self.pending_disable = username

    @rx.event
    def cancel(self) -> None:
        self.pending_revoke, self.pending_disable = 0, ""

    @rx.event
    async def confirm_revoke(self) -> Any:
        token_id, self.pending_revoke = self.pending_revoke, 0
        if not token_id:
            return None

        def work(session: Session, principal: Principal) -> bool:
            auth.require(principal, Role.admin)
            auth.revoke_token(session, token_id, principal.username)
            return True

        effect, done = await self._change(work, "revoking the token")
        return (
            _then(effect, rx.toast.success(f"Revoked {self.pending_revoke_name}"))
            if done
            else effect
        )

    @rx.event
    async def confirm_disable(self) -> Any:
        username, self.pending_disable = self.pending_disable, ""
        if not username:
            return None
        effect, user = await self._change(
            lambda s, p: auth.disable_user(s, p, username), "disabling the user"
        )
        return _then(effect, rx.toast.success(f"Disabled {username}")) if user else effect
