"""The dashboard in a real browser: push, deploy, split, watch and roll back, as a user does.

The tests run in order against one dashboard (tests/ui/conftest.py) and one real inference
replica polling it, each step starting where the previous one left off, as an engineer's
session would. Every page is saved as a screenshot under tests/ui/artifacts/.
"""

from __future__ import annotations

import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support import artifacts
from tests.support.platform import local_inference
from tests.ui.conftest import REDIS_URL, Dashboard
from tests.ui.harness import (
    ROOT,
    body_text,
    click,
    find,
    retrying,
    screenshot,
    sign_in,
    sign_out,
    text_of,
    type_into,
    upload,
    wait_for,
)

pytestmark = pytest.mark.e2e

IRIS = ROOT / "examples" / "iris"
ROW = [5.1, 3.5, 1.4, 0.2]
ROLLOUT_DEADLINE_S = 90.0


@pytest.fixture(scope="module")
def replica(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real inference process polling the dashboard's control plane, as `make run` starts it."""
    home = tmp_path_factory.mktemp("replica")
    with local_inference(
        dashboard.url, dashboard.inference_token, home, redis_url=REDIS_URL
    ) as inference:
        yield inference.url


def predict(client: httpx.Client, replica: str) -> httpx.Response:
    return client.post(f"{replica}/predict", json={"model": "iris", "inputs": [ROW]})


def served_versions(replica: str, n: int) -> Counter[str]:
    with httpx.Client(timeout=10) as c:
        return Counter(predict(c, replica).json()["version"] for _ in range(n))


def toast_with(driver: webdriver.Chrome, *parts: str) -> str:
    """Wait for a toast holding every part; returns its text."""

    def probe() -> str | None:
        for toast in driver.find_elements(By.CSS_SELECTOR, "[data-sonner-toast]"):
            text = toast.text
            if all(p in text for p in parts):
                return text
        return None

    return wait_for(f"a toast saying {parts}", probe, ROLLOUT_DEADLINE_S)


def confirm_with_reason(driver: webdriver.Chrome, reason: str) -> str:
    """Fill the confirmation dialog; returns the preview it showed."""
    preview = wait_for("the confirmation dialog", lambda: text_of(driver, "pending-preview"))
    type_into(driver, "#reason", reason)
    click(driver, "#confirm")
    return preview


def chart_data(driver: webdriver.Chrome, chart_id: str) -> list[dict[str, Any]] | None:
    data: list[dict[str, Any]] | None = driver.execute_script(
        """
        const div = document.getElementById(arguments[0]);
        if (!div || !div.data) return null;
        return div.data.map(t => ({name: t.name, y: Array.from(t.y || [])}));
        """,
        chart_id,
    )
    return data


def rps_values(driver: webdriver.Chrome) -> list[float | None]:
    for t in chart_data(driver, "chart-rps") or []:
        if t["name"] == "v1.0.0":
            return list(t["y"])
    return []


def latest_value(driver: webdriver.Chrome, chart_id: str, trace: str) -> float | None:
    for t in chart_data(driver, chart_id) or []:
        if t["name"] == trace:
            values = [v for v in t["y"] if v is not None]
            return values[-1] if values else None
    return None


# ---- the session, step by step ------------------------------------------------------------


def test_signing_in_is_required_and_says_what_went_wrong(
    dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    browser.get(dashboard.url + "/login")  # signed out, whatever an earlier test left
    browser.delete_all_cookies()
    browser.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")
    browser.get(dashboard.url + "/activity")
    wait_for("the redirect to the sign-in page", lambda: "/login" in browser.current_url)
    assert "next=/activity" in browser.current_url
    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "sign-in").click()
    error = wait_for("the sign-in error", lambda: text_of(browser, "sign-in-error"))
    assert error == "Wrong username or password"
    screenshot(browser, "01-sign-in-refused")

    sign_in(browser, dashboard.url, "admin", dashboard.admin_password)
    browser.get(dashboard.url + "/")
    hint = wait_for("the empty-catalog hint", lambda: text_of(browser, "empty-hint"))
    assert "pier push examples/iris/pier.yaml" in hint
    assert "Upload a version" in hint
    screenshot(browser, "02-overview-empty")
    # The tab's icon is Pier's anchor, from assets/ (Reflex's static files).
    icon = httpx.get(dashboard.url + "/favicon.ico", timeout=10)
    assert icon.status_code == 200 and icon.content == (ROOT / "assets/favicon.ico").read_bytes()


def test_upload_refuses_a_pickle_with_the_same_message_as_the_cli(
    dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    trap = tmp_path / "trap"
    bad = artifacts.pickled_module(tmp_path / "model.pt", trap)
    manifest = artifacts.manifest(tmp_path, bad, version="bad")
    upload(browser, dashboard.url, manifest, bad)
    error = wait_for("the upload error", lambda: text_of(browser, "upload-error"), 120)
    screenshot(browser, "03-upload-refused")
    assert not trap.exists(), "the pickle was opened"

    # What `pier push` gets for the same file, through the REST API of the same process.
    with httpx.Client(
        base_url=dashboard.url,
        headers={"Authorization": f"Bearer {dashboard.admin_token}"},
        timeout=120,
    ) as c:
        sha = c.post("/api/v1/artifacts", content=bad.read_bytes()).json()["sha256"]
        r = c.post(
            "/api/v1/models/iris/versions",
            json={
                "version": "bad",
                "sha256": sha,
                "inputs": artifacts.IRIS_INPUTS,
                "outputs": artifacts.IRIS_OUTPUTS,
            },
        )
    assert r.status_code == 422
    cli_message = r.json()["error"]["message"]
    assert error.lower() == cli_message.lower(), (error, cli_message)
    assert "torchscript" in error.lower()


def test_upload_pushes_a_manifest_with_its_artifact_and_an_archive(
    dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    upload(browser, dashboard.url, IRIS / "pier.yaml", IRIS / "model.pt")
    result = wait_for("the push result", lambda: text_of(browser, "upload-result"), 120)
    assert "Pushed iris@v1.0.0" in result
    assert "torchscript" in result
    screenshot(browser, "04-upload-pushed")

    bundle = tmp_path / "iris-v2.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        z.write(IRIS / "v2" / "pier.yaml", "pier.yaml")
        z.write(IRIS / "v2" / "model.pt2", "model.pt2")
    upload(browser, dashboard.url, bundle)
    result = wait_for(
        "the archive's push result",
        lambda: (t := text_of(browser, "upload-result")) and "iris@v2" in t and t,
        120,
    )
    assert "Pushed iris@v2" in result and "torch_export" in result


def test_deploy_from_the_model_page_waits_for_the_replica(
    dashboard: Dashboard, browser: webdriver.Chrome, replica: str
) -> None:
    browser.get(dashboard.url + "/models/iris")
    wait_for("the versions table", lambda: find(browser, "version-v1.0.0"))
    table = text_of(browser, "versions") or ""
    assert table.index("v2") < table.index("v1.0.0"), "newest first"
    assert "accuracy 0.9667" in table and "features float32[-1,4]" in table
    assert text_of(browser, "health") == "not deployed"

    click(browser, "#deploy-v1\\.0\\.0 button")
    preview = confirm_with_reason(browser, "first release from the browser")
    assert "v1.0.0" in preview and "100%" in preview
    toast = toast_with(browser, "Deployed iris: v1.0.0 → 100%")
    assert "serves revision" in toast, toast  # it waited for the replica, and says so
    wait_for("the deployed chip", lambda: "v1.0.0 · 100%" in (text_of(browser, "deployed") or ""))
    wait_for("the serving badge", lambda: text_of(browser, "health") == "serving")
    assert served_versions(replica, 20) == Counter({"v1.0.0": 20})

    # Disabled controls say the real reason to an admin, never the viewer's.
    def reason(element_id: str) -> str:
        return browser.find_element(By.ID, element_id).get_attribute("title") or ""

    wait_for(
        "Deploy v1.0.0 to say why it is disabled",
        lambda: "v1.0.0 already takes all of the traffic" in reason("deploy-v1.0.0"),
    )
    assert "from 0 %; v1.0.0 takes 100% now" in reason("canary-v1.0.0")
    assert browser.find_element(By.CSS_SELECTOR, "#canary-v2 button").is_enabled()
    assert "Change a share first" in reason("apply-split")
    every = [reason(i) for i in ("deploy-v1.0.0", "canary-v1.0.0", "apply-split", "rollback")]
    assert not any("viewer" in r for r in every), every


def test_a_90_10_split_is_previewed_then_applied(
    dashboard: Dashboard, browser: webdriver.Chrome, replica: str
) -> None:
    click(browser, "#add-version")
    retrying(
        "a pick of v2",
        lambda: browser.find_element(By.XPATH, "//*[@role='option'][.='v2']").click(),
    )
    wait_for("the v2 share input", lambda: find(browser, "share-v2"))
    type_into(browser, "#share-v2", Keys.CONTROL, "a")
    type_into(browser, "#share-v2", "10")
    wait_for(
        "v1.0.0 to take the other 90 %",
        lambda: browser.find_element(By.ID, "share-v1.0.0").get_attribute("value") == "90",
    )
    assert text_of(browser, "split-total") == "Total 100%"
    preview = wait_for("the split preview", lambda: text_of(browser, "split-preview"))
    assert "v1.0.0 100%" in preview and "v1.0.0 90%" in preview and "v2 10%" in preview
    screenshot(browser, "05-model-split-preview")

    click(browser, "#apply-split button")
    shown = confirm_with_reason(browser, "canary v2 at 10 %")
    assert "v2" in shown and "10%" in shown
    toast_with(browser, "New traffic split on iris: v1.0.0 → 90%, v2 → 10%", "serves revision")
    seen = served_versions(replica, 300)
    # 300 draws at 10 %: the count lies in [10, 55] with probability > 0.999.
    assert 10 <= seen["v2"] <= 55 and seen["v1.0.0"] + seen["v2"] == 300, seen


def test_live_charts_move_with_traffic_without_a_reload(
    dashboard: Dashboard, browser: webdriver.Chrome, replica: str
) -> None:
    browser.execute_script("window.__pierMark = 'same page';")
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=10) as c:
            while not stop.is_set():
                predict(c, replica)

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        first = wait_for(
            "requests per second of v1.0.0 on the chart",
            lambda: latest_value(browser, "chart-rps", "v1.0.0"),
            60,
        )
        before = chart_data(browser, "chart-rps")
        wait_for("the chart to update", lambda: chart_data(browser, "chart-rps") != before, 10)
        wait_for(
            "ten seconds of traffic on the chart",
            lambda: len([v for v in rps_values(browser) if v]) >= 10,
            60,
        )
        wait_for(
            "v2's latency on the chart",
            lambda: latest_value(browser, "chart-latency", "v2 p99"),
            60,
        )
        # Each replica's CPU and memory sit beside the charts.
        usage = wait_for(
            "the replica's CPU and memory",
            lambda: (t := text_of(browser, "replica-usage")) and "MiB" in t and t,
            30,
        )
        assert "% of a core" in usage
        assert chart_data(browser, "chart-accuracy") is not None
        screenshot(browser, "06-model-live-charts")
    finally:
        stop.set()
        sender.join()
    assert first > 0
    assert browser.execute_script("return window.__pierMark") == "same page"
    traces = {t["name"] for t in chart_data(browser, "chart-latency") or []}
    assert {"v1.0.0 p50", "v1.0.0 p95", "v1.0.0 p99", "v2 p99"} <= traces


def test_rollback_restores_the_previous_split(
    dashboard: Dashboard, browser: webdriver.Chrome, replica: str
) -> None:
    assert "v1.0.0" in (browser.find_element(By.ID, "rollback").get_attribute("title") or "")
    click(browser, "#rollback button")
    preview = confirm_with_reason(browser, "v2 is worse")
    assert "v2" in preview
    toast_with(browser, "Rolled back iris: v1.0.0 → 100%", "serves revision")
    assert served_versions(replica, 30) == Counter({"v1.0.0": 30})
    # Undone once: a second rollback would go forward, to the canary's split it undid.
    button = browser.find_element(By.CSS_SELECTOR, "#rollback button")
    wait_for("Roll back to be disabled", lambda: not button.is_enabled() or None)
    reason = browser.find_element(By.ID, "rollback").get_attribute("title") or ""
    assert "each change is undone once" in reason, reason

    browser.get(dashboard.url + "/")
    row = wait_for("iris on the overview", lambda: text_of(browser, "model-iris"))
    assert "v1.0.0 · 100%" in row and "2 versions · latest v2" in row
    wait_for("the serving badge", lambda: "serving" in (text_of(browser, "model-iris") or ""))
    screenshot(browser, "08-overview-serving")


def test_every_step_is_in_the_activity_log_as_the_api_sees_it(
    dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    browser.get(dashboard.url + "/activity")
    wait_for("the audit table", lambda: find(browser, "audit"))
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, ".audit-row")]
    actions = [next((a for a in KNOWN_ACTIONS if a in r.split()), r) for r in rows[:6]]
    assert actions == [
        "rollback",
        "deployment.set",
        "deploy",
        "version.push",
        "version.push",
        "model.create",
    ], rows[:6]
    assert "v2 is worse" in rows[0] and "v1.0.0 → 100%" in rows[0]
    assert "v1.0.0 → 90%, v2 → 10%" in rows[1] and "canary v2 at 10 %" in rows[1]
    assert all("admin" in r for r in rows[:6])
    screenshot(browser, "07-activity")

    with httpx.Client(
        base_url=dashboard.url, headers={"Authorization": f"Bearer {dashboard.admin_token}"}
    ) as c:
        api = c.get("/api/v1/audit", params={"model": "iris"}).json()
    assert [e["action"] for e in api[:3]] == ["rollback", "deployment.set", "deploy"]
    assert api[0]["reason"] == "v2 is worse"


KNOWN_ACTIONS = (
    "deployment.set",
    "rollback",
    "deploy",
    "version.push",
    "model.create",
    "token.create",
    "token.revoke",
    "user.create",
    "user.sign_in",
)


def test_admin_adds_a_viewer_who_cannot_change_anything(
    dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    browser.get(dashboard.url + "/settings")
    wait_for("the user form", lambda: find(browser, "user-form"))
    type_into(browser, "#user-form [name=username]", "vera")
    type_into(browser, "#user-form [name=password]", "a viewer's long password")
    click(browser, "#add-user")
    wait_for("vera in the users table", lambda: "vera" in body_text(browser))
    type_into(browser, "#token-form [name=name]", "ci-deploy")
    click(browser, "#issue-token")
    secret = wait_for("the new token's secret", lambda: text_of(browser, "new-secret"))
    assert secret.startswith("pier_")
    screenshot(browser, "10-settings-token-shown-once")

    sign_out(browser)
    sign_in(browser, dashboard.url, "vera", "a viewer's long password")
    browser.get(dashboard.url + "/models/iris")
    wait_for("the versions table", lambda: find(browser, "version-v2"))
    deploy = browser.find_element(By.CSS_SELECTOR, "#deploy-v2 button")
    assert not deploy.is_enabled()
    reason = browser.find_element(By.ID, "deploy-v2").get_attribute("title") or ""
    assert "viewer" in reason
    assert not browser.find_element(By.CSS_SELECTOR, "#rollback button").is_enabled()
    wait_for("the charts", lambda: chart_data(browser, "chart-latency") is not None)
    screenshot(browser, "11-model-as-viewer")

    browser.get(dashboard.url + "/settings")
    assert "Only admins" in wait_for(
        "the admins-only note", lambda: text_of(browser, "admins-only")
    )
    browser.get(dashboard.url + "/upload")
    push = wait_for(
        "the push button", lambda: browser.find_element(By.CSS_SELECTOR, "#push button")
    )
    assert not push.is_enabled()
    sign_out(browser)
