"""A replica routes keyed requests by the slot table the control plane ships, falls back to
rendezvous hashing on a table without one, and refuses a slot table that disagrees with
the weights (keeping the table it serves)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inference.app import create_app
from inference.errors import ArtifactError
from inference.routing.table import expand, pick_by_key, pick_by_slot
from inference.schemas import ModelRoute, RoutingTable
from inference.state import ServiceState
from tests.inference.conftest import ready, settings_for, stock_cache
from tests.inference.models import Artifact
from tests.inference.server import ServerThread, wait_for

ROW = [[5.1, 3.5, 1.4, 0.2]]
KEYS = [f"user-{i}" for i in range(300)]


def table(
    artifacts: dict[str, Artifact], revision: int, runs: list[tuple[str, int]]
) -> RoutingTable:
    return RoutingTable(
        revision=revision,
        models=[
            ModelRoute(
                name="iris",
                weights={"v1": 50, "v2": 50},
                versions=[artifacts[v].spec(v) for v in ("v1", "v2")],
                slots=runs,
            )
        ],
    )


@pytest.fixture
def replica(tmp_path: Path, artifacts: dict[str, Artifact]) -> Iterator[ServerThread]:
    stock_cache(tmp_path, artifacts, table(artifacts, 1, []))
    with ServerThread(create_app(settings_for(tmp_path))) as server:
        wait_for(lambda: ready(server.url), timeout_s=60)
        yield server


def served(url: str) -> dict[str, str]:
    with httpx.Client(base_url=url, timeout=30) as c:
        return {
            k: c.post("/predict", json={"model": "iris", "inputs": ROW, "key": k}).headers[
                "x-pier-version"
            ]
            for k in KEYS
        }


def test_keys_follow_the_slot_table_else_rendezvous(
    replica: ServerThread, artifacts: dict[str, Artifact]
) -> None:
    state: ServiceState = replica.app.state.pier
    weights = {"v1": 50, "v2": 50}
    without = served(replica.url)
    assert without == {k: pick_by_key(weights, k) for k in KEYS}
    assert min(Counter(without.values()).values()) > 100  # both halves, by rendezvous

    # The slot table decides, not the weights: v1 holds 1 slot of 1000.
    runs = [("v2", 500), ("v1", 1), ("v2", 499)]
    replica.call(state.poller.apply(table(artifacts, 2, runs)))
    with_slots = served(replica.url)
    assert with_slots == {k: pick_by_slot(expand(runs), k) for k in KEYS}
    assert Counter(with_slots.values())["v2"] >= len(KEYS) - 5

    # A slot table that leaves out a weighted version is refused; the old table serves on.
    with pytest.raises(ArtifactError, match="slot table"):
        replica.call(state.poller.apply(table(artifacts, 3, [("v2", 1000)])))
    assert state.registry.active is not None and state.registry.active.table.revision == 2
    assert served(replica.url) == with_slots
