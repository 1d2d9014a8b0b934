"""The model page's Experiment panel and progressive canary, in a real browser: the verdict
sentence from real predictions and delayed feedback, then a canary started, paused and
aborted from the page, with its timeline from the audit log."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support import artifacts
from tests.support.controlplane import push
from tests.support.platform import local_inference
from tests.support.servers import wait_until
from tests.ui.conftest import REDIS_URL, Dashboard
from tests.ui.harness import (
    body_text,
    click,
    find,
    screenshot,
    sign_in,
    text_of,
    type_into,
    wait_for,
)

pytestmark = pytest.mark.e2e

MODEL = "ab-test"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TRUTH_CUTS = (1.0, 2.0)


@pytest.fixture(scope="module")
def replica(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real inference process, and MODEL split 50/50 between a good v1 and a worse v2."""
    home = tmp_path_factory.mktemp("replica")
    with httpx.Client(
        base_url=dashboard.url,
        headers={"Authorization": f"Bearer {dashboard.admin_token}"},
        timeout=60,
    ) as c:
        for version, cuts in (("v1", TRUTH_CUTS), ("v2", (1.4, 2.0)), ("v3", TRUTH_CUTS)):
            made = artifacts.cut_classifier(home / f"{version}.pt", cuts)
            assert push(c, made, name=MODEL, version=version).status_code == 201
        c.put(
            f"/api/v1/models/{MODEL}/deployment", json={"weights": {"v1": 50, "v2": 50}}
        ).raise_for_status()
    with local_inference(
        dashboard.url, dashboard.inference_token, home, redis_url=REDIS_URL
    ) as inference:
        wait_until(lambda: _serves(inference.url, "v2"), 60)
        yield inference.url


def _serves(url: str, version: str) -> bool:
    r = httpx.post(
        f"{url}/predict",
        json={"model": MODEL, "inputs": [[0.5, 0, 0, 0]], "version": version},
        timeout=5,
    )
    return r.status_code == 200


def _predict(replica: str, n: int) -> list[tuple[str, int]]:
    """n predictions, each with the label the world gives it later."""
    rng = random.Random(7)
    made = []
    with httpx.Client(base_url=replica, timeout=10) as c:
        for i in range(n):
            x0 = rng.uniform(0.0, 3.0)
            r = c.post(
                "/predict",
                json={"model": MODEL, "inputs": [[x0, 0, 0, 0]], "key": f"u{i}"},
            )
            assert r.status_code == 200, r.text
            made.append((r.json()["prediction_id"], sum(x0 > cut for cut in TRUTH_CUTS)))
    return made


def _label(replica: str, made: list[tuple[str, int]]) -> None:
    with httpx.Client(base_url=replica, timeout=10) as c:
        for prediction_id, truth in made:
            r = c.post("/feedback", json={"prediction_id": prediction_id, "label": truth})
            assert r.status_code == 200 and r.json()["result"] == "accepted", r.text


def _signed_in_as_admin(browser: webdriver.Chrome, dashboard: Dashboard) -> None:
    browser.get(dashboard.url + "/")
    who = wait_for("the page", lambda: text_of(browser, "whoami") or find(browser, "username"))
    if who != "admin":
        browser.delete_all_cookies()
        browser.execute_script("window.localStorage.clear(); window.sessionStorage.clear();")
        sign_in(browser, dashboard.url, "admin", dashboard.admin_password)


def test_the_verdict_sentence_is_on_the_model_page(
    dashboard: Dashboard, browser: webdriver.Chrome, replica: str
) -> None:
    made = _predict(replica, 400)
    _signed_in_as_admin(browser, dashboard)
    browser.get(f"{dashboard.url}/models/{MODEL}")
    # Before any label: the panel says ground truth is missing and how to send it.
    hint = wait_for("the no-labels hint", lambda: text_of(browser, "no-labels"), 60)
    assert "No ground truth yet" in hint and "/feedback" in hint and "prediction_id" in hint
    example = browser.execute_script(
        "return document.querySelector('#no-labels pre, #no-labels code').innerText"
    )
    assert example.startswith("curl -s ") and "/feedback" in example, example
    verdict = text_of(browser, "verdict-v2") or ""
    assert "accuracy not compared: no labelled predictions yet" in verdict, verdict
    _label(replica, made)
    # The labels reach the control plane a little after the replica accepts them, and the
    # verdict can show before the last ones count: wait for all 400.
    verdict = wait_for(
        "the verdict of v2 against v1 on all 400 labels",
        lambda: (t := text_of(browser, "verdict-v2")) and "n = 400" in t and t,
        60,
    )
    print(f"dashboard verdict: {verdict!r}")
    assert "v1 is more accurate than v2: " in verdict and "p = " in verdict
    assert " points [" in verdict  # the effect, with its interval
    # The figures say what traffic they cover, and what counts as a difference.
    window = text_of(browser, "experiment-window") or ""
    assert "since the current split took effect at " in window, window
    thresholds = text_of(browser, "thresholds") or ""
    assert "latency beyond 10 % and 1 ms" in thresholds and "accuracy beyond 1 point," in (
        thresholds
    )
    effects = browser.execute_script(
        "return [...document.querySelectorAll('tr.effect')].map(r => r.innerText)"
    )
    (accuracy,) = [e for e in effects if "accuracy" in e]
    assert "±1 point" in accuracy and "worse" in accuracy, effects
    assert any("latency" in e and "p50" in e for e in effects), effects
    assert find(browser, "no-labels") is None  # every version has labels now
    row = wait_for("v2's numbers", lambda: text_of(browser, "experiment-v2"))
    assert "challenger" in row and "50%" in row
    screenshot(browser, "20-model-experiment")
    if os.environ.get("PIER_UPDATE_SCREENSHOTS"):  # the README's picture, on request
        card = browser.find_element(By.ID, "experiment")
        (DOCS / "experiment.png").write_bytes(card.screenshot_as_png)
    # The model's own thresholds, set on the page: a refused value is named beside its
    # field; 20 points makes the 14-point accuracy difference not worth declaring.
    field = "#threshold-accuracy_points"
    wait_for("the thresholds form", lambda: find(browser, "threshold-accuracy_points"))
    type_into(browser, field, Keys.CONTROL, "a", Keys.DELETE)
    type_into(browser, field, "lots")
    click(browser, "#thresholds-save")
    refused = wait_for("the refusal", lambda: text_of(browser, "error-threshold-accuracy_points"))
    assert "accuracy_points" in refused and "number" in refused, refused
    type_into(browser, field, Keys.CONTROL, "a", Keys.DELETE)
    type_into(browser, field, "20")
    # ~150 requests each cannot rule out a 1-point error-rate difference: allow 5.
    type_into(browser, "#threshold-error_points", Keys.CONTROL, "a", Keys.DELETE)
    type_into(browser, "#threshold-error_points", "5")
    click(browser, "#thresholds-save")
    verdict = wait_for(
        "the verdict under the new threshold",
        lambda: (t := text_of(browser, "verdict-v2")) and "no meaningful difference" in t and t,
        30,
    )
    assert "(threshold ±20 points)" in verdict, verdict
    with httpx.Client(
        base_url=dashboard.url, headers={"Authorization": f"Bearer {dashboard.admin_token}"}
    ) as c:
        events = c.get("/api/v1/audit", params={"model": MODEL}).json()
        assert events[0]["action"] == "thresholds.set" and events[0]["actor"] == "admin"
        c.put(f"/api/v1/models/{MODEL}/thresholds", json={"thresholds": {}}).raise_for_status()


def test_a_progressive_canary_starts_pauses_and_aborts_from_the_page(
    dashboard: Dashboard, browser: webdriver.Chrome, replica: str
) -> None:
    click(browser, "#canary-v3 button")
    wait_for("the canary dialog", lambda: find(browser, "canary-steps"))
    type_into(browser, "#canary-steps", Keys.CONTROL, "a", Keys.DELETE)
    type_into(browser, "#canary-steps", "10,100")
    type_into(browser, "#canary-interval", Keys.CONTROL, "a", Keys.DELETE)
    type_into(browser, "#canary-interval", "3600")
    # The gates, with their defaults, and one set by hand.
    defaults = {
        "max_p99_ratio": "1.5",
        "max_p99_increase_ms": "5",
        "max_error_rate_increase": "1",
        "min_requests": "100",
        "min_labelled": "200",
    }
    for field, value in defaults.items():
        gate = find(browser, f"gate-{field}")
        assert gate is not None and gate.get_attribute("value") == value, field
    type_into(browser, "#gate-max_p99_increase_ms", Keys.CONTROL, "a", Keys.DELETE)
    type_into(browser, "#gate-max_p99_increase_ms", "abc")
    wait_for(
        "the gate's problem in the dialog",
        lambda: "expected a number, got 'abc'" in body_text(browser),
    )
    type_into(browser, "#gate-max_p99_increase_ms", Keys.CONTROL, "a", Keys.DELETE)
    type_into(browser, "#gate-max_p99_increase_ms", "20")
    preview = wait_for(
        "a preview of the first step",
        lambda: (t := text_of(browser, "pending-preview")) and "10%" in t and t,
    )
    assert "v1" in preview and "90%" in preview
    type_into(browser, "#reason", "v3 from the dashboard")
    click(browser, "#confirm")
    wait_for(
        "the canary running",
        lambda: "v3 vs v1: running at 10 %" in (text_of(browser, "canary-status") or ""),
        30,
    )
    # Pause and abort ask first, like deploy and rollback, with a reason for the log.
    click(browser, "#canary-pause button")
    wait_for("the pause dialog", lambda: find(browser, "reason"))
    type_into(browser, "#reason", "holding for the weekend")
    click(browser, "#confirm")
    wait_for(
        "the canary paused",
        lambda: "paused at 10 %" in (text_of(browser, "canary-status") or ""),
        30,
    )
    click(browser, "#canary-abort button")
    preview = wait_for(
        "the abort dialog's preview",
        lambda: (t := text_of(browser, "pending-preview")) and "100%" in t and t,
    )
    assert "v1" in preview and "v3" in preview, preview
    type_into(browser, "#reason", "v3 answers slower in the evening")
    click(browser, "#confirm")
    wait_for(
        "the canary aborted",
        lambda: "aborted" in (text_of(browser, "canary-status") or ""),
        30,
    )
    timeline = wait_for(
        "the timeline with every step",
        lambda: (t := text_of(browser, "canary-timeline")) and "abort" in t and t,
        30,
    )
    for action in ("start", "pause", "abort"):
        assert action in timeline, timeline
    assert "v3 from the dashboard" in timeline
    assert "holding for the weekend" in timeline and "v3 answers slower" in timeline
    screenshot(browser, "21-model-canary-timeline")
    with httpx.Client(
        base_url=dashboard.url, headers={"Authorization": f"Bearer {dashboard.admin_token}"}
    ) as c:
        assert c.get(f"/api/v1/models/{MODEL}/deployment").json()["weights"] == {"v1": 100}
        (latest,) = c.get(f"/api/v1/models/{MODEL}/canaries", params={"limit": 1}).json()
    assert latest["status"] == "aborted" and latest["created_by"] == "admin"
    assert latest["gates"]["max_p99_increase_ms"] == 20
    summary = latest["summary"]
    assert summary["outcome"] == "aborted" and summary["by"] == "admin"
    assert summary["weight"] == 10 and "v3 answers slower" in summary["reason"]
    assert {g["gate"] for g in summary["gates"]} >= {"error rate", "latency", "traffic"}
    # The finished canary keeps its summary, gates and verdict on the page: in its card,
    # and in the Experiment panel, which has no split to compare any more.
    browser.refresh()
    shown = wait_for(
        "the summary in both cards",
        lambda: (
            (
                t := browser.execute_script(
                    "return [...document.querySelectorAll('.canary-summary')].map(e => e.innerText)"
                )
            )
            and len(t) == 2
            and t
        ),
        30,
    )
    for text in shown:
        assert "v3 vs v1: aborted at 10 % by admin" in text and "Verdict: " in text, text
        assert summary["verdict"] in text and "latency: " in text, text
    timeline = text_of(browser, "canary-timeline") or ""
    assert "verdict: " + summary["verdict"] in timeline, timeline
    screenshot(browser, "22-model-canary-summary")
