"""A scaling change wakes the control loops (the Kubernetes reconciler, the local autoscaler)
once it is committed, instead of waiting for their next pass; a refused one does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.controlplane import bootstrap, push
from tests.support.pg import temporary_database
from tests.support.servers import serve

URL = "/api/v1/models/iris/scaling"


@pytest.fixture(scope="module")
def woken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, list[int]]]:
    home = tmp_path_factory.mktemp("home")
    calls: list[int] = []
    with temporary_database() as db_url:
        settings = PierSettings(home=home, database_url=db_url)
        tokens = bootstrap(settings)
        platform = build_platform(settings)
        platform.announcer.listen(lambda: calls.append(1))
        with serve(create_api(platform)) as url:
            headers = {"Authorization": f"Bearer {tokens.admin}"}
            with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
                model = artifacts.torchscript(Path(home) / "v1.pt")
                assert push(c, model, name="iris", version="v1").status_code == 201
                c.post("/api/v1/models/iris/deploy", json={"version": "v1"}).raise_for_status()
                yield c, calls


def test_a_committed_change_wakes_the_listeners_once(
    woken: tuple[httpx.Client, list[int]],
) -> None:
    c, calls = woken
    before = len(calls)
    r = c.put(URL, json={"scaling": {"min_replicas": 2, "max_replicas": 4}})
    assert r.status_code == 200, r.text
    assert len(calls) == before + 1


def test_a_refused_change_wakes_nobody(woken: tuple[httpx.Client, list[int]]) -> None:
    c, calls = woken
    before = len(calls)
    r = c.put(URL, json={"scaling": {"min_replicas": 5, "max_replicas": 2}})
    assert r.status_code == 422
    r = c.put("/api/v1/models/ghost/scaling", json={"scaling": {}})
    assert r.status_code == 404
    assert len(calls) == before
