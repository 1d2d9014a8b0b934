"""The settings page's API tokens: the browser's own token is marked, and revoking the
replicas' token or one's own says what it breaks before anything is revoked."""

from __future__ import annotations

from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.ui.conftest import Dashboard
from tests.ui.harness import click, find, screenshot, sign_in, text_of, type_into, wait_for

pytestmark = pytest.mark.e2e


def tokens(dashboard: Dashboard) -> list[dict[str, Any]]:
    with dashboard.api() as c:
        found: list[dict[str, Any]] = c.get("/api/v1/tokens").json()
    return found


def active(dashboard: Dashboard, name: str) -> dict[str, Any]:
    (token,) = [t for t in tokens(dashboard) if t["name"] == name and not t["revoked_at"]]
    return token


def open_settings(dashboard: Dashboard, browser: webdriver.Chrome) -> None:
    sign_in(browser, dashboard.url, "admin", dashboard.admin_password)
    browser.get(dashboard.url + "/settings")
    wait_for("the tokens table", lambda: find(browser, "token-form"))


def ask_to_revoke(browser: webdriver.Chrome, token_id: int) -> str:
    click(browser, f"#revoke-{token_id}")
    return wait_for("the revoke dialog", lambda: text_of(browser, "revoke-warning"))


def confirm_button(browser: webdriver.Chrome) -> Any:
    return browser.find_element(By.ID, "confirm-access")


def test_the_token_this_browser_signs_in_with_is_marked(
    dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    open_settings(dashboard, browser)
    badge = wait_for("the own-token badge", lambda: find(browser, "own-token"))
    assert badge.text == "this browser"
    assert len(browser.find_elements(By.ID, "own-token")) == 1
    secret = (browser.get_cookie("pier_session") or {})["value"]
    row = badge.find_element(By.XPATH, "./ancestor::tr")
    assert "web-session" in row.text and secret[:11] in row.text
    screenshot(browser, "43-settings-own-token")


def test_revoking_the_replicas_token_needs_its_name_typed(
    dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    open_settings(dashboard, browser)
    replicas = active(dashboard, "inference-local")
    warning = ask_to_revoke(browser, replicas["id"])
    assert "inference replicas use this token to poll the routing table" in warning
    assert "stop receiving routing changes" in warning
    assert not confirm_button(browser).is_enabled()
    type_into(browser, "#revoke-confirm-name", "inference-loca")
    assert not confirm_button(browser).is_enabled()
    type_into(browser, "#revoke-confirm-name", "l")
    wait_for("the Revoke button to enable", lambda: confirm_button(browser).is_enabled())
    screenshot(browser, "44-settings-revoke-replicas-token")
    # Other tests' replicas poll with this token: leave it working.
    click(browser, "#cancel-access")
    wait_for("the dialog to close", lambda: find(browser, "revoke-warning") is None)
    assert active(dashboard, "inference-local")["id"] == replicas["id"]


def test_a_normal_token_gets_the_plain_dialog_and_ones_own_warns_of_signing_out(
    dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    with dashboard.api() as c:
        c.post("/api/v1/tokens", json={"name": "short-lived"}).raise_for_status()
    open_settings(dashboard, browser)
    spare = active(dashboard, "short-lived")
    warning = ask_to_revoke(browser, spare["id"])
    assert warning == "Whatever uses it stops working at once. This cannot be undone."
    assert find(browser, "revoke-confirm-name") is None
    click(browser, "#confirm-access")
    wait_for(
        "the token to be revoked",
        lambda: not any(t["id"] == spare["id"] and not t["revoked_at"] for t in tokens(dashboard)),
    )

    own = wait_for("the own-token badge", lambda: find(browser, "own-token"))
    own_row = own.find_element(By.XPATH, "./ancestor::tr")
    own_row.find_element(By.CSS_SELECTOR, "button").click()
    warning = wait_for("the revoke dialog", lambda: text_of(browser, "revoke-warning"))
    assert "signs you out" in warning
    click(browser, "#confirm-access")
    wait_for("the sign-in page", lambda: "/login" in browser.current_url)
