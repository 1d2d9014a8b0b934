"""The dashboard in a real browser, against the real Reflex app in prod mode.

Reflex runs as `python -m reflex run --env prod` on one free port, exactly as the
launcher starts it, with the environment of scripts/reflex-env.sh, its own web build
directory, and PIER_HOME in a temporary directory whose SQLite database is migrated.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from control_plane.artifacts import ArtifactChecker, ArtifactStore
from control_plane.db import migrate, session_scope
from control_plane.schemas import Principal, Role, TensorSpec, VersionCreate
from control_plane.services import deployments, registry
from control_plane.settings import PierSettings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "examples" / "iris"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
START_DEADLINE_S = 180.0  # a cold build downloads the frontend packages once
PAGE_DEADLINE_S = 30.0

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], deadline_s: float) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_s:.0f} s waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> PierSettings:
    home = tmp_path_factory.mktemp("pier-home")
    settings = PierSettings(home=home, port=free_port(), database_url="", redis_url="")
    migrate(settings)
    return settings


@pytest.fixture(scope="module")
def dashboard(settings: PierSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The control plane's URL while `reflex run --env prod` serves it."""
    work = tmp_path_factory.mktemp("reflex")
    port = str(settings.port)
    env = {
        **os.environ,
        **reflex_env(),
        "PIER_HOME": str(settings.home),
        "PIER_PORT": port,
        "PIER_DATABASE_URL": settings.database_url,
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


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
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
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_OFFLINE", "true")  # Selenium Manager must not try to download a driver
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def text_of(driver: webdriver.Chrome, element_id: str) -> str | None:
    try:
        return driver.find_element(By.ID, element_id).text or None
    except WebDriverException:
        return None


def push_iris(settings: PierSettings) -> str:
    """Register and deploy examples/iris through the services, as the API would."""
    store = ArtifactStore(settings.artifact_root)

    async def chunks() -> AsyncIterator[bytes]:
        yield (IRIS / "model.pt").read_bytes()

    stored = asyncio.run(store.ingest(chunks(), settings.max_artifact_bytes))
    admin = Principal(username="alice", role=Role.admin, token_name="test")
    spec = VersionCreate(
        version="v1.0.0",
        sha256=stored.sha256,
        inputs=[TensorSpec(name="features", dtype="float32", shape=[-1, 4])],
        outputs=[TensorSpec(name="probabilities", dtype="float32", shape=[-1, 3])],
        metrics={"accuracy": 0.9667},
    )
    checker = ArtifactChecker(timeout_s=settings.check_timeout_s)
    with session_scope(settings) as session:
        registry.push_version(session, store, checker, admin, "iris", spec)
    with session_scope(settings) as session:
        deployments.deploy(session, admin, "iris", "v1.0.0", reason="dashboard test")
    return stored.sha256


def test_empty_catalog_tells_how_to_push(dashboard: str, browser: webdriver.Chrome) -> None:
    browser.get(dashboard + "/")
    hint = wait_for(
        "the empty-catalog hint", lambda: text_of(browser, "empty-hint"), PAGE_DEADLINE_S
    )
    assert "pier push examples/iris/pier.yaml" in hint
    assert browser.title == "Pier"


def test_pushed_model_appears_without_reload(
    dashboard: str, browser: webdriver.Chrome, settings: PierSettings
) -> None:
    browser.get(dashboard + "/")
    wait_for("the empty-catalog hint", lambda: text_of(browser, "empty-hint"), PAGE_DEADLINE_S)
    # A reload would drop this mark: its survival shows the page was updated in place.
    browser.execute_script("window.__pierMark = 'same page';")

    sha256 = push_iris(settings)

    wait_for("the iris card", lambda: text_of(browser, "model-iris"), PAGE_DEADLINE_S)

    def card_once_deployed() -> str | None:
        card = text_of(browser, "model-iris")
        return card if card and "v1.0.0 → 100%" in card else None

    card = wait_for("the deployment of v1.0.0 on the card", card_once_deployed, PAGE_DEADLINE_S)
    assert "iris" in card
    assert sha256[:12] in card
    assert "torchscript" in card
    assert "alice" in card
    assert browser.execute_script("return window.__pierMark") == "same page"
    assert text_of(browser, "empty-hint") is None
