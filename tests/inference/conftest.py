from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest

from inference.app import create_app
from inference.models.cache import ArtifactStore
from inference.schemas import ModelRoute, RoutingTable, VersionSpec
from inference.settings import InferenceSettings
from inference.state import ServiceState
from tests.inference.models import (
    FEATURES,
    PROBABILITIES,
    TWO_IN,
    TWO_OUT,
    Artifact,
    Classifier,
    TwoInTwoOut,
    save_export,
    save_torchscript,
)
from tests.inference.server import ServerThread


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    """Real saved models: iris v1 and v2 (TorchScript), iris export (.pt2), a two-in-two-out."""
    root = tmp_path_factory.mktemp("models")
    return {
        "v1": Artifact(
            save_torchscript(Classifier(1), root / "v1.pt"), "torchscript", FEATURES, PROBABILITIES
        ),
        "v2": Artifact(
            save_torchscript(Classifier(2), root / "v2.pt"), "torchscript", FEATURES, PROBABILITIES
        ),
        "export": Artifact(
            save_export(Classifier(3), root / "e.pt2"), "torch_export", FEATURES, PROBABILITIES
        ),
        "pair": Artifact(
            save_torchscript(TwoInTwoOut(), root / "pair.pt"), "torchscript", TWO_IN, TWO_OUT
        ),
    }


def stock_cache(cache_dir: Path, artifacts: dict[str, Artifact], table: RoutingTable) -> None:
    """Put the artifacts and the routing table where a standalone replica reads them."""
    store = ArtifactStore(cache_dir)
    for artifact in artifacts.values():
        store.put_file(artifact.path)
    store.save_routing(table)


def standard_table(artifacts: dict[str, Artifact], revision: int = 1) -> RoutingTable:
    def versions(*pairs: tuple[str, str]) -> list[VersionSpec]:
        return [artifacts[key].spec(version) for key, version in pairs]

    return RoutingTable(
        revision=revision,
        models=[
            ModelRoute(
                name="iris",
                weights={"v1": 90, "v2": 10},
                versions=versions(("v1", "v1"), ("v2", "v2"), ("export", "e1")),
            ),
            ModelRoute(name="pair", weights={"p1": 100}, versions=versions(("pair", "p1"))),
        ],
    )


def settings_for(cache_dir: Path, **overrides: object) -> InferenceSettings:
    return InferenceSettings(cache_dir=cache_dir, port=0, **overrides)  # type: ignore[arg-type]


def state(server: ServerThread) -> ServiceState:
    """What a replica served in this process holds (its registry, data plane, poller)."""
    return cast(ServiceState, server.app.state.pier)


def ready(url: str) -> bool:
    return httpx.get(f"{url}/v2/health/ready").status_code == 200


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Artifact]
) -> Iterator[ServerThread]:
    """One standalone replica serving the standard table, shared by a test module."""
    from tests.inference.server import wait_for

    cache = tmp_path_factory.mktemp("cache")
    stock_cache(cache, artifacts, standard_table(artifacts))
    server = ServerThread(create_app(settings_for(cache, max_rows_per_request=64))).start()
    wait_for(lambda: ready(server.url), timeout_s=60)
    yield server
    server.stop()


@pytest.fixture
def client(service: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=30) as c:
        yield c
