"""A version's own batching, from its pier.yaml to the routing table replicas read: what
it sets reaches them, what it leaves out keeps the replicas' settings, and bad values are
refused with what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_plane.errors import InvalidRequest
from control_plane.pier_yaml import load_manifest
from tests.control_plane.conftest import Api
from tests.support import artifacts
from tests.support.controlplane import error_message, push

UNSET = {"max_rows": None, "max_wait_ms": None}


def manifest_with(tmp_path: Path, line: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    artifact = artifacts.torchscript(tmp_path / "v1.pt")
    path = artifacts.manifest(tmp_path, artifact, version="v1")
    path.write_text(path.read_text() + line + "\n")
    return path


def test_the_manifest_reads_the_batching_of_its_model(tmp_path: Path) -> None:
    m = load_manifest(manifest_with(tmp_path, "  batching: {max_rows: 8, max_wait_ms: 0.5}"))
    assert m.version_create("0" * 64)["batching"] == {"max_rows": 8, "max_wait_ms": 0.5}
    plain = load_manifest(manifest_with(tmp_path / "plain", ""))
    assert plain.version_create("0" * 64)["batching"] == {}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("  batching: {max_rows: 0}", "batching.max_rows: expected at least 1, got 0"),
        ("  batching: {max_wait_ms: 5000}", "max_wait_ms: expected at most 1000, got 5000"),
        ("  batching: {rows: 8}", "batching.rows: unknown key; did you mean `max_rows`?"),
    ],
)
def test_bad_batching_in_a_manifest_is_refused_clearly(
    tmp_path: Path, line: str, message: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        load_manifest(manifest_with(tmp_path, line))
    assert message in str(raised.value)


def test_a_versions_batching_reaches_the_routing_table(api: Api, models_dir: Path) -> None:
    batching = {"max_rows": 8, "max_wait_ms": 1.5}
    with api.client() as c:
        made = push(c, models_dir / "v1.pt", name="batched", version="v1", batching=batching)
        assert made.status_code == 201, made.text
        assert made.json()["version"]["batching"] == batching
        assert push(c, models_dir / "v2.pt", name="batched", version="v2").status_code == 201
        shown = c.get("/api/v1/models/batched/versions/v2").json()
        assert shown["batching"] == UNSET
        half = {"max_rows": 1}
        third = push(c, models_dir / "v3.pt", name="batched", version="v3", batching=half)
        assert third.json()["version"]["batching"] == {"max_rows": 1, "max_wait_ms": None}

        deployed = c.put(
            "/api/v1/models/batched/deployment", json={"weights": {"v1": 50, "v2": 50}}
        )
        assert deployed.status_code == 200, deployed.text
        route = next(m for m in c.get("/api/v1/routing").json()["models"] if m["name"] == "batched")
        by_version = {v["version"]: v["batching"] for v in route["versions"]}
        assert by_version == {"v1": batching, "v2": UNSET}

        bad = push(c, models_dir / "v4.pt2", name="batched", version="v4",
                   batching={"max_rows": 10_000})  # fmt: skip
        assert bad.status_code == 422
        assert "max_rows" in error_message(bad) and "4096" in error_message(bad)
