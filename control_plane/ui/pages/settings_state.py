"""State of the settings page (admins): users and API tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import reflex as rx
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from control_plane.schemas import Principal, Role, TokenCreate, UserCreate, beside, explain
from control_plane.services import auth
from control_plane.ui import calls
from control_plane.ui.session_state import SessionState
from control_plane.ui.setters import setter
from control_plane.ui.views.catalog import when

T = TypeVar("T")
B = TypeVar("B")
M = TypeVar("M", bound=BaseModel)
ROLES = [r.value for r in Role]
NEVER = "never"
# The token `pier up` issues for its local inference replicas (launcher/bootstrap.py).
REPLICAS_TOKEN = "inference-local"


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
    own: bool
    replicas: bool


@dataclass(frozen=True)
class AccessView:
    users: list[UserRow]
    tokens: list[TokenRow]


def _read(session: Session, principal: Principal, secret: str) -> AccessView:
    """Users and tokens; `secret` (the browser's session) marks the token it signs in with."""
    auth.require(principal, Role.admin)
    own = auth.token_id_for_secret(session, secret) if secret else None
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
            own=t.id == own,
            replicas=t.name == REPLICAS_TOKEN,
        )
        for t in auth.list_tokens(session)
    ]
    return AccessView(users=users, tokens=tokens)


def _parsed(model: type[M], fields: dict[str, Any]) -> M | dict[str, str]:
    """The request body a form's fields make, or each problem keyed by its form field."""
    try:
        return model.model_validate(fields)
    except ValidationError as e:
        return beside(explain(e, model=model), {f: f for f in fields})


def _reset(form_id: str) -> Any:
    """Empty a form once what it asked for is done (a refused form keeps what was typed)."""
    return rx.call_script(f"document.getElementById('{form_id}').reset()")


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
    pending_revoke_own: bool = False
    pending_revoke_replicas: bool = False
    revoke_typed: str = ""
    pending_disable: str = ""
    user_errors: dict[str, str] = {}
    token_errors: dict[str, str] = {}
    set_revoke_typed = setter("revoke_typed")

    @rx.var
    def revoke_ready(self) -> bool:
        """The replicas' token is revoked only once its name is typed in the dialog."""
        asked = self.pending_revoke != 0 and self.pending_revoke_replicas
        return not asked or self.revoke_typed == self.pending_revoke_name

    async def _reload(self) -> Any:
        secret = self.session_token
        view = await self._caller().call(
            lambda s, p: _read(s, p, secret), "reading users and tokens"
        )
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
        self.user_errors, self.token_errors = {}, {}
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
        self, body: B | dict[str, str], work: Callable[[Session, Principal, B], T], doing: str
    ) -> tuple[Any, T | None, dict[str, str]]:
        """Make what a form asks for; or keep, for each field, why it makes no request."""
        if isinstance(body, dict):
            return None, None, body
        effect, made = await self._change(lambda s, p: work(s, p, body), doing)
        return effect, made, {}

    @rx.event
    async def create_user(self, form: dict[str, Any]) -> Any:
        fields = {
            "username": str(form.get("username", "")).strip(),
            "password": str(form.get("password", "")),
            "role": str(form.get("role") or Role.viewer.value),
        }
        body = _parsed(UserCreate, fields)
        effect, user, self.user_errors = await self._create(
            body, auth.add_user, "creating the user"
        )
        if user is None:
            return effect
        made = rx.toast.success(f"Created {user.username} ({user.role.value})")
        return _then(effect, made, _reset("user-form"))

    @rx.event
    async def create_token(self, form: dict[str, Any]) -> Any:
        fields = {
            "name": str(form.get("name", "")).strip(),
            "role": str(form.get("role") or Role.viewer.value),
            "username": str(form.get("username", "")).strip() or None,
            "expires_in_days": str(form.get("expires_in_days", "")).strip() or None,
        }
        body = _parsed(TokenCreate, fields)
        effect, issued, self.token_errors = await self._create(
            body, auth.issue_token, "issuing the token"
        )
        if issued is None:
            return effect
        self.new_secret = issued.secret
        self.new_secret_name = f"{issued.username}/{issued.name} ({issued.role.value})"
        return _then(effect, _reset("token-form"))

    @rx.event
    def hide_secret(self) -> None:
        self.new_secret = self.new_secret_name = ""

    @rx.event
    def ask_revoke(self, token_id: int) -> None:
        token = next((t for t in self.tokens if t.id == token_id), None)
        if token is None:
            return
        self.pending_revoke, self.pending_revoke_name = token.id, token.name
        self.pending_revoke_own, self.pending_revoke_replicas = token.own, token.replicas
        self.revoke_typed = ""

    @rx.event
    def ask_disable(self, username: str) -> None:
        self.pending_disable = username

    @rx.event
    def cancel(self) -> None:
        self.pending_revoke, self.pending_disable, self.revoke_typed = 0, "", ""

    @rx.event
    async def confirm_revoke(self) -> Any:
        if not self.revoke_ready:
            return None
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
