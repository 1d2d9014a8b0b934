"""Autoscaling in the dashboard during a load spike, in headless Chromium, as `pier up` runs it.
With PIER_UPDATE_SCREENSHOTS set, the page during the spike becomes the README's picture
(docs/screenshots/autoscaling-spike.png)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from selenium import webdriver

from control_plane.backends.local.autoscaler import available_cores
from control_plane.backends.local.orchestrator import LocalOrchestrator
from control_plane.settings import PierSettings
from tests.scaling.load import WORKER_ENV, Load, spike_scaling
from tests.support import artifacts
from tests.support.controlplane import bootstrap, push
from tests.support.pg import temporary_database
from tests.support.platform import local_inference, running_autoscaler
from tests.support.servers import free_port
from tests.ui.harness import (
    ROOT,
    body_text,
    chromium,
    running_dashboard,
    screenshot,
    sign_in,
    wait_for,
)

pytestmark = pytest.mark.e2e

SCREENSHOT = ROOT / "docs" / "screenshots" / "autoscaling-spike.png"
REDIS_URL = "redis://127.0.0.1:6379/0"
# A scale-down window long enough that a spike on two shared cores (the browser and the
# dashboard take their share) does not flap between 2 and 3; scaling down is the other
# test's business.
SCALING = spike_scaling(scale_down_window_s=120)
TOP = min(3, available_cores())  # the autoscaler adds no worker beyond the cores


@dataclass
class Platform:
    url: str
    password: str
    orchestrator: LocalOrchestrator


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp("home")
    with temporary_database() as db_url:
        port = free_port()
        settings = PierSettings(
            home=home,
            port=port,
            database_url=db_url,
            redis_url=REDIS_URL,
            public_url=f"http://127.0.0.1:{port}",
        )
        tokens = bootstrap(settings)
        password = json.loads(settings.credentials_path.read_text())["password"]
        with running_dashboard(settings, tmp_path_factory.mktemp("reflex")) as url:
            model = artifacts.slow(home / "slow.pt", rounds=12)
            headers = {"Authorization": f"Bearer {tokens.admin}"}
            with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
                assert push(c, model, name="iris", version="v1").status_code == 201
                c.post("/api/v1/models/iris/deploy", json={"version": "v1"}).raise_for_status()
                r = c.put("/api/v1/models/iris/scaling", json={"scaling": SCALING})
                assert r.status_code == 200, r.text
            with (
                local_inference(
                    url,
                    tokens.inference,
                    home,
                    scalable=True,
                    env=WORKER_ENV,
                    redis_url=REDIS_URL,
                ) as inference,
                running_autoscaler(settings, inference, interval_s=1.0),
            ):
                yield Platform(url, password, inference.orchestrator)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    driver = chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield driver
    finally:
        driver.quit()


def replicas_line(driver: webdriver.Chrome) -> list[float]:
    ys: list[float] | None = driver.execute_script(
        """
        const div = document.getElementById('chart-replicas');
        if (!div || !div.data || !div.data.length) return null;
        return Array.from(div.data[0].y || []);
        """
    )
    return [y for y in ys or [] if y is not None]


def test_the_model_page_shows_replicas_rise_and_the_reason(
    platform: Platform, browser: webdriver.Chrome
) -> None:
    sign_in(browser, platform.url, "admin", platform.password)
    browser.get(platform.url + "/models/iris")
    wait_for("the replicas chart", lambda: replicas_line(browser))
    load = Load(platform.orchestrator.url, clients=8)
    started = time.monotonic()
    load.start()
    try:
        # The chart follows the autoscaler's events: its step line reaches the top while
        # the spike lasts, and the title counts the replicas serving now.
        try:
            wait_for(
                f"the chart to show {TOP} replicas",
                lambda: max(replicas_line(browser)) >= TOP,
                120,
            )
            wait_for(
                f"the {TOP} workers to serve",
                lambda: f"Replicas ({TOP} serving now)" in browser.page_source,
                60,
            )
        except BaseException:
            screenshot(browser, "FAILED-autoscaling-spike")
            raise
        time.sleep(3)  # a few more seconds of the spike on the latency and load charts
        shot = screenshot(browser, "autoscaling-spike")
        if os.environ.get("PIER_UPDATE_SCREENSHOTS"):  # the README's picture, on request
            shutil.copyfile(shot, SCREENSHOT)
        spike_s = time.monotonic() - started
    finally:
        load.finish()
    failures = [s for s in load.samples if not s.ok]
    print(
        f"\nspike: {len(load.samples)} requests in {spike_s:.0f} s, {len(failures)} failed;"
        f" screenshot {shot}"
    )
    assert failures == [], [f.detail for f in failures[:5]]

    browser.get(platform.url + "/activity?model=iris")

    def decision_logged() -> str | None:
        text = body_text(browser)
        return text if "scale up 1 -> " in text else None

    text = wait_for("the autoscaler's decision in the activity log", decision_logged)
    assert "autoscaler" in text and "inflight" in text and "vs target 2" in text
    screenshot(browser, "autoscaling-activity")
    assert Path(SCREENSHOT).stat().st_size > 10_000
