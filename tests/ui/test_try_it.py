"""The model page's Try it card in Chromium: an image sent to a classifier comes back as
labels; a traced model uploaded through the dashboard answers JSON inputs; each with the
version that answered and the time. The example requests it shows run as they are."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By

from control_plane.schemas import TensorSpec
from control_plane.ui.views.examples import examples
from tests.support import artifacts, zoo
from tests.support.controlplane import push
from tests.support.platform import local_inference
from tests.support.servers import wait_until
from tests.ui.conftest import REDIS_URL, Dashboard
from tests.ui.harness import click, find, sign_in, text_of, upload, wait_for

pytestmark = pytest.mark.e2e

LABELS = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead"]
IMAGE_IN = {
    "name": "image",
    "dtype": "float32",
    "shape": [-1, 3, 64, 64],
    "preprocess": {"image": {"resize": 72, "crop": 64}},
}
LABELS_OUT = {
    "name": "logits",
    "dtype": "float32",
    "shape": [-1, 5],
    "postprocess": {"classify": {"labels": LABELS, "top_k": 3, "softmax": True}},
}
TABULAR_YAML = """model:
  name: "tabular"
  version: "v1"
  artifact: "model.pt"
  inputs:  [{name: "features", dtype: "float32", shape: [-1, 4]}]
  outputs: [{name: "probabilities", dtype: "float32", shape: [-1, 3]}]
"""
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "try-it.png"


@pytest.fixture(scope="module")
def replica(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real inference process serving an image classifier and a tensor model (both traced)."""
    home = tmp_path_factory.mktemp("replica")
    mobilenet = next(s for s in zoo.ZOO if s.name == "mobilenet")
    zoo.save(mobilenet, "trace", home / "fish.pt")
    with dashboard.api() as c:
        made = push(
            c, home / "fish.pt", name="fish", version="v1", inputs=[IMAGE_IN], outputs=[LABELS_OUT]
        )
        assert made.status_code == 201, made.text
        table = artifacts.traced(home / "table.pt", seed=5)
        assert push(c, table, name="table", version="v1").status_code == 201
        for model in ("fish", "table"):
            c.post(f"/api/v1/models/{model}/deploy", json={"version": "v1"}).raise_for_status()
    with local_inference(
        dashboard.url, dashboard.inference_token, home, redis_url=REDIS_URL
    ) as inference:
        try:
            _wait_ready(inference.url, "fish")
            _wait_ready(inference.url, "table")
        except AssertionError as e:
            e.add_note(f"inference log tail:\n{inference.log()[-3000:]}")
            raise
        yield inference.url


def _wait_ready(url: str, model: str) -> None:
    ready = f"{url}/v2/models/{model}/ready"
    wait_until(lambda: httpx.get(ready, timeout=5).status_code == 200, 120)


def _jpeg(path: Path) -> Path:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG", quality=90)
    return path


def _open_try(browser: webdriver.Chrome, dashboard: Dashboard, model: str) -> None:
    browser.get(f"{dashboard.url}/models/{model}")
    wait_for("the Try it card", lambda: find(browser, "try"))
    wait_for(
        "the version to be chosen",
        lambda: "v1" in (text_of(browser, "try-version") or ""),
    )


def test_an_image_comes_back_as_labels_with_the_version_and_time(
    replica: str, dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    sign_in(browser, dashboard.url, "admin", dashboard.admin_password)
    _open_try(browser, dashboard, "fish")
    chooser = wait_for(
        "the image chooser",
        lambda: browser.find_element(By.CSS_SELECTOR, "#try input[type=file]"),
    )
    chooser.send_keys(str(_jpeg(tmp_path / "fish.jpg")))
    wait_for("the chosen image", lambda: "fish.jpg" in (text_of(browser, "try") or ""))
    click(browser, "#try-send-image")
    verdict = wait_for("the answer", lambda: text_of(browser, "try-verdict") or None, 60)
    assert verdict.startswith("HTTP 200 · answered by v1 in "), verdict
    assert verdict.endswith("ms (round trip)")
    answer = text_of(browser, "try-answer") or ""
    assert '"label"' in answer and any(label in answer for label in LABELS), answer
    examples_text = text_of(browser, "try-examples") or ""
    assert "X-Pier-Model: fish" in examples_text and "image/jpeg" in examples_text
    size = browser.get_window_size()
    browser.set_window_size(1280, 1600)  # the whole card in view
    try:
        card = browser.find_element(By.ID, "try")
        browser.execute_script("arguments[0].scrollIntoView()", card)
        shot = tmp_path / "try-it.png"
        shot.write_bytes(card.screenshot_as_png)
    finally:
        browser.set_window_size(size["width"], size["height"])
    if os.environ.get("PIER_UPDATE_SCREENSHOTS"):  # the docs' picture, on request
        shutil.copyfile(shot, SCREENSHOT)


def test_a_traced_model_uploaded_in_the_dashboard_answers_json_inputs(
    replica: str, dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    artifacts.traced(tmp_path / "model.pt", seed=4)
    (tmp_path / "pier.yaml").write_text(TABULAR_YAML)
    sign_in(browser, dashboard.url, "admin", dashboard.admin_password)
    upload(browser, dashboard.url, tmp_path / "pier.yaml", tmp_path / "model.pt")
    pushed = wait_for("the push result", lambda: text_of(browser, "upload-result"), 120)
    assert "Pushed tabular@v1" in pushed, pushed
    with dashboard.api() as c:
        c.post("/api/v1/models/tabular/deploy", json={"version": "v1"}).raise_for_status()
    _wait_ready(replica, "tabular")
    _open_try(browser, dashboard, "tabular")
    wait_for(
        "the sample inputs",
        lambda: "0.0" in (find(browser, "try-inputs").get_attribute("value") or ""),
    )
    click(browser, "#try-send")
    verdict = wait_for("the answer", lambda: text_of(browser, "try-verdict") or None, 60)
    assert verdict.startswith("HTTP 200 · answered by v1"), verdict
    assert '"outputs"' in (text_of(browser, "try-answer") or "")


def test_the_example_requests_run_as_shown(replica: str, tmp_path: Path) -> None:
    image_specs = [TensorSpec.model_validate(IMAGE_IN)]
    table_specs = [TensorSpec.model_validate(s) for s in artifacts.IRIS_INPUTS]
    _jpeg(tmp_path / "image.jpg")
    for model, specs in (("fish", image_specs), ("table", table_specs)):
        shown = examples(replica, model, "v1", specs)
        curl = subprocess.run(
            ["bash", "-c", shown["curl"]], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert curl.returncode == 0 and '"version":"v1"' in curl.stdout, curl.stdout + curl.stderr
        for client in ("Python requests", "tritonclient"):
            ran = subprocess.run(
                [sys.executable, "-c", shown[client]],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert ran.returncode == 0, f"{model} {client}:\n{shown[client]}\n{ran.stderr}"
            assert ran.stdout.strip(), f"{model} {client} printed nothing"
