"""Attack group 5: the dashboard's session, websocket and sign-in.

- The session cookie is set by the server (POST /api/v1/session), HttpOnly (no script on
  the page can read it: checked in a real Chromium), SameSite=Strict, expiring with the
  session, and Secure when the request came over TLS or through a proxy that says
  `X-Forwarded-Proto: https`.
- The websocket (Reflex's /_event) and the sign-in/sign-out calls refuse another Origin;
  every state-changing dashboard event travels on that websocket.
- Sessions expire; passwords are argon2id hashes; sign-in is rate-limited per username and
  client (5 failures a minute, then 429 with Retry-After), on the API and in the form.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlmodel import select

from control_plane.db.engine import migrate, session_scope
from control_plane.db.tables import User
from control_plane.errors import Unauthenticated
from control_plane.services import auth, web_sessions
from control_plane.settings import PierSettings
from tests.security.conftest import PASSWORD, Plane
from tests.support.pg import temporary_database
from tests.support.servers import free_port
from tests.ui.harness import chromium, find, running_dashboard, screenshot, text_of, wait_for

pytestmark = pytest.mark.e2e
EVIL = "http://evil.example"


def sign_in(plane_url: str, username: str, password: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{plane_url}/api/v1/session",
        json={"username": username, "password": password},
        headers=headers,
        timeout=30,
    )


# ---- over HTTP, against the API ------------------------------------------------------------


def test_the_session_cookie_is_httponly_strict_and_expires(plane: Plane) -> None:
    r = sign_in(plane.url, "viewer", PASSWORD)
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"]
    print(f"Set-Cookie over http: {cookie.split('=', 1)[0]}=…; {cookie.split(';', 1)[1]}")
    attrs = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attrs and "samesite=strict" in attrs and "path=/" in attrs
    assert f"max-age={int(web_sessions.SESSION_TTL.total_seconds())}" in attrs
    assert "secure" not in attrs, "plain http: a Secure cookie would never come back"
    secret = r.cookies["pier_session"]
    assert secret not in r.text, "the secret is in the cookie only"
    # The cookie is a session: it works as a token until signed out, then never again.
    who = httpx.get(f"{plane.url}/api/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert who.status_code == 200
    out = httpx.delete(f"{plane.url}/api/v1/session", cookies={"pier_session": secret})
    assert out.status_code == 204 and 'pier_session=""' in out.headers["set-cookie"]
    who = httpx.get(f"{plane.url}/api/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert who.status_code == 401


def test_the_cookie_is_secure_behind_tls(plane: Plane) -> None:
    r = sign_in(plane.url, "viewer", PASSWORD, **{"X-Forwarded-Proto": "https"})
    assert r.status_code == 200
    assert "secure" in [a.strip().lower() for a in r.headers["set-cookie"].split(";")]


def test_sign_in_refuses_another_origin(plane: Plane) -> None:
    r = sign_in(plane.url, "viewer", PASSWORD, Origin=EVIL)
    assert r.status_code == 403 and "evil.example" in r.json()["error"]["message"]
    assert "set-cookie" not in r.headers
    r = httpx.delete(f"{plane.url}/api/v1/session", headers={"Origin": EVIL})
    assert r.status_code == 403
    assert sign_in(plane.url, "viewer", PASSWORD, Origin=plane.url).status_code == 200


def test_sign_in_is_rate_limited_per_user_and_client(plane: Plane) -> None:
    statuses = [sign_in(plane.url, "deployer", "wrong password!").status_code for _ in range(5)]
    assert statuses == [401] * 5
    paused = sign_in(plane.url, "deployer", "wrong password!")
    assert paused.status_code == 429, paused.text
    retry_after = int(paused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert "too many failed sign-ins" in paused.json()["error"]["message"]
    # Even the right password waits: guessing cannot go on by luck.
    assert sign_in(plane.url, "deployer", PASSWORD).status_code == 429
    # Another user from the same client is not locked out.
    assert sign_in(plane.url, "viewer", PASSWORD).status_code == 200
    print(f"5 failures -> 429, Retry-After {retry_after} s")


def test_sessions_expire(plane: Plane) -> None:
    long_ago = datetime.now(UTC) - web_sessions.SESSION_TTL - timedelta(minutes=1)
    with session_scope(plane.settings) as session:
        opened = web_sessions.sign_in(session, "viewer", PASSWORD, long_ago)
    with session_scope(plane.settings) as session, pytest.raises(Unauthenticated):
        web_sessions.principal(session, opened.secret)
    r = httpx.get(
        f"{plane.url}/api/v1/models", headers={"Authorization": f"Bearer {opened.secret}"}
    )
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_passwords_are_stored_as_argon2id(plane: Plane) -> None:
    with session_scope(plane.settings) as session:
        hashes = [u.password_hash for u in session.exec(select(User)).all()]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    params = dict(p.split("=") for p in hashes[0].split("$")[3].split(","))
    print(f"argon2id parameters: {params}")
    assert int(params["m"]) >= 19 * 1024 and int(params["t"]) >= 2
    assert not any(PASSWORD in h for h in hashes)
    assert auth.verify_password(hashes[0], "not it") is False


# ---- the real dashboard in a real browser -------------------------------------------------


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The Reflex prod app on a throwaway database; yields (url, admin password)."""
    with temporary_database() as db_url:
        home = tmp_path_factory.mktemp("pier-home")
        port = free_port()
        settings = PierSettings(
            home=home, port=port, database_url=db_url, public_url=f"http://127.0.0.1:{port}"
        )
        migrate(settings)
        with session_scope(settings) as session:
            creds = auth.bootstrap_admin(session, settings.credentials_path, settings.public_url)
        assert creds is not None
        with running_dashboard(settings, tmp_path_factory.mktemp("reflex")) as url:
            yield url, creds.password


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    driver = chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield driver
    finally:
        driver.quit()


def _fill(driver: webdriver.Chrome, url: str, username: str, password: str) -> None:
    driver.get(url + "/login")
    wait_for("the sign-in form", lambda: driver.find_element(By.ID, "username"))
    # The page clears the last attempt's error when it loads: wait for that, so the error
    # read after this attempt is this attempt's.
    wait_for("a fresh form", lambda: find(driver, "sign-in-error") is None)
    for field, value in (("username", username), ("password", password)):
        element = driver.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    driver.find_element(By.ID, "sign-in").click()


def test_the_browser_holds_an_httponly_cookie_scripts_cannot_read(
    dashboard: tuple[str, str], browser: webdriver.Chrome
) -> None:
    url, password = dashboard
    browser.get(url + "/login")
    browser.delete_all_cookies()
    _fill(browser, url, "admin", password)
    wait_for("admin to be signed in", lambda: text_of(browser, "whoami") == "admin")
    cookie = wait_for("the session cookie", lambda: browser.get_cookie("pier_session"))
    lifetime = cookie["expiry"] - datetime.now(UTC).timestamp()
    print(
        f"browser cookie: httpOnly={cookie['httpOnly']} sameSite={cookie['sameSite']} "
        f"secure={cookie['secure']} expires in {lifetime:.0f} s"
    )
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert 0 < lifetime <= 8 * 3600 + 60
    assert "pier_session" not in browser.execute_script("return document.cookie")
    screenshot(browser, "security-signed-in")
    # Signing out revokes the session and clears the cookie.
    secret = cookie["value"]
    wait_for("the sign-out button", lambda: browser.find_element(By.ID, "sign-out")).click()
    wait_for("the sign-in page", lambda: "/login" in browser.current_url)
    wait_for("the cookie to be cleared", lambda: browser.get_cookie("pier_session") is None)
    r = httpx.get(f"{url}/api/v1/models", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401


def test_the_sign_in_form_is_rate_limited(
    dashboard: tuple[str, str], browser: webdriver.Chrome
) -> None:
    url, _ = dashboard
    browser.delete_all_cookies()
    for attempt in range(5):
        _fill(browser, url, "admin", f"wrong password {attempt}")
        wait_for("the refusal", lambda: text_of(browser, "sign-in-error"))
    _fill(browser, url, "admin", "wrong password again")
    message = wait_for(
        "the pause",
        lambda: (t := text_of(browser, "sign-in-error")) and "Too many" in t and t,
    )
    print(f"sign-in form after 5 failures: {message!r}")
    screenshot(browser, "security-sign-in-paused")
    assert "try again in" in message


def _handshake(url: str, origin: str) -> int:
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as sock:
        sock.sendall(request.encode())
        head = sock.recv(4096)
    return int(head.split(b" ", 2)[1])


def test_the_websocket_refuses_another_origin(dashboard: tuple[str, str]) -> None:
    url, _ = dashboard
    own, evil = _handshake(url, url), _handshake(url, EVIL)
    print(f"/_event handshake: own origin -> {own}, {EVIL} -> {evil}")
    assert own == 101
    assert evil in (400, 403)
