"""The model page's charts in a real browser, under real traffic without labels: each change
of traffic marked with what changed, who and why; the empty accuracy chart saying that it
needs ground truth; and the overview's figures naming their window."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.support import artifacts
from tests.support.controlplane import push
from tests.support.platform import local_inference
from tests.support.servers import wait_until
from tests.ui.conftest import REDIS_URL, Dashboard
from tests.ui.harness import find, screenshot, sign_in, text_of, wait_for

pytestmark = pytest.mark.e2e

MODEL = "marked"
ROW = [5.1, 3.5, 1.4, 0.2]
REASON = "v2 on a fifth of the traffic"
CHARTS = ("chart-rps", "chart-latency", "chart-errors", "chart-accuracy")


def _serves(url: str, version: str) -> bool:
    r = httpx.post(
        f"{url}/predict", json={"model": MODEL, "inputs": [ROW], "version": version}, timeout=5
    )
    return r.status_code == 200


@pytest.fixture(scope="module")
def traffic(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MODEL's v1 deployed, then split 80/20 with v2 by the admin, under ten unlabelled
    predictions a second from a real inference process."""
    home = tmp_path_factory.mktemp("replica")
    with dashboard.api() as c:
        for version, seed in (("v1", 0), ("v2", 1)):
            made = artifacts.torchscript(home / f"{version}.pt", seed=seed)
            assert push(c, made, name=MODEL, version=version).status_code == 201
        c.post(
            f"/api/v1/models/{MODEL}/deploy", json={"version": "v1", "reason": "first release"}
        ).raise_for_status()
    with local_inference(
        dashboard.url, dashboard.inference_token, home, redis_url=REDIS_URL
    ) as inference:
        wait_until(lambda: _serves(inference.url, "v1"), 60)
        stop = threading.Event()
        sender = threading.Thread(target=_send, args=(inference.url, stop))
        sender.start()
        try:
            time.sleep(3)
            with dashboard.api() as c:
                c.put(
                    f"/api/v1/models/{MODEL}/deployment",
                    json={"weights": {"v1": 80, "v2": 20}, "reason": REASON},
                ).raise_for_status()
            wait_until(lambda: _serves(inference.url, "v2"), 60)
            yield inference.url
        finally:
            stop.set()
            sender.join()


def _send(url: str, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=10) as c:
        while not stop.wait(0.1):
            c.post("/predict", json={"model": MODEL, "inputs": [ROW]})


def _layout(driver: webdriver.Chrome, chart_id: str) -> dict[str, Any] | None:
    """The chart's drawn annotations and shapes, as Plotly holds them in the page."""
    found: dict[str, Any] | None = driver.execute_script(
        """
        const div = document.getElementById(arguments[0]);
        if (!div || !div.layout) return null;
        return {
            annotations: (div.layout.annotations || []).map(a => ({
                text: a.text || '', hover: a.hovertext || ''})),
            shapes: (div.layout.shapes || []).map(s => ({type: s.type, x: s.x0})),
            title: (div.layout.title || {}).text || '',
            values: (div.data || []).flatMap(t => Array.from(t.y || [])),
        };
        """,
        chart_id,
    )
    return found


def _split_marker(driver: webdriver.Chrome, chart_id: str) -> str | None:
    layout = _layout(driver, chart_id) or {"annotations": []}
    return next((a["hover"] for a in layout["annotations"] if "Split change" in a["hover"]), None)


def _with_requests(driver: webdriver.Chrome) -> dict[str, Any] | None:
    found = _layout(driver, "chart-rps")
    return found if found is not None and any(found["values"]) else None


def _signed_in(browser: webdriver.Chrome, dashboard: Dashboard) -> None:
    browser.get(dashboard.url + "/")
    who = wait_for("the page", lambda: text_of(browser, "whoami") or find(browser, "username"))
    if who != "admin":
        browser.delete_all_cookies()
        browser.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")
        sign_in(browser, dashboard.url, "admin", dashboard.admin_password)


def test_every_chart_marks_the_split_with_what_who_and_why(
    dashboard: Dashboard, browser: webdriver.Chrome, traffic: str
) -> None:
    _signed_in(browser, dashboard)
    browser.get(f"{dashboard.url}/models/{MODEL}")
    for chart in CHARTS:
        hover = wait_for(f"the split's marker on {chart}", partial(_split_marker, browser, chart))
        assert "v1 → 80 %, v2 → 20 %, was v1 → 100 %" in hover, hover
        assert f"by admin: {REASON}" in hover, hover
        layout = _layout(browser, chart)
        assert layout is not None and len(layout["shapes"]) == 2, layout  # deploy and split
        assert any(
            "Deploy" in a["hover"] and "first release" in a["hover"] for a in layout["annotations"]
        )
        assert "2 s steps · last 5 min" in layout["title"], layout["title"]

    # Pointing at the marker shows its text, as a person would read it.
    marker = browser.find_elements(By.CSS_SELECTOR, "#chart-rps g.annotation")[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", marker)
    ActionChains(browser).move_to_element(marker).perform()
    label = wait_for(
        "the marker's hover label",
        lambda: browser.execute_script(
            "const h = document.querySelector('#chart-rps .hoverlayer');"
            "return h && h.textContent.includes('Split change') ? h.textContent : null;"
        ),
        10,
    )
    assert REASON in label, label
    screenshot(browser, "chart-markers-hover")


def test_the_empty_accuracy_chart_asks_for_ground_truth_while_requests_flow(
    dashboard: Dashboard, browser: webdriver.Chrome, traffic: str
) -> None:
    _signed_in(browser, dashboard)
    browser.get(f"{dashboard.url}/models/{MODEL}")
    rps = wait_for("requests on the chart", partial(_with_requests, browser), 60)
    assert not [a["text"] for a in rps["annotations"] if not a["hover"]]  # no empty state
    layout = _layout(browser, "chart-accuracy")
    assert layout is not None
    [hint] = [a["text"] for a in layout["annotations"] if not a["hover"]]
    assert "No labelled predictions in this window" in hint, hint
    assert "ground truth" in hint and "POST /feedback" in hint, hint
    browser.execute_script("document.getElementById('charts').scrollIntoView();")
    screenshot(browser, "chart-markers-model-page")


def test_the_overview_names_the_window_of_each_figure(
    dashboard: Dashboard, browser: webdriver.Chrome, traffic: str
) -> None:
    _signed_in(browser, dashboard)
    browser.get(dashboard.url + "/")
    table = wait_for("the models table", lambda: text_of(browser, "models"))
    assert "Requests/s, last 1 min" in table and "p99, last 5 min" in table, table
    assert "Errors, last 5 min" in table, table
    # About ten a second, read over the last minute rather than five.
    rate = wait_for(f"{MODEL}'s rate", lambda: text_of(browser, f"rate-{MODEL}"), 60)
    wait_for(f"{MODEL}'s rate near ten a second, read {rate}", lambda: _rate(browser) > 6, 60)
    screenshot(browser, "chart-markers-overview")


def _rate(browser: webdriver.Chrome) -> float:
    text = text_of(browser, f"rate-{MODEL}") or ""
    return float(text) if text.replace(".", "", 1).isdigit() else 0.0
