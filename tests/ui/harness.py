"""Driving the real dashboard: the Reflex prod app as a process, headless Chromium, screenshots."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from control_plane.settings import PierSettings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "tests" / "ui" / "artifacts"
"""Screenshots of every page land here (git-ignored); look at them after a run."""
START_DEADLINE_S = 240.0  # a cold build installs the frontend packages once
PAGE_DEADLINE_S = 30.0
WIDTH = 1400

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], deadline_s: float = PAGE_DEADLINE_S) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            result = probe()
        except WebDriverException:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_s:.0f} s waiting for {what}")
        time.sleep(0.1)


def reflex_env() -> dict[str, str]:
    """The variables of scripts/reflex-env.sh, the one place they are defined."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "reflex-env.sh")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if not Path(env["REFLEX_BUN_PATH"]).is_file():
        pytest.fail(f"no bun at {env['REFLEX_BUN_PATH']}: run `make tools` first")
    return env


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextmanager
def running_dashboard(settings: PierSettings, work: Path) -> Iterator[str]:
    """`reflex run --env prod` on the settings' port, as the launcher starts it; yields its URL."""
    port = str(settings.port)
    env = {
        **os.environ,
        **reflex_env(),
        "PIER_HOME": str(settings.home),
        "PIER_PORT": port,
        "PIER_DATABASE_URL": settings.database_url,
        "PIER_REDIS_URL": settings.redis_url,
        # Its own build and state directories: a `make run` in the checkout is left alone.
        "REFLEX_WEB_WORKDIR": str(work / ".web"),
        "REFLEX_STATES_WORKDIR": str(work / ".states"),
    }
    log_path = work / "reflex.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "reflex", "run", "--env", "prod"),
                *("--frontend-port", port, "--backend-port", port, "--backend-host", "127.0.0.1"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown stops every child
        )
    url = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"reflex exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            page = httpx.get(f"{url}/", timeout=2)
            ping = httpx.get(f"{url}/ping", timeout=2)
        except httpx.HTTPError:
            return False
        return page.status_code == 200 and ping.status_code == 200

    try:
        wait_for("the dashboard to answer", serving, START_DEADLINE_S)
        yield url
    finally:
        stop(proc)
    # A handler that failed showed the user Reflex's generic error: that is a bug here too.
    log_text = log_path.read_text(errors="replace")
    if "Traceback" in log_text:
        pytest.fail(
            "the dashboard logged an exception:\n" + log_text[log_text.index("Traceback") :][:4000]
        )


def chromium(profile: Path) -> webdriver.Chrome:
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.fail("the browser tests need chromium and chromedriver: run `make browser`")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},1000",
    ):
        options.add_argument(flag)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_OFFLINE", "true")  # Selenium Manager must not try to download a driver
        return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


def find(driver: webdriver.Chrome, element_id: str) -> WebElement | None:
    try:
        return driver.find_element(By.ID, element_id)
    except WebDriverException:
        return None


def text_of(driver: webdriver.Chrome, element_id: str) -> str | None:
    element = find(driver, element_id)
    return (element.text or None) if element is not None else None


def retrying(what: str, action: Callable[[], T]) -> T:
    """Run a browser action again when React re-rendered the element under it."""

    def attempt() -> tuple[T] | None:
        try:
            return (action(),)
        except (StaleElementReferenceException, ElementClickInterceptedException):
            return None

    return wait_for(what, attempt)[0]


def click(driver: webdriver.Chrome, css: str) -> None:
    """Scroll the element to the middle of the window first, as a person would: at the top
    edge it can sit under the sticky navigation bar and the click lands on the bar."""

    def once() -> None:
        element = driver.find_element(By.CSS_SELECTOR, css)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    retrying(f"a click on {css}", once)


def type_into(driver: webdriver.Chrome, css: str, *keys: str) -> None:
    retrying(
        f"typing into {css}", lambda: driver.find_element(By.CSS_SELECTOR, css).send_keys(*keys)
    )


def body_text(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """The whole page, beyond the window, as Chromium renders it (DevTools capture)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def sign_in(driver: webdriver.Chrome, url: str, username: str, password: str) -> None:
    # Start signed out: a session left by an earlier test would redirect away from the form
    # while it is being filled in.
    driver.get(url + "/login")
    driver.delete_all_cookies()
    # A new Reflex client token too (it lives in session storage): with the old one the
    # server-side state may still hold the earlier user and bounce between pages.
    driver.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")
    driver.get(url + "/login")
    wait_for("the sign-in form", lambda: find(driver, "username"))
    # The form may re-render while the page hydrates: each step retries on a stale element.
    type_into(driver, "#username", username)
    type_into(driver, "#password", password)
    click(driver, "#sign-in")
    wait_for(f"{username} to be signed in", lambda: text_of(driver, "whoami") == username)


def sign_out(driver: webdriver.Chrome) -> None:
    wait_for("the sign-out button", lambda: find(driver, "sign-out")).click()
    wait_for("the sign-in page", lambda: "/login" in driver.current_url)


def upload(driver: webdriver.Chrome, url: str, *files: Path) -> None:
    """Choose `files` on the upload page and push them."""
    driver.get(url + "/upload")
    chooser = wait_for(
        "the file chooser", lambda: driver.find_element(By.CSS_SELECTOR, "input[type=file]")
    )
    chooser.send_keys("\n".join(str(f) for f in files))
    wait_for(
        "the chosen files to be listed",
        lambda: all(f.name in (text_of(driver, "chosen-files") or "") for f in files),
    )
    driver.find_element(By.CSS_SELECTOR, "#push button").click()
