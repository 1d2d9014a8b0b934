"""pier.yaml's `scaling:` section: validated with the API's rules, applied on deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_plane.composition import build_platform
from control_plane.db.engine import migrate, session_scope
from control_plane.errors import InvalidRequest
from control_plane.launcher.bootstrap import register_example
from control_plane.pier_yaml import load_manifest
from control_plane.schemas import ScalingSettings
from control_plane.services import audit
from control_plane.services.scaling import get_scaling
from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.pg import temporary_database

SECTION = """
scaling:
  min_replicas: 2
  max_replicas: 5
  target_metric: rps
  target_value: 40
  scale_down:
    stabilization_window_s: 60
    policies: [{type: Pods, value: 1, period_s: 30}]
"""


def manifest_with(tmp_path: Path, extra: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    artifact = artifacts.torchscript(tmp_path / "v1.pt")
    path = artifacts.manifest(tmp_path, artifact, version="v1")
    path.write_text(path.read_text() + extra)
    return path


def test_the_section_is_read_as_the_apis_settings(tmp_path: Path) -> None:
    m = load_manifest(manifest_with(tmp_path, SECTION))
    assert m.scaling is not None
    assert (m.scaling.min_replicas, m.scaling.max_replicas) == (2, 5)
    assert (m.scaling.target_metric, m.scaling.target_value) == ("rps", 40)
    assert m.scaling.scale_down.stabilization_window_s == 60
    assert m.scaling.scale_up == ScalingSettings().scale_up  # left out: the defaults
    # No section: nothing to apply, the model keeps what it has.
    assert load_manifest(manifest_with(tmp_path / "none", "")).scaling is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("scaling: {min_replicas: 4, max_replicas: 2}", "at least min_replicas (4)"),
        ("scaling: {target_metric: rps}", "needs target_value"),
        ("scaling: {max_replicas: 0}", "scaling.max_replicas: expected at least 1, got 0"),
        ("scaling: {replicas: 3}", "scaling.replicas: unknown key; did you mean"),
        (
            "scaling: {scale_up: {stabilization_window_s: -1, policies: []}}",
            "scaling.scale_up.stabilization_window_s",
        ),
        ("scaling: [1, 2]", "scaling: expected a mapping of keys to values, got a list"),
    ],
)
def test_bad_settings_name_the_file_and_the_field(
    tmp_path: Path, section: str, message: str
) -> None:
    path = manifest_with(tmp_path, section + "\n")
    with pytest.raises(InvalidRequest) as e:
        load_manifest(path)
    assert str(path) in e.value.message and message in e.value.message, e.value.message


def test_pier_up_applies_the_bundled_examples_scaling_on_deploy(tmp_path: Path) -> None:
    path = manifest_with(tmp_path, SECTION)
    with temporary_database() as db_url:
        settings = PierSettings(home=tmp_path / "home", database_url=db_url)
        migrate(settings)
        with session_scope(settings) as session:
            assert register_example(build_platform(settings), session, path) == "iris@v1"
        with session_scope(settings) as session:
            got = get_scaling(session, "iris")
            (event,) = audit.list_events(session, model="iris", action="scaling.set")
        assert got.custom and got.scaling == load_manifest(path).scaling
        assert event.reason == "from pier.yaml" and event.after == got.scaling.model_dump(
            mode="json"
        )
