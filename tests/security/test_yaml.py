"""Attack group 7: pier.yaml is read with a safe loader only; unknown keys, wrong types,
anchors and alias bombs ("billion laughs"), tags that would build Python objects and
artifacts outside the manifest's folder each get a clear error naming the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from control_plane.errors import InvalidRequest
from control_plane.pier_yaml import load_manifest
from tests.support import artifacts

ROOT = Path(__file__).resolve().parents[2]

GOOD = """model:
  name: iris
  artifact: model.pt
  inputs: [{name: features, dtype: float32, shape: [-1, 4]}]
  outputs: [{name: probabilities, dtype: float32, shape: [-1, 3]}]
"""

BILLION_LAUGHS = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

CASES = {
    "unknown key": (GOOD + "  replicas: 3\n", "replicas"),
    "unknown top-level key": (GOOD + "deploy: {everywhere: true}\n", "deploy"),
    "wrong type": (GOOD.replace("[-1, 4]", "[-1, four]"), "inputs"),
    "string for a list": (GOOD.replace("inputs: [", "inputs: 'x' #["), "inputs"),
    "billion laughs": (GOOD + BILLION_LAUGHS.replace("a:", "x:", 1), "anchors"),
    "bomb inside the model": (
        GOOD.replace("model:\n", "model:\n  description: &x [*y]\n", 1),
        "anchors",
    ),
    "python tag": (
        GOOD + "  metrics: !!python/object/apply:os.system ['touch /tmp/pier-yaml-pwned']\n",
        "python/object",
    ),
    "not a mapping": ("- just\n- a list\n", "model"),
    "artifact outside the folder": (GOOD.replace("model.pt", "../model.pt"), "artifact"),
    "absolute artifact": (GOOD.replace("model.pt", "/etc/passwd"), "artifact"),
}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("m")
    return artifacts.torchscript(d / "model.pt")


def test_a_good_manifest_loads(model: Path) -> None:
    (model.parent / "pier.yaml").write_text(GOOD)
    assert load_manifest(model.parent / "pier.yaml").model.name == "iris"


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_manifests_get_a_clear_error(model: Path, tmp_path: Path, case: str) -> None:
    text, phrase = CASES[case]
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "model.pt").write_bytes(model.read_bytes())
    (tmp_path / "model.pt").write_bytes(model.read_bytes())  # a file just outside the folder
    path = folder / "pier.yaml"
    path.write_text(text)
    with pytest.raises(InvalidRequest) as refused:
        load_manifest(path)
    message = refused.value.message
    print(f"{case}: {message[:200]}")
    assert str(path) in message and phrase in message
    assert not Path("/tmp/pier-yaml-pwned").exists()


def test_the_cli_reports_it_and_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "pier.yaml"
    path.write_text(GOOD + BILLION_LAUGHS.replace("a:", "x:", 1))
    r = subprocess.run(
        [str(Path(sys.executable).parent / "pier"), "push", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PIER_URL": "http://127.0.0.1:9", "PIER_TOKEN": "pier_x", "PATH": "/usr/bin"},
        check=False,
    )
    assert r.returncode != 0
    assert "anchors" in r.stdout + r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]


def test_only_the_safe_loader_is_used() -> None:
    offenders = []
    for source in [
        *ROOT.joinpath("control_plane").rglob("*.py"),
        *ROOT.joinpath("inference").rglob("*.py"),
    ]:
        text = source.read_text()
        for unsafe in (
            "yaml.load(",
            "yaml.unsafe_load",
            "yaml.full_load",
            "yaml.Loader",
            "UnsafeLoader",
        ):
            if unsafe in text:
                offenders.append(f"{source.relative_to(ROOT)}: {unsafe}")
    assert offenders == []
