"""Helpers for the monitoring tests: a clock to move, small real models, a replica on a
routing table, and a real Prometheus process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import torch

from inference.models.cache import ArtifactStore
from inference.schemas import ModelRoute, RoutingTable, TensorSpec
from tests.inference.models import (
    FEATURES,
    PROBABILITIES,
    Artifact,
    Classifier,
    save_torchscript,
)
from tests.support.servers import free_port, wait_until

ROW = [5.1, 3.5, 1.4, 0.2]
VALUE = [TensorSpec(name="value", dtype="float32", shape=[-1, 1])]
PROMETHEUS = "/usr/bin/prometheus"


class ShiftedClock:
    """Unix time plus an offset the test moves forward: days pass in no time."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Regressor(torch.nn.Module):
    """value = sum of the features: labels are easy to predict in a test."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.sum(dim=1, keepdim=True)


def make_artifacts(root: Path) -> dict[str, Artifact]:
    return {
        "v1": Artifact(
            save_torchscript(Classifier(1), root / "v1.pt"), "torchscript", FEATURES, PROBABILITIES
        ),
        "v2": Artifact(
            save_torchscript(Classifier(2), root / "v2.pt"), "torchscript", FEATURES, PROBABILITIES
        ),
        "r1": Artifact(
            save_torchscript(Regressor(), root / "r1.pt"), "torchscript", FEATURES, VALUE
        ),
    }


def table(artifacts: dict[str, Artifact]) -> RoutingTable:
    return RoutingTable(
        revision=1,
        models=[
            ModelRoute(
                name="iris",
                weights={"v1": 100},
                versions=[artifacts["v1"].spec("v1"), artifacts["v2"].spec("v2")],
            ),
            ModelRoute(name="house", weights={"r1": 100}, versions=[artifacts["r1"].spec("r1")]),
        ],
    )


def stock(cache_dir: Path, artifacts: dict[str, Artifact]) -> Path:
    """A cache a standalone replica serves from: the artifacts and the routing table."""
    store = ArtifactStore(cache_dir)
    for artifact in artifacts.values():
        store.put_file(artifact.path)
    store.save_routing(table(artifacts))
    return cache_dir


def ready(url: str) -> bool:
    return httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200


def predict(client: httpx.Client, model: str = "iris", rows: int = 1, **extra: object) -> dict:
    r = client.post("/predict", json={"model": model, "inputs": [ROW] * rows, **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def predicted_class(body: dict) -> int:
    row = body["outputs"][0]
    return int(max(range(len(row)), key=row.__getitem__))


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    from prometheus_client.parser import text_string_to_metric_families

    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(
        v
        for n, ls, v in samples(text)
        if n == name and all(ls.get(k) == x for k, x in labels.items())
    )


@dataclass
class Prometheus:
    url: str
    targets_file: Path

    def scrape(self, *targets: str) -> None:
        """Scrape these host:port targets (file-based discovery, picked up in about a second)."""
        tmp = self.targets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"targets": list(targets), "labels": {"job": "pier"}}]))
        tmp.replace(self.targets_file)

    def query(self, query: str) -> list[dict]:
        r = httpx.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=10)
        r.raise_for_status()
        return list(r.json()["data"]["result"])

    def scraped(self, target: str) -> bool:
        r = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()
        return any(
            t["labels"].get("instance") == target and t["health"] == "up"
            for t in r["data"]["activeTargets"]
        )


@contextmanager
def run_prometheus(workdir: Path) -> Iterator[Prometheus]:
    if not os.access(PROMETHEUS, os.X_OK):
        raise RuntimeError(f"{PROMETHEUS} is missing: `make prometheus` installs it")
    targets = workdir / "targets.json"
    config = workdir / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: pier\n"
        "    scrape_interval: 1s\n"
        "    scrape_timeout: 1s\n"
        f"    file_sd_configs: [{{files: ['{targets}'], refresh_interval: 1s}}]\n"
    )
    targets.write_text("[]")
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={workdir / 'data'}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: (
                proc.poll() is None and httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
            ),
            timeout=30,
        )
        yield Prometheus(url, targets)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(workdir / "data", ignore_errors=True)
