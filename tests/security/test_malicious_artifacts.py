"""Attack group 1: model artifacts that would run code, escape their folder or exhaust
memory when loaded. Each is refused with a clear message, at push (over HTTP, through the
real `inference.models.check` child process) and by the replica's loader, and the sentinel file
that unpickling would create never appears."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from control_plane.errors import InvalidRequest, PayloadTooLarge
from control_plane.services import bundles
from inference.errors import InferenceError
from inference.models.loader import load_model
from inference.schemas import TensorSpec
from tests.security import hostile
from tests.security.conftest import Plane
from tests.support import artifacts
from tests.support.controlplane import error_message, push

INPUTS = [TensorSpec.model_validate(s) for s in artifacts.IRIS_INPUTS]
OUTPUTS = [TensorSpec.model_validate(s) for s in artifacts.IRIS_OUTPUTS]
BOMB_BYTES = 256 * 1024 * 1024

Builder = Callable[[Path, Path, Path], Path]

# name -> (how to build it from a good TorchScript file, a phrase the refusal must contain)
CASES: dict[str, tuple[Builder, str]] = {
    "plain pickle renamed .pt": (
        lambda good, d, trap: artifacts.raw_pickle(d / "model.pt", trap),
        "not a zip archive",
    ),
    "torch.save of a module": (
        lambda good, d, trap: artifacts.pickled_module(d / "model.pt", trap),
        "pickled module",
    ),
    "TorchScript with an extra pickle": (
        lambda good, d, trap: hostile.torchscript_with_extra_pickle(good, d / "model.pt", trap),
        "extra.pkl",
    ),
    "TorchScript whose data.pkl opens a file": (
        lambda good, d, trap: hostile.torchscript_with_poisoned_data(good, d / "model.pt", trap),
        "io.open when unpickled",
    ),
    "zip member named ../": (
        lambda good, d, trap: hostile.torchscript_with_escaping_names(good, d / "m.pt", False),
        "outside the archive",
    ),
    "zip member with an absolute name": (
        lambda good, d, trap: hostile.torchscript_with_escaping_names(good, d / "m.pt", True),
        "outside the archive",
    ),
    "zip bomb": (
        lambda good, d, trap: hostile.torchscript_with_bomb(good, d / "m.pt", BOMB_BYTES),
        "compressed",
    ),
}


@pytest.fixture(params=list(CASES), ids=list(CASES))
def hostile_artifact(
    request: pytest.FixtureRequest, good_model: Path, tmp_path: Path
) -> tuple[Path, Path, str]:
    build, phrase = CASES[request.param]
    trap = tmp_path / "pwned"
    return build(good_model, tmp_path, trap), trap, phrase


def test_push_refuses_it_without_running_it(
    plane: Plane, hostile_artifact: tuple[Path, Path, str]
) -> None:
    path, trap, phrase = hostile_artifact
    with plane.client("deployer") as c:
        r = push(c, path, name="attack")
        assert r.status_code == 422, r.text
        message = error_message(r)
        print(f"{path.name}: {r.status_code} {message}")
        assert phrase in message
        assert "TorchScript" in message, "the refusal says what is accepted"
        assert c.get("/api/v1/models/attack").status_code == 404, "nothing was registered"
    assert not trap.exists(), "pickled code ran"


def test_the_replica_loader_refuses_it(hostile_artifact: tuple[Path, Path, str]) -> None:
    """A replica handed such a file (a tampered cache, a bypassed push) refuses it too."""
    path, trap, phrase = hostile_artifact
    with pytest.raises(InferenceError) as refused:
        load_model(path, "torchscript", INPUTS, OUTPUTS)
    assert phrase in refused.value.message
    assert not trap.exists(), "pickled code ran"


def test_a_genuine_model_still_passes(plane: Plane, good_model: Path) -> None:
    with plane.client("deployer") as c:
        r = push(c, good_model, name="honest")
        assert r.status_code == 201, r.text


def _manifest(artifact: str = "model.pt") -> bytes:
    lines = [
        "model:",
        "  name: bundled",
        f"  artifact: {artifact}",
        "  inputs: [{name: features, dtype: float32, shape: [-1, 4]}]",
        "  outputs: [{name: probabilities, dtype: float32, shape: [-1, 3]}]",
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("name", ["../../pier-escape.pt", "/tmp/pier-escape.pt"])
def test_an_uploaded_bundle_cannot_write_outside_its_folder(
    tmp_path: Path, good_model: Path, name: str
) -> None:
    """The dashboard's upload unpacks archives on the server: names that escape are refused
    before anything is written."""
    upload = tmp_path / "upload"
    upload.mkdir()
    bundle = hostile.bundle_zip(
        upload / "bundle.zip",
        {"pier.yaml": _manifest(), "model.pt": good_model.read_bytes(), name: b"escaped"},
    )
    with pytest.raises(InvalidRequest, match="outside itself"):
        bundles.find_manifest(bundle.parent, max_bytes=8 * 1024 * 1024)
    escaped = [p for p in (tmp_path / "pier-escape.pt", Path("/tmp/pier-escape.pt")) if p.exists()]
    assert escaped == []


def test_an_uploaded_bundle_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    upload.mkdir()
    bomb = hostile.bundle_bomb(upload / "bundle.zip", _manifest(), BOMB_BYTES)
    ratio = hostile.compression_ratio(bomb)
    print(f"bundle bomb: {bomb.stat().st_size} bytes inflating to {BOMB_BYTES} ({ratio:.0f}x)")
    with pytest.raises(PayloadTooLarge, match="unpacks to more than"):
        bundles.find_manifest(upload, max_bytes=8 * 1024 * 1024)
    assert not any(p.name == "model.pt" for p in upload.rglob("*")), "nothing was inflated"
