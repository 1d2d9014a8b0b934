"""Deploying from the model page a version whose declared metrics are worse than those of the
version serving now: the dialog says which and by how much, and Confirm waits for a tick."""

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
    retrying,
    screenshot,
    sign_in,
    text_of,
    type_into,
    wait_for,
)

pytestmark = pytest.mark.e2e

MODEL = "regressing"
DECLARED = {"v1": 0.95, "v2": 0.90, "v3": 0.97}
"""Each version's declared accuracy; v1 serves first."""


@pytest.fixture(scope="module")
def model(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> str:
    home: Path = tmp_path_factory.mktemp("regression-ui")
    with dashboard.api() as c:
        for seed, (version, accuracy) in enumerate(DECLARED.items()):
            made = artifacts.torchscript(home / f"{version}.pt", seed=seed)
            r = push(c, made, name=MODEL, version=version, metrics={"accuracy": accuracy})
            assert r.status_code == 201, r.text
        c.post(f"/api/v1/models/{MODEL}/deploy", json={"version": "v1"}).raise_for_status()
    return MODEL


def _weights(dashboard: Dashboard) -> dict[str, int]:
    with dashboard.api() as c:
        return dict(c.get(f"/api/v1/models/{MODEL}/deployment").json()["weights"])


def _confirm(driver: webdriver.Chrome) -> webdriver.remote.webelement.WebElement:
    return wait_for("the Confirm button", lambda: driver.find_element(By.ID, "confirm"))


def _open(dashboard: Dashboard, driver: webdriver.Chrome) -> None:
    driver.get(dashboard.url + "/")
    who = wait_for("the page", lambda: text_of(driver, "whoami") or find(driver, "username"))
    if who != "admin":
        driver.delete_all_cookies()
        sign_in(driver, dashboard.url, "admin", dashboard.admin_password)
    driver.get(f"{dashboard.url}/models/{MODEL}")
    wait_for("v1 serving", lambda: "v1 · 100%" in (text_of(driver, "deployed") or ""))


def test_a_split_giving_traffic_to_a_worse_version_warns(
    dashboard: Dashboard, browser: webdriver.Chrome, model: str
) -> None:
    _open(dashboard, browser)
    click(browser, "#add-version")
    retrying(
        "a pick of v2",
        lambda: browser.find_element(By.XPATH, "//*[@role='option'][.='v2']").click(),
    )
    wait_for("the v2 share input", lambda: find(browser, "share-v2"))
    type_into(browser, "#share-v2", Keys.CONTROL, "a")
    type_into(browser, "#share-v2", "10")
    wait_for(
        "v1 to take the other 90 %",
        lambda: browser.find_element(By.ID, "share-v1").get_attribute("value") == "90",
    )
    click(browser, "#apply-split button")
    warning = wait_for("the regression warning", lambda: text_of(browser, "regressions"))
    assert "v2: accuracy 0.9 < 0.95 serving now (v1)" in warning
    assert not _confirm(browser).is_enabled()
    browser.find_element(By.XPATH, "//button[.='Cancel']").click()
    wait_for("the dialog to close", lambda: find(browser, "confirm") is None)
    assert _weights(dashboard) == {"v1": 100}


def test_deploying_a_worse_version_asks_for_an_explicit_tick_and_a_better_one_not(
    dashboard: Dashboard, browser: webdriver.Chrome, model: str
) -> None:
    _open(dashboard, browser)
    click(browser, "#deploy-v2 button")
    warning = wait_for("the regression warning", lambda: text_of(browser, "regressions"))
    assert "v2: accuracy 0.9 < 0.95 serving now (v1)" in warning
    assert "Deploy anyway: I have checked these metrics" in warning
    assert not _confirm(browser).is_enabled()
    screenshot(browser, "31-deploy-regression-warning")

    click(browser, "#confirm-regression")
    wait_for("Confirm to enable after the tick", lambda: _confirm(browser).is_enabled())
    click(browser, "#confirm")
    wait_for("v2 to take all traffic", lambda: _weights(dashboard) == {"v2": 100}, 60)

    # A version better than the one serving now: the usual dialog, Confirm enabled at once.
    wait_for("v2 serving", lambda: "v2 · 100%" in (text_of(browser, "deployed") or ""), 60)
    click(browser, "#deploy-v3 button")
    wait_for("the confirmation dialog", lambda: text_of(browser, "pending-preview"))
    assert find(browser, "regressions") is None
    assert _confirm(browser).is_enabled()
    click(browser, "#confirm")
    wait_for("v3 to take all traffic", lambda: _weights(dashboard) == {"v3": 100}, 60)
