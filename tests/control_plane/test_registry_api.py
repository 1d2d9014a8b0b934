"""Registering versions over the real API, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.control_plane.conftest import Api
from tests.support import artifacts
from tests.support.controlplane import error_message, push


def test_push_registers_a_version_and_same_bytes_return_it(api: Api, models_dir: Path) -> None:
    with api.client() as c:
        first = push(c, models_dir / "v1.pt", name="reg-a", version="v1.0.0")
        assert first.status_code == 201, first.text
        v = first.json()["version"]
        assert (v["version"], v["format"], v["created_by"]) == ("v1.0.0", "torchscript", "admin")
        assert v["size"] == (models_dir / "v1.pt").stat().st_size

        again = push(c, models_dir / "v1.pt", name="reg-a", version="v1.0.0")
        assert again.status_code == 200
        assert again.json() == {"created": False, "version": v, "scaling": None}

        unlabelled = push(c, models_dir / "v1.pt", name="reg-a")
        assert unlabelled.status_code == 200
        assert unlabelled.json()["version"]["version"] == "v1.0.0"


def test_a_label_is_immutable(api: Api, models_dir: Path) -> None:
    with api.client() as c:
        assert push(c, models_dir / "v1.pt", name="reg-b", version="v1").status_code == 201
        clash = push(c, models_dir / "v2.pt", name="reg-b", version="v1")
        assert clash.status_code == 409
        assert "immutable" in error_message(clash)
        assert [v["sha256"] for v in c.get("/api/v1/models/reg-b/versions").json()] == [
            push(c, models_dir / "v1.pt", name="reg-b").json()["version"]["sha256"]
        ]


def test_versions_without_a_label_get_the_next_integer_newest_first(
    api: Api, models_dir: Path
) -> None:
    with api.client() as c:
        assert push(c, models_dir / "v1.pt", name="reg-c", version="v1.0.0").status_code == 201
        second = push(c, models_dir / "v2.pt", name="reg-c")
        assert second.status_code == 201
        assert second.json()["version"]["version"] == "2"
        third = push(c, models_dir / "v4.pt2", name="reg-c")
        assert third.json()["version"]["format"] == "torch_export"
        listed = c.get("/api/v1/models/reg-c/versions").json()
        assert [v["version"] for v in listed] == ["3", "2", "v1.0.0"]
        model = c.get("/api/v1/models/reg-c").json()
        assert (model["versions"], model["latest"], model["deployment"]) == (3, "3", None)


def test_pickles_are_refused_without_running_them(api: Api, tmp_path: Path) -> None:
    trap = tmp_path / "pwned"
    with api.client() as c:
        for bad in (
            artifacts.pickled_module(tmp_path / "module.pt", trap),
            artifacts.raw_pickle(tmp_path / "renamed.pt", trap),
        ):
            r = push(c, bad, name="reg-evil")
            assert r.status_code == 422, r.text
            message = error_message(r)
            assert "TorchScript" in message and "torch.export" in message
        assert not trap.exists()
        assert c.get("/api/v1/models/reg-evil").status_code == 404


def test_an_artifact_that_does_not_answer_as_declared_is_refused(
    api: Api, models_dir: Path
) -> None:
    with api.client() as c:
        wrong_out = push(
            c,
            models_dir / "v1.pt",
            name="reg-d",
            outputs=[{"name": "p", "dtype": "float32", "shape": [-1, 5]}],
        )
        assert wrong_out.status_code == 422
        assert "5" in error_message(wrong_out)
        wrong_in = push(
            c,
            models_dir / "v1.pt",
            name="reg-d",
            inputs=[{"name": "x", "dtype": "float32", "shape": [-1, 7]}],
        )
        assert wrong_in.status_code == 422


def test_bad_requests_are_explained(api: Api, models_dir: Path) -> None:
    with api.client() as c:
        assert push(c, models_dir / "v1.pt", name="reg-e", version="1").status_code == 201
        missing = c.get("/api/v1/models/nope/versions")
        assert missing.status_code == 404
        assert "reg-e" in error_message(missing)
        unknown = c.get("/api/v1/models/reg-e/versions/9")
        assert unknown.status_code == 404
        assert "1" in error_message(unknown)
        bad_name = push(c, models_dir / "v1.pt", name="Bad_Name")
        assert bad_name.status_code == 422
        no_artifact = c.post(
            "/api/v1/models/reg-e/versions",
            json={
                "sha256": "0" * 64,
                "inputs": artifacts.IRIS_INPUTS,
                "outputs": artifacts.IRIS_OUTPUTS,
            },
        )
        assert no_artifact.status_code == 404
        bad_dtype = push(
            c,
            models_dir / "v1.pt",
            name="reg-e",
            inputs=[{"name": "x", "dtype": "complex64", "shape": [-1, 4]}],
        )
        assert bad_dtype.status_code == 422


def test_uploads_over_the_limit_get_413(api: Api) -> None:
    too_big = b"x" * (api.settings.max_artifact_bytes + 1)
    with api.client() as c:
        declared = c.post("/api/v1/artifacts", content=too_big)
        assert declared.status_code == 413

        def chunks():  # type: ignore[no-untyped-def]
            for i in range(0, len(too_big), 65536):
                yield too_big[i : i + 65536]

        streamed = c.post("/api/v1/artifacts", content=chunks())
        assert streamed.status_code == 413
    leftovers = list((api.settings.artifact_root / "tmp").glob("*"))
    assert leftovers == []


def test_artifacts_are_content_addressed(api: Api, models_dir: Path) -> None:
    data = (models_dir / "v3.pt").read_bytes()
    with api.client() as c:
        first = c.post("/api/v1/artifacts", content=data)
        second = c.post("/api/v1/artifacts", content=data)
        assert (first.status_code, second.status_code) == (201, 200)
        sha = first.json()["sha256"]
        assert c.get(f"/api/v1/artifacts/{sha}").content == data
        assert c.get(f"/api/v1/artifacts/{'f' * 64}").status_code == 404
