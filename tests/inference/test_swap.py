"""Applying a routing table: load first, then swap in one step; never a partial table."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inference.app import create_app
from inference.errors import ArtifactError
from inference.models.cache import ArtifactStore
from inference.schemas import ModelRoute, RoutingTable
from tests.inference.conftest import ready, settings_for, state, stock_cache
from tests.inference.models import Artifact
from tests.inference.server import ServerThread, wait_for

ROW = [5.1, 3.5, 1.4, 0.2]


def iris_table(
    artifacts: dict[str, Artifact], revision: int, weights: dict[str, int], versions: list[str]
) -> RoutingTable:
    return RoutingTable(
        revision=revision,
        models=[
            ModelRoute(
                name="iris", weights=weights, versions=[artifacts[v].spec(v) for v in versions]
            )
        ],
    )


@pytest.fixture
def replica(tmp_path: Path, artifacts: dict[str, Artifact]) -> Iterator[ServerThread]:
    stock_cache(tmp_path, artifacts, iris_table(artifacts, 1, {"v1": 100}, ["v1"]))
    with ServerThread(create_app(settings_for(tmp_path))) as server:
        wait_for(lambda: ready(server.url), timeout_s=60)
        yield server


async def predict_many(url: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post("/predict", json={"model": "iris", "inputs": [ROW]})
                for _ in range(count)
            )
        )


async def requests_across_a_swap(
    server: ServerThread, table: RoutingTable, at_least: int
) -> list[httpx.Response]:
    """Keep requests in flight from before the swap starts until after it ends."""
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:

        def one() -> asyncio.Task[httpx.Response]:
            body = {"model": "iris", "inputs": [ROW]}
            return asyncio.create_task(client.post("/predict", json=body))

        tasks = [one() for _ in range(50)]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        applying = asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(state(server).poller.apply(table), server._loop)
        )
        while not applying.done() or len(tasks) < at_least:
            batch = [one() for _ in range(10)]
            tasks += batch
            await asyncio.wait([*batch, applying], return_when=asyncio.FIRST_COMPLETED)
        await applying
        return list(await asyncio.gather(*tasks))


def test_200_concurrent_requests_during_a_swap_all_succeed(
    replica: ServerThread, artifacts: dict[str, Artifact]
) -> None:
    new = iris_table(artifacts, 2, {"v2": 100}, ["v2"])
    responses = asyncio.run(requests_across_a_swap(replica, new, at_least=200))
    assert len(responses) >= 200
    assert [r.status_code for r in responses] == [200] * len(responses)
    served = Counter(r.json()["version"] for r in responses)
    assert set(served) <= {"v1", "v2"} and served["v1"] >= 1, served
    # Once apply returned, every request goes to the new version, and v1 is unloaded.
    after = asyncio.run(predict_many(replica.url, 20))
    assert {r.json()["version"] for r in after} == {"v2"}
    assert state(replica).registry.loaded_names() == ["iris@v2"]
    assert httpx.get(f"{replica.url}/models").json()["revision"] == 2
    metrics = httpx.get(f"{replica.url}/metrics").text
    assert 'pier_model_loaded{model="iris",version="v1"}' not in metrics


def test_a_table_that_fails_to_load_is_not_applied_at_all(
    replica: ServerThread, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    # Two models: the first would load fine, the second's artifact is not in the cache.
    good = iris_table(artifacts, 2, {"v2": 100}, ["v2"]).models[0]
    missing = artifacts["export"].spec("e1").model_copy(update={"sha256": "0" * 64})
    broken = RoutingTable(
        revision=2, models=[good, ModelRoute(name="other", weights={"e1": 100}, versions=[missing])]
    )
    with pytest.raises(ArtifactError, match="not in"):
        replica.call(state(replica).poller.apply(broken))
    # Still serving revision 1 entirely, still ready, and the error is remembered.
    responses = asyncio.run(predict_many(replica.url, 20))
    assert {r.json()["version"] for r in responses} == {"v1"}
    assert httpx.get(f"{replica.url}/models").json()["revision"] == 1
    assert ready(replica.url)
    assert "not in" in httpx.get(f"{replica.url}/healthz").json()["last_error"]


def test_rollback_to_a_version_kept_warm_reuses_it(
    replica: ServerThread, artifacts: dict[str, Artifact]
) -> None:
    registry = state(replica).registry
    replica.call(state(replica).poller.apply(iris_table(artifacts, 2, {"v2": 100}, ["v1", "v2"])))
    v1 = registry.get_loaded("iris", "v1")
    assert v1 is not None
    replica.call(state(replica).poller.apply(iris_table(artifacts, 3, {"v1": 100}, ["v1", "v2"])))
    assert registry.get_loaded("iris", "v1") is v1
    assert {r.json()["version"] for r in asyncio.run(predict_many(replica.url, 10))} == {"v1"}
    # The unweighted version is only reached by pinning.
    pinned = httpx.post(
        f"{replica.url}/predict", json={"model": "iris", "inputs": [ROW], "version": "v2"}
    )
    assert pinned.json()["version"] == "v2"


def test_no_version_with_weight_is_503(
    replica: ServerThread, artifacts: dict[str, Artifact]
) -> None:
    replica.call(state(replica).poller.apply(iris_table(artifacts, 2, {}, ["v1"])))
    response = httpx.post(f"{replica.url}/predict", json={"model": "iris", "inputs": [ROW]})
    assert response.status_code == 503
    assert "no version receiving traffic" in response.json()["error"]["message"]
    assert response.headers["Retry-After"] == "1"


def test_a_malicious_artifact_is_refused_by_the_service_loader(
    replica: ServerThread, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    from tests.inference.test_check import malicious_artifacts

    marker = tmp_path / "pwned"
    store = state(replica).store
    bad = tmp_path / "bad"
    bad.mkdir()
    for label, path in malicious_artifacts(bad, marker).items():
        fake = Artifact(path, "torchscript", artifacts["v1"].inputs, artifacts["v1"].outputs)
        store.put_file(path)
        with pytest.raises(ArtifactError):
            replica.call(
                state(replica).poller.apply(iris_table({"bad": fake}, 5, {"bad": 100}, ["bad"]))
            )
        assert not marker.exists(), label
    assert httpx.get(f"{replica.url}/models").json()["revision"] == 1


def test_a_model_that_raises_names_the_failing_version(
    replica: ServerThread, artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    """A model error is a 5xx that says which version failed, so callers and canary
    analysis can tell a bad canary from its baseline; the replica stays healthy."""
    from tests.support.artifacts import flaky

    bad = Artifact(flaky(tmp_path / "flaky.pt"), "torchscript", *_iris_specs(artifacts))
    ArtifactStore(tmp_path).put_file(bad.path)
    table = RoutingTable(
        revision=9,
        models=[
            ModelRoute(
                name="iris",
                weights={"bad": 100},
                versions=[bad.spec("bad"), artifacts["v1"].spec("v1")],
            )
        ],
    )
    replica.call(state(replica).poller.apply(table))
    fine = httpx.post(f"{replica.url}/predict", json={"model": "iris", "inputs": [ROW]})
    assert fine.status_code == 200 and fine.headers["x-pier-version"] == "bad"
    r = httpx.post(f"{replica.url}/predict", json={"model": "iris", "inputs": [[7.0, 3, 5, 2]]})
    assert r.status_code >= 500
    assert r.headers["x-pier-version"] == "bad"
    assert "feature 0 out of the range" in r.json()["error"]["message"]
    assert ready(replica.url)


def _iris_specs(artifacts: dict[str, Artifact]) -> tuple[list, list]:  # type: ignore[type-arg]
    return artifacts["v1"].inputs, artifacts["v1"].outputs


def test_loaded_models_are_frozen_out_of_the_collector_and_unloaded_ones_still_freed(
    replica: ServerThread, artifacts: dict[str, Artifact]
) -> None:
    """After a table that loads a version, what the models hold sits in the collector's
    permanent generation (full collections skip it); a version unloaded later is still
    freed, not pinned there."""
    replica.call(state(replica).poller.apply(iris_table(artifacts, 2, {"v2": 100}, ["v1", "v2"])))
    frozen_with_two = gc.get_freeze_count()
    v1 = state(replica).registry.get_loaded("iris", "v1")
    assert v1 is not None
    module = weakref.ref(v1.runner)
    del v1
    replica.call(state(replica).poller.apply(iris_table(artifacts, 3, {"v2": 100}, ["v2"])))
    assert module() is None, "the unloaded version's model is still in memory"
    assert frozen_with_two > 1000
    assert 0 < gc.get_freeze_count() < frozen_with_two
    assert (
        httpx.post(f"{replica.url}/predict", json={"model": "iris", "inputs": [ROW]}).json()[
            "version"
        ]
        == "v2"
    )
