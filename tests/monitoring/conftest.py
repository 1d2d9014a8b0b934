"""Fixtures: real models, standalone replicas served over HTTP, a real Prometheus."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from inference.app import create_app
from inference.settings import InferenceSettings
from tests.inference.models import Artifact
from tests.inference.server import ServerThread
from tests.monitoring.support import (
    Prometheus,
    ShiftedClock,
    make_artifacts,
    ready,
    run_prometheus,
    stock,
)
from tests.support.servers import wait_until

StartReplica = Callable[..., ServerThread]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    return make_artifacts(tmp_path_factory.mktemp("monitoring-models"))


@pytest.fixture(scope="module")
def start_replica(
    tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Artifact]
) -> Iterator[StartReplica]:
    """Start standalone replicas serving iris (v1, v2) and house (a regressor); all are
    stopped at the end of the module."""
    started: list[ServerThread] = []

    def start(clock: Callable[[], float] | None = None, **overrides: Any) -> ServerThread:
        cache = stock(tmp_path_factory.mktemp("cache"), artifacts)
        settings = InferenceSettings(cache_dir=cache, port=0, **overrides)
        app = create_app(settings, clock) if clock is not None else create_app(settings)
        server = ServerThread(app).start()
        started.append(server)
        wait_until(lambda: ready(server.url), timeout=60)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture(scope="module")
def replica(start_replica: StartReplica, clock: ShiftedClock) -> ServerThread:
    return start_replica(clock=clock)


@pytest.fixture
def client(replica: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=replica.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    with run_prometheus(tmp_path_factory.mktemp("prometheus")) as p:
        yield p
