"""python -m inference.models.check and the loader refuse unsafe artifacts without running them."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from inference.errors import UnsupportedArtifact
from inference.models.check import check
from inference.models.loader import detect_format
from tests.inference.models import FEATURES, PROBABILITIES, Artifact

SPECS_IN = json.dumps([s.model_dump() for s in FEATURES])
SPECS_OUT = json.dumps([s.model_dump() for s in PROBABILITIES])


class Touch:
    """Unpickling this creates a file: proof that pickled code ran."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.target), "w"))


class Shell:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.target}",))


def run_cli(path: Path, outputs: str = SPECS_OUT) -> tuple[int, dict]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "inference.models.check",
            "--artifact",
            str(path),
            "--inputs",
            SPECS_IN,
            "--outputs",
            outputs,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    return result.returncode, json.loads(lines[0])


def test_cli_accepts_torchscript_and_refuses_a_pickle(
    artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    assert run_cli(artifacts["v1"].path) == (0, {"ok": True, "format": "torchscript"})
    marker = tmp_path / "pwned"
    bad = tmp_path / "model.pt"
    bad.write_bytes(pickle.dumps(Shell(marker)))
    code, verdict = run_cli(bad)
    assert code == 1 and verdict["ok"] is False
    assert "not a zip archive" in verdict["error"] and "TorchScript" in verdict["error"]
    assert not marker.exists()


def test_accepts_an_export_program(artifacts: dict[str, Artifact]) -> None:
    assert check(artifacts["export"].path, SPECS_IN, SPECS_OUT) == {
        "ok": True,
        "format": "torch_export",
    }


def test_output_specs_are_checked(artifacts: dict[str, Artifact]) -> None:
    wrong = json.dumps([{"name": "probabilities", "dtype": "int64", "shape": [-1, 5]}])
    verdict = check(artifacts["v1"].path, SPECS_IN, wrong)
    assert verdict["ok"] is False
    assert "output probabilities: expected [-1, 5] int64, got [3, 3] float32" in str(
        verdict["error"]
    )


def test_input_specs_that_do_not_fit_the_model(artifacts: dict[str, Artifact]) -> None:
    wrong_in = json.dumps([{"name": "features", "dtype": "float32", "shape": [-1, 7]}])
    verdict = check(artifacts["v1"].path, wrong_in, SPECS_OUT)
    assert verdict["ok"] is False and "the model failed" in str(verdict["error"])


def test_invalid_specs(artifacts: dict[str, Artifact]) -> None:
    verdict = check(artifacts["v1"].path, '[{"name": "x", "dtype": "complex"}]', SPECS_OUT)
    assert verdict["ok"] is False and "invalid tensor specs" in str(verdict["error"])


def malicious_artifacts(tmp_path: Path, marker: Path) -> dict[str, Path]:
    """Every way we know to smuggle a pickle in, each of which would create ``marker``."""
    made: dict[str, Path] = {}
    for name, payload in (("open", Touch(marker)), ("system", Shell(marker))):
        raw = tmp_path / f"raw-{name}.pt"
        raw.write_bytes(pickle.dumps(payload))
        made[f"raw pickle ({name})"] = raw
        wrapped = tmp_path / f"saved-{name}.pt"
        torch.save(payload, wrapped)
        made[f"torch.save zip ({name})"] = wrapped
    legacy = tmp_path / "legacy.pt"
    torch.save(Touch(marker), legacy, _use_new_zipfile_serialization=False)
    made["legacy torch.save"] = legacy
    return made


def replace_member(source: Path, target: Path, suffix: str, data: bytes) -> Path:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename.endswith(suffix) else src.read(info))
    return target


def tampered_archives(
    artifacts: dict[str, Artifact], tmp_path: Path, marker: Path
) -> dict[str, Path]:
    """Genuine archives whose pickles were swapped for malicious ones."""
    buffer = io.BytesIO()
    torch.save(Touch(marker), buffer)
    sample = replace_member(
        artifacts["export"].path,
        tmp_path / "sample.pt2",
        "data/sample_inputs/model.pt",
        buffer.getvalue(),
    )
    config = tmp_path / "config.pt2"
    with zipfile.ZipFile(artifacts["export"].path) as src:
        name = next(n for n in src.namelist() if n.endswith("model_weights_config.json"))
        weights = json.loads(src.read(name))
    for entry in weights["config"].values():
        entry["use_pickle"] = True
    replace_member(
        artifacts["export"].path, config, "model_weights_config.json", json.dumps(weights).encode()
    )
    script = replace_member(
        artifacts["v1"].path,
        tmp_path / "script.pt",
        "/data.pkl",
        pickle.dumps(Touch(marker), protocol=2),
    )
    return {
        "pt2 sample inputs": sample,
        "pt2 pickled weights": config,
        "torchscript data.pkl": script,
    }


def test_pickles_are_refused_and_never_run(tmp_path: Path, artifacts: dict[str, Artifact]) -> None:
    marker = tmp_path / "pwned"
    cases = malicious_artifacts(tmp_path, marker) | tampered_archives(artifacts, tmp_path, marker)
    for label, path in cases.items():
        verdict = check(path, SPECS_IN, SPECS_OUT)
        assert verdict["ok"] is False, label
        assert not marker.exists(), f"{label}: unpickling ran"


def test_plain_torch_save_of_a_module_is_refused_before_loading(tmp_path: Path) -> None:
    from tests.inference.models import Classifier

    path = tmp_path / "module.pt"
    torch.save(Classifier(1), path)
    with pytest.raises(UnsupportedArtifact, match=r"saved with torch\.save; Pier never unpickles"):
        detect_format(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "not a zip"), (b"hello", "not a zip"), (b"PK\x05\x06" + b"\0" * 18, "empty")],
)
def test_other_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(UnsupportedArtifact, match=message):
        detect_format(path)


def test_a_zip_without_a_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("root/readme.txt", "hi")
    with pytest.raises(UnsupportedArtifact, match="not a model Pier recognises"):
        detect_format(path)


def test_pt2_with_aotinductor_code_is_refused(
    artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    path = tmp_path / "aoti.pt2"
    with zipfile.ZipFile(artifacts["export"].path) as src, zipfile.ZipFile(path, "w") as dst:
        root = src.namelist()[0].split("/")[0]
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(f"{root}/data/aotinductor/model/model.so", b"\x7fELF")
    with pytest.raises(UnsupportedArtifact, match=r"data/aotinductor/model/model\.so"):
        detect_format(path)
