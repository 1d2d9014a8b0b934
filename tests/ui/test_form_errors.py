"""A refused form says what is wrong beside the field, in Pier's words: the settings page's
forms, the model page's Scaling card and the pier.yaml of an upload."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support import artifacts
from tests.support.controlplane import push
from tests.ui.conftest import Dashboard
from tests.ui.harness import click, find, screenshot, sign_in, text_of, type_into, upload, wait_for

pytestmark = pytest.mark.e2e

MODEL = "form-errors"


@pytest.fixture(scope="module")
def model(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> str:
    home: Path = tmp_path_factory.mktemp("form-errors")
    with dashboard.api() as c:
        made = artifacts.torchscript(home / "v1.pt")
        assert push(c, made, name=MODEL, version="v1").status_code == 201
        c.post(f"/api/v1/models/{MODEL}/deploy", json={"version": "v1"}).raise_for_status()
    return MODEL


def as_admin(dashboard: Dashboard, browser: webdriver.Chrome) -> None:
    browser.get(dashboard.url + "/")
    who = wait_for("the page", lambda: text_of(browser, "whoami") or find(browser, "username"))
    if who != "admin":
        sign_in(browser, dashboard.url, "admin", dashboard.admin_password)


def value_of(browser: webdriver.Chrome, css: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, css).get_attribute("value") or ""


def replace(browser: webdriver.Chrome, css: str, text: str) -> None:
    type_into(browser, css, Keys.CONTROL, "a")
    type_into(browser, css, text)


def test_the_settings_forms_say_what_is_wrong_beside_the_field(
    dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    as_admin(dashboard, browser)
    browser.get(dashboard.url + "/settings")
    wait_for("the token form", lambda: find(browser, "token-form"))
    type_into(browser, "#token-form [name=name]", "nightly")
    type_into(browser, "#token-form [name=expires_in_days]", "0")
    click(browser, "#issue-token")
    beside = wait_for(
        "the expiry's problem", lambda: text_of(browser, "error-token-expires_in_days")
    )
    assert beside == "expires_in_days: expected at least 1, got 0."
    assert find(browser, "error-token-name") is None
    # Refused, the form keeps what was typed, so it can be corrected.
    assert value_of(browser, "#token-form [name=name]") == "nightly"
    screenshot(browser, "40-settings-token-refused")

    replace(browser, "#token-form [name=expires_in_days]", "30")
    click(browser, "#issue-token")
    wait_for("the new token's secret", lambda: text_of(browser, "new-secret"))
    assert find(browser, "error-token-expires_in_days") is None
    assert value_of(browser, "#token-form [name=name]") == ""

    type_into(browser, "#user-form [name=username]", "no spaces please")
    type_into(browser, "#user-form [name=password]", "short")
    click(browser, "#add-user")
    name = wait_for("the username's problem", lambda: text_of(browser, "error-user-username"))
    assert name == (
        "username: expected 1-64 letters, digits, '_', '.' or '-', got 'no spaces please'."
    )
    password = text_of(browser, "error-user-password")
    assert password == "password: expected at least 12 characters, got 5."


def test_the_scaling_form_puts_each_problem_under_its_input(
    dashboard: Dashboard, browser: webdriver.Chrome, model: str
) -> None:
    as_admin(dashboard, browser)
    browser.get(f"{dashboard.url}/models/{model}")
    wait_for("the settings", lambda: text_of(browser, "scaling-now"), 30)
    replace(browser, "#scaling-min", "4")
    replace(browser, "#scaling-max", "2")
    replace(browser, "#scaling-target", "170")
    click(browser, "#scaling-save button")
    target = wait_for("the target's problem", lambda: text_of(browser, "error-scaling-target"), 30)
    assert target == "target_cpu_utilization: expected at most 100, got 170."
    screenshot(browser, "41-scaling-refused")

    replace(browser, "#scaling-target", "70")
    click(browser, "#scaling-save button")
    bounds = wait_for("the bounds' problem", lambda: text_of(browser, "error-scaling-max"), 30)
    assert bounds == "max_replicas (2) must be at least min_replicas (4)."
    wait_for("the target's problem to go", lambda: find(browser, "error-scaling-target") is None)
    with dashboard.api() as c:
        assert c.get(f"/api/v1/models/{model}/scaling").json()["custom"] is False


def test_an_uploaded_pier_yaml_with_a_typo_suggests_the_key(
    dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    as_admin(dashboard, browser)
    artifact = tmp_path / "model.pt"
    artifact.write_bytes(b"never read: the manifest is refused first")
    manifest = artifacts.manifest(tmp_path, artifact, name="typo", version="v1")
    manifest.write_text(manifest.read_text().replace("framework:", "framwork:"))
    upload(browser, dashboard.url, manifest, artifact)
    error = wait_for("the upload's problem", lambda: text_of(browser, "upload-error"), 120)
    assert "model.framwork: unknown key; did you mean `framework`?" in error
    assert "Extra inputs" not in error
    screenshot(browser, "42-upload-typo")
