"""The slot table of sticky routing, kept in SQL with the deployment and shipped in the
routing table: every weight change (split, deploy, rollback) moves only the slots that
must move."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from control_plane.domain import slots
from tests.control_plane.conftest import Api
from tests.support.controlplane import push


@pytest.fixture(scope="module")
def slotted(api: Api, models_dir: Path) -> str:
    with api.client() as c:
        for label, f in (("v1", "v1.pt"), ("v2", "v2.pt"), ("v3", "v3.pt")):
            assert push(c, models_dir / f, name="slot", version=label).status_code == 201
    return "slot"


def table(c: httpx.Client) -> list[str]:
    r = c.get("/api/v1/routing")
    r.raise_for_status()
    route = next(m for m in r.json()["models"] if m["name"] == "slot")
    return slots.decode(route["slots"])


def test_each_change_moves_only_the_slots_it_must(api: Api, slotted: str) -> None:
    with api.client() as c:
        c.post("/api/v1/models/slot/deploy", json={"version": "v1"}).raise_for_status()
        first = table(c)
        assert Counter(first) == {"v1": 1000}
        steps = [
            {"v1": 90, "v2": 10},
            {"v1": 45, "v2": 45, "v3": 10},
            {"v1": 20, "v2": 60, "v3": 20},
            {"v2": 70, "v3": 30},
        ]
        before, weights_before = first, {"v1": 100}
        for weights in steps:
            r = c.put("/api/v1/models/slot/deployment", json={"weights": weights})
            assert r.status_code == 200, r.text
            after = table(c)
            assert Counter(after) == {v: 10 * w for v, w in weights.items()}
            tvd = sum(max(0, w - weights.get(v, 0)) for v, w in weights_before.items())
            assert slots.moved(before, after) == 10 * tvd, (weights_before, weights)
            before, weights_before = after, weights

        # A rollback is a weight change like any other: minimal too, and back to the same
        # shares (not necessarily the same slots: it moves the fewest).
        back = c.post("/api/v1/models/slot/rollback", json={}).json()
        assert back["weights"] == steps[-2]
        restored = table(c)
        assert Counter(restored) == {v: 10 * w for v, w in steps[-2].items()}
        assert slots.moved(before, restored) == 10 * 20  # v2 and v3 give 10 % each to v1

        # A shadow change (weights unchanged) leaves the slot table as it is.
        c.post("/api/v1/models/slot/deploy", json={"version": "v1"}).raise_for_status()
        c.put("/api/v1/models/slot/shadow", json={"shadow": {"v3": 5}}).raise_for_status()
        assert table(c) == ["v1"] * 1000
        c.put("/api/v1/models/slot/shadow", json={"shadow": {}}).raise_for_status()
