"""The navigation bar in a real browser: on every page exactly one item is highlighted and
marked as the current page, and on a model's page that item is the model itself."""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.support import artifacts
from tests.support.controlplane import push
from tests.ui.conftest import Dashboard
from tests.ui.harness import click, find, screenshot, sign_in, text_of, wait_for

pytestmark = pytest.mark.e2e

MODEL = "navigated"


@pytest.fixture(scope="module")
def model(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> str:
    made = artifacts.torchscript(tmp_path_factory.mktemp("nav-ui") / "v1.pt")
    with dashboard.api() as c:
        assert push(c, made, name=MODEL, version="v1").status_code == 201
    return MODEL


def _highlighted(driver: webdriver.Chrome) -> list[tuple[str, str, str]]:
    """(id, aria-current, background) of every navigation item that looks or says current."""
    shown: list[tuple[str, str, str]] = driver.execute_script(
        """
        return Array.from(document.querySelectorAll("a[id^='nav-']"))
          .map(a => [a.id, a.getAttribute("aria-current") || "",
                     getComputedStyle(a).backgroundColor])
          .filter(([, current, bg]) =>
            current === "page" || (bg !== "rgba(0, 0, 0, 0)" && bg !== "transparent"));
        """
    )
    return [tuple(item) for item in shown]  # type: ignore[misc]


def _only_current(driver: webdriver.Chrome, element_id: str) -> bool:
    items = _highlighted(driver)
    return len(items) == 1 and items[0][0] == element_id and items[0][1] == "page"


def _sign_in_as_admin(dashboard: Dashboard, driver: webdriver.Chrome) -> None:
    driver.get(dashboard.url + "/")
    who = wait_for("the page", lambda: text_of(driver, "whoami") or find(driver, "username"))
    if who != "admin":
        driver.delete_all_cookies()
        sign_in(driver, dashboard.url, "admin", dashboard.admin_password)


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/", "nav-overview"),
        ("/upload", "nav-upload"),
        ("/activity", "nav-activity"),
        ("/settings", "nav-settings"),
    ],
)
def test_each_section_highlights_its_own_item_only(
    dashboard: Dashboard, browser: webdriver.Chrome, model: str, path: str, current: str
) -> None:
    _sign_in_as_admin(dashboard, browser)
    browser.get(dashboard.url + path)
    wait_for(f"{current} alone to be current", lambda: _only_current(browser, current))
    assert find(browser, "nav-model") is None


def test_a_model_page_shows_the_model_as_the_current_item(
    dashboard: Dashboard, browser: webdriver.Chrome, model: str
) -> None:
    _sign_in_as_admin(dashboard, browser)
    browser.get(f"{dashboard.url}/models/{model}")
    wait_for("the model's item to be current", lambda: _only_current(browser, "nav-model"))
    item = browser.find_element(By.ID, "nav-model")
    assert item.text == model
    assert (item.get_attribute("href") or "").endswith(f"/models/{model}")
    screenshot(browser, "30-nav-model")

    # Back to the overview by its item: the model's item goes away, Overview is current.
    click(browser, "#nav-overview")
    wait_for("Overview alone to be current", lambda: _only_current(browser, "nav-overview"))
    wait_for("the model's item to go", lambda: find(browser, "nav-model") is None)
