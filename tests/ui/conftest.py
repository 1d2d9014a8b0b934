"""One dashboard for the whole tests/ui package: the Reflex prod app on a throwaway
PostgreSQL database, Redis for routing wake-ups, and one headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from selenium import webdriver

from control_plane.db.engine import migrate, session_scope
from control_plane.launcher.bootstrap import ensure_inference_token
from control_plane.services import auth
from control_plane.settings import PierSettings
from tests.support.pg import temporary_database
from tests.support.servers import free_port
from tests.ui.harness import chromium, running_dashboard, screenshot

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Dashboard:
    url: str
    settings: PierSettings
    admin_password: str
    admin_token: str
    inference_token: str

    def api(self) -> httpx.Client:
        """The REST API as the admin, to set up and check what the browser did."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=60
        )


@pytest.fixture(scope="package")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    with temporary_database() as db_url:
        home = tmp_path_factory.mktemp("pier-home")
        port = free_port()
        settings = PierSettings(
            home=home,
            port=port,
            database_url=db_url,
            redis_url=REDIS_URL,
            public_url=f"http://127.0.0.1:{port}",
        )
        migrate(settings)
        with session_scope(settings) as session:
            creds = auth.bootstrap_admin(session, settings.credentials_path, settings.public_url)
        assert creds is not None
        with session_scope(settings) as session:
            inference_token = ensure_inference_token(session, home / "inference-token")
        with running_dashboard(settings, tmp_path_factory.mktemp("reflex")) as url:
            yield Dashboard(url, settings, creds.password, creds.token, inference_token)


@pytest.fixture(scope="package")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    driver = chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test leaves a screenshot of what the browser showed."""
    report = yield
    if report.when == "call" and report.failed and "browser" in getattr(item, "funcargs", {}):
        screenshot(item.funcargs["browser"], f"FAILED-{item.name}")
    return report
