"""The model page's Shadow card in a real browser: a version picked and mirrored at a share
from the form, shown as a chip, the change in the routing table and the audit log, and
stopped again with its button."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support import artifacts
from tests.support.controlplane import push
from tests.ui.conftest import Dashboard
from tests.ui.harness import (
    click,
    find,
    screenshot,
    sign_in,
    text_of,
    wait_for,
)

pytestmark = pytest.mark.e2e

MODEL = "shadowed"


@pytest.fixture(scope="module")
def model(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> str:
    home: Path = tmp_path_factory.mktemp("shadow-ui")
    with dashboard.api() as c:
        for version, seed in (("v1", 0), ("v2", 1)):
            made = artifacts.torchscript(home / f"{version}.pt", seed=seed)
            assert push(c, made, name=MODEL, version=version).status_code == 201
        c.post(f"/api/v1/models/{MODEL}/deploy", json={"version": "v1"}).raise_for_status()
    return MODEL


def _shadow_of(dashboard: Dashboard) -> dict[str, int]:
    with dashboard.api() as c:
        route = next(m for m in c.get("/api/v1/routing").json()["models"] if m["name"] == MODEL)
    return dict(route.get("shadow", {}))


def test_a_shadow_is_mirrored_and_stopped_from_the_model_page(
    dashboard: Dashboard, browser: webdriver.Chrome, model: str
) -> None:
    browser.get(dashboard.url + "/")
    who = wait_for("the page", lambda: text_of(browser, "whoami") or find(browser, "username"))
    if who != "admin":
        browser.delete_all_cookies()
        sign_in(browser, dashboard.url, "admin", dashboard.admin_password)
    browser.get(f"{dashboard.url}/models/{model}")
    wait_for("no shadow yet", lambda: text_of(browser, "shadow-none"))

    # What the form shows is what Mirror sends: pick and type until the form shows it (a
    # click on an option mid-animation, or a keystroke during a re-render, can be lost).
    wait_for("v2 picked", lambda: _pick(browser, "v2"))
    wait_for("25 typed", lambda: _type_percent(browser, "25"))
    click(browser, "#shadow-mirror button")
    chip = wait_for(
        "the shadow chip",
        lambda: (t := text_of(browser, "shadow")) and "v2 · 25% mirrored" in t and t,
        30,
    )
    assert "v1" not in chip.split("mirrored")[0]  # the live version is not a shadow
    assert _shadow_of(dashboard) == {"v2": 25}
    with dashboard.api() as c:
        (event,) = c.get(
            "/api/v1/audit", params={"model": MODEL, "action": "shadow.set", "limit": 1}
        ).json()
    assert event["after"] == {"shadow": {"v2": 25}} and event["actor"] == "admin"
    screenshot(browser, "22-model-shadow")

    click(browser, "#shadow-stop-v2 button")
    wait_for("the shadow gone", lambda: text_of(browser, "shadow-none"), 30)
    assert _shadow_of(dashboard) == {}


def _pick(browser: webdriver.Chrome, version: str) -> bool:
    if version not in (text_of(browser, "shadow-version") or ""):
        click(browser, "#shadow-version")
        browser.find_element(By.XPATH, f"//*[@role='option'][.='{version}']").click()
    return version in (text_of(browser, "shadow-version") or "")


def _type_percent(browser: webdriver.Chrome, value: str) -> bool:
    field = browser.find_element(By.CSS_SELECTOR, "#shadow-percent")
    if field.get_attribute("value") != value:
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(value)
    return browser.find_element(By.CSS_SELECTOR, "#shadow-percent").get_attribute("value") == value
