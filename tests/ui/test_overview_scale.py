"""The overview with 100 models of 20 versions each: load time, server side and in the browser.

A benchmark that prints its figures (run with `-s` to see them); it asserts what the user
sees, never how fast. The 2,000 versions are written as rows directly: test data for the
read path, which is what is measured (pushing 2,000 artifacts through the check would
measure torch, not the dashboard). Every figure is of the machine the test runs on.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from sqlalchemy import func
from sqlmodel import col, delete, select

from control_plane.composition import build_platform
from control_plane.db.engine import session_scope
from control_plane.db.tables import Deployment, DeploymentRevision, Model, ModelVersion
from control_plane.services import catalog, web_sessions
from control_plane.ui.pages.index_state import PAGE_SIZE, read_overview
from control_plane.ui.session_state import COOKIE
from tests.support import artifacts
from tests.ui.conftest import Dashboard
from tests.ui.harness import click, screenshot, text_of, wait_for

pytestmark = pytest.mark.e2e

MODELS = 100
VERSIONS = 20


def seed(dashboard: Dashboard) -> float:
    started = time.perf_counter()
    with session_scope(dashboard.settings) as session:
        for m in range(MODELS):
            model = Model(name=f"scale-{m:03d}", created_by="seed")
            session.add(model)
            session.flush()
            assert model.id is not None
            session.add_all(
                ModelVersion(
                    model_id=model.id,
                    label=f"v{v}",
                    seq=v,
                    sha256=f"{m:032x}{v:032x}",
                    size=9735,
                    format="torchscript",
                    inputs=artifacts.IRIS_INPUTS,
                    outputs=artifacts.IRIS_OUTPUTS,
                    metrics={"accuracy": 0.9},
                    created_by="seed",
                )
                for v in range(1, VERSIONS + 1)
            )
            weights = {f"v{VERSIONS}": 90, f"v{VERSIONS - 1}": 10}
            rev = DeploymentRevision(model_id=model.id, weights=weights, created_by="seed")
            session.add(rev)
            session.flush()
            assert rev.id is not None
            session.add(
                Deployment(model_id=model.id, weights=weights, revision=rev.id, updated_by="seed")
            )
    return time.perf_counter() - started


def unseed(dashboard: Dashboard) -> None:
    """Remove the seeded models: their artifacts do not exist, so a replica that later follows
    the shared dashboard could never load its routing table."""
    with session_scope(dashboard.settings) as session:
        ids = session.exec(select(Model.id).where(col(Model.name).startswith("scale-"))).all()
        for table in (Deployment, DeploymentRevision, ModelVersion):
            session.exec(delete(table).where(col(table.model_id).in_(ids)))
        session.exec(delete(Model).where(col(Model.id).in_(ids)))


@pytest.fixture
def seeded(dashboard: Dashboard) -> Iterator[float]:
    try:
        yield seed(dashboard)
    finally:
        unseed(dashboard)


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples):.1f} ms, max {max(samples):.1f} ms"


def test_the_overview_of_100_models_of_20_versions(
    dashboard: Dashboard, browser: webdriver.Chrome, seeded: float
) -> None:
    seconds = seeded
    with session_scope(dashboard.settings) as session:
        total = session.exec(select(func.count()).select_from(Model)).one()
        versions = session.exec(select(func.count()).select_from(ModelVersion)).one()
    assert total >= MODELS and versions >= MODELS * VERSIONS

    # Server side: the catalog query alone, then everything the page's poll reads.
    catalog_ms = []
    for _ in range(20):
        t0 = time.perf_counter()
        with session_scope(dashboard.settings) as session:
            page = catalog.catalog_page(session, offset=0, limit=PAGE_SIZE)
        catalog_ms.append((time.perf_counter() - t0) * 1000)
    assert len(page.models) == PAGE_SIZE and page.total == total

    ctx = build_platform(dashboard.settings)
    token = signed_in_token(dashboard)
    overview_ms = []
    try:
        for _ in range(10):
            t0 = time.perf_counter()
            data = read_overview(ctx, token, 0, "", datetime.now(UTC))
            overview_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        ctx.close_metrics()
    assert len(data.rows) == PAGE_SIZE

    # In the browser: from navigation to the first page of models on screen.
    # Signed in with the web session opened above (the sign-in form has its own test):
    # a fresh client, then the session cookie the form would have set.
    browser.get(dashboard.url + "/login")
    browser.delete_all_cookies()
    browser.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")
    browser.add_cookie({"name": COOKIE, "value": token, "path": "/"})
    page_ms = []
    for _ in range(3):
        browser.get(dashboard.url + "/")
        wait_for("the first page of models", lambda: rows_shown(browser) == PAGE_SIZE, 60)
        page_ms.append(browser.execute_script("return performance.now()"))
    label = text_of(browser, "page-label") or ""
    assert f"of {-(-total // PAGE_SIZE)} · {total} models" in label
    screenshot(browser, "12-overview-100-models")

    first_row = text_of(browser, "models") or ""
    t0 = time.perf_counter()
    click(browser, "#next-page")
    wait_for(
        "the second page",
        lambda: (
            "Page 2" in (text_of(browser, "page-label") or "")
            and (text_of(browser, "models") or "") != first_row
        ),
    )
    next_ms = (time.perf_counter() - t0) * 1000

    print(
        f"\noverview with {total} models / {versions} versions (seeded in {seconds:.1f} s), "
        "PostgreSQL, this machine:"
        f"\n  catalog_page (one page of {PAGE_SIZE}):     {ms(catalog_ms)}"
        f"\n  read_overview (+ health, metrics):  {ms(overview_ms)}"
        f"\n  browser, navigation to {PAGE_SIZE} rows:     {ms(page_ms)}"
        f"\n  browser, Next page to new rows:     {next_ms:.0f} ms"
    )


def rows_shown(browser: webdriver.Chrome) -> int:
    return len(browser.find_elements(By.CSS_SELECTOR, "#models tbody tr"))


def signed_in_token(dashboard: Dashboard) -> str:
    """A web session for the admin, opened the way the sign-in page opens one."""
    with session_scope(dashboard.settings) as session:
        opened = web_sessions.sign_in(session, "admin", dashboard.admin_password, datetime.now(UTC))
    return opened.secret
