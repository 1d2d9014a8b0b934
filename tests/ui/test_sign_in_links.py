"""Signing in through a link: a signed-out user opens a model page, is sent to the sign-in
form with ?next=, signs in, and lands on the model page knowing who they are, with the
controls their role allows enabled, for every role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.support import artifacts
from tests.support.controlplane import push
from tests.ui.conftest import Dashboard
from tests.ui.harness import click, find, text_of, type_into, wait_for

pytestmark = pytest.mark.e2e

MODEL = "links"
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def model(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("links")
    with dashboard.api() as c:
        for label, seed in (("v1", 1), ("v2", 2)):
            made = artifacts.torchscript(work / f"{label}.pt", seed=seed)
            assert push(c, made, name=MODEL, version=label).status_code == 201
        c.post(f"/api/v1/models/{MODEL}/deploy", json={"version": "v1"}).raise_for_status()
        for role in ("viewer", "deployer"):
            body = {"username": f"link-{role}", "password": PASSWORD, "role": role}
            assert c.post("/api/v1/users", json=body).status_code == 201
    yield MODEL


def _signed_out(browser: webdriver.Chrome, url: str) -> None:
    browser.get(url + "/login")
    browser.delete_all_cookies()
    browser.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")


@pytest.mark.parametrize("role", ["viewer", "deployer", "admin"])
def test_a_sign_in_link_lands_on_the_page_knowing_who_you_are(
    dashboard: Dashboard, browser: webdriver.Chrome, model: str, role: str
) -> None:
    username = "admin" if role == "admin" else f"link-{role}"
    password = dashboard.admin_password if role == "admin" else PASSWORD
    _signed_out(browser, dashboard.url)
    browser.get(f"{dashboard.url}/models/{model}")
    wait_for(
        "the sign-in form", lambda: "/login" in browser.current_url and find(browser, "username")
    )
    assert "next=" in browser.current_url and f"/models/{model}" in browser.current_url
    type_into(browser, "#username", username)
    type_into(browser, "#password", password)
    click(browser, "#sign-in")
    wait_for("the model page", lambda: browser.current_url.rstrip("/").endswith(f"/models/{model}"))
    wait_for(f"{username} in the navigation bar", lambda: text_of(browser, "whoami") == username)
    assert text_of(browser, "role") == role
    assert find(browser, "sign-out") is not None
    deploy = wait_for(
        "Deploy v2", lambda: browser.find_element(By.CSS_SELECTOR, "#deploy-v2 button")
    )
    reason = browser.find_element(By.ID, "deploy-v2").get_attribute("title") or ""
    if role == "viewer":
        assert not deploy.is_enabled() and "Your role is viewer" in reason, reason
    else:
        wait_for("Deploy v2 to be enabled", lambda: deploy.is_enabled() or None)
