"""The model page's Scaling card in a real browser: the current settings in words, changed
from the form (audited, served by the API), and a bad value refused with a sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from tests.support import artifacts
from tests.support.controlplane import push
from tests.ui.conftest import Dashboard
from tests.ui.harness import click, find, screenshot, sign_in, text_of, type_into, wait_for

pytestmark = pytest.mark.e2e

MODEL = "scaled-ui"


@pytest.fixture(scope="module")
def model(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> str:
    home: Path = tmp_path_factory.mktemp("scaling-ui")
    with dashboard.api() as c:
        made = artifacts.torchscript(home / "v1.pt")
        assert push(c, made, name=MODEL, version="v1").status_code == 201
        c.post(f"/api/v1/models/{MODEL}/deploy", json={"version": "v1"}).raise_for_status()
    return MODEL


def _replace(browser: webdriver.Chrome, selector: str, text: str) -> None:
    type_into(browser, selector, Keys.CONTROL, "a")
    type_into(browser, selector, text)


def test_scaling_settings_are_shown_and_changed_from_the_model_page(
    dashboard: Dashboard, browser: webdriver.Chrome, model: str
) -> None:
    browser.get(dashboard.url + "/")
    who = wait_for("the page", lambda: text_of(browser, "whoami") or find(browser, "username"))
    if who != "admin":
        browser.delete_all_cookies()
        sign_in(browser, dashboard.url, "admin", dashboard.admin_password)
    browser.get(f"{dashboard.url}/models/{model}")
    now = wait_for("the settings", lambda: text_of(browser, "scaling-now"), 30)
    assert "1-3 replicas" in now and "(the defaults)" in now

    _replace(browser, "#scaling-max", "two")
    click(browser, "#scaling-save button")
    refusal = wait_for("the refusal", lambda: text_of(browser, "error-scaling-max"), 30)
    assert refusal == "max_replicas: expected a whole number, got 'two'."

    _replace(browser, "#scaling-min", "2")
    _replace(browser, "#scaling-max", "5")
    _replace(browser, "#scaling-window", "90")
    # The metric stays what the form shows (cpu by default): the target is a CPU percent.
    _replace(browser, "#scaling-target", "60")
    click(browser, "#scaling-save button")
    shown = wait_for(
        "the new settings",
        lambda: (t := text_of(browser, "scaling-now")) and "2-5 replicas" in t and t,
        30,
    )
    assert "60 % CPU" in shown and "after 90 s" in shown and "defaults" not in shown
    with dashboard.api() as c:
        found = c.get(f"/api/v1/models/{MODEL}/scaling").json()
        (event,) = c.get(
            "/api/v1/audit", params={"model": MODEL, "action": "scaling.set", "limit": 1}
        ).json()
    s = found["scaling"]
    assert (s["min_replicas"], s["max_replicas"], s["target_cpu_utilization"]) == (2, 5, 60)
    assert s["scale_down"]["stabilization_window_s"] == 90
    assert event["actor"] == "admin" and event["reason"] == "from the dashboard"
    screenshot(browser, "23-model-scaling")
