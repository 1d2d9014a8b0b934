"""Deploy, split, roll back; the routing table replicas poll; the audit trail."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.control_plane.conftest import Api
from tests.support.controlplane import error_message, push


@pytest.fixture(scope="module")
def three_versions(api: Api, models_dir: Path) -> str:
    with api.client() as c:
        for label, f in (("v1", "v1.pt"), ("v2", "v2.pt"), ("v3", "v3.pt")):
            assert push(c, models_dir / f, name="dep", version=label).status_code == 201
    return "dep"


def routing(c: httpx.Client) -> dict:  # type: ignore[type-arg]
    r = c.get("/api/v1/routing")
    r.raise_for_status()
    return next(m for m in r.json()["models"] if m["name"] == "dep")


def test_deploy_rollback_and_the_routing_table(api: Api, three_versions: str) -> None:
    with api.client() as c:
        d1 = c.post("/api/v1/models/dep/deploy", json={"version": "v1", "reason": "first"}).json()
        assert d1["weights"] == {"v1": 100} and d1["previous"] is None
        assert [v["version"] for v in routing(c)["versions"]] == ["v1"]

        d2 = c.post("/api/v1/models/dep/deploy", json={"version": "v2"}).json()
        assert d2["revision"] > d1["revision"]
        assert d2["previous"] == {"v1": 100}
        route = routing(c)
        assert route["weights"] == {"v2": 100}
        # The previous version stays loaded so that a rollback is instant.
        assert [v["version"] for v in route["versions"]] == ["v2", "v1"]
        assert all(len(v["sha256"]) == 64 for v in route["versions"])

        back = c.post("/api/v1/models/dep/rollback", json={"reason": "v2 is worse"})
        assert back.status_code == 200
        assert back.json()["weights"] == {"v1": 100}
        assert c.get("/api/v1/models/dep/deployment").json()["weights"] == {"v1": 100}

        # Each change is undone once: a second rollback would go forward again, to v2.
        assert back.json()["previous"] is None
        again = c.post("/api/v1/models/dep/rollback", json={})
        assert again.status_code == 409, again.text
        assert "rolled back already" in error_message(again)

        events = c.get("/api/v1/audit", params={"model": "dep"}).json()
        rollback = next(e for e in events if e["action"] == "rollback" and e["reason"])
        assert rollback["before"] == {"weights": {"v2": 100}}
        assert rollback["after"] == {"weights": {"v1": 100}}
        assert rollback["actor"] == "admin" and rollback["reason"] == "v2 is worse"


def test_rollbacks_walk_back_through_the_changes_in_order(api: Api, models_dir: Path) -> None:
    with api.client() as c:
        for label in ("v1", "v2", "v3"):
            assert (
                push(c, models_dir / f"{label}.pt", name="undo", version=label).status_code == 201
            )

        def deploy(version: str) -> None:
            c.post("/api/v1/models/undo/deploy", json={"version": version}).raise_for_status()

        def rollback() -> httpx.Response:
            return c.post("/api/v1/models/undo/rollback", json={})

        deploy("v1"), deploy("v2"), deploy("v3")
        assert rollback().json()["weights"] == {"v2": 100}
        assert rollback().json()["weights"] == {"v1": 100}
        assert rollback().status_code == 409
        # A new change after rollbacks is undone back to where it started from.
        c.put("/api/v1/models/undo/deployment", json={"weights": {"v1": 80, "v3": 20}})
        assert c.get("/api/v1/models/undo/deployment").json()["previous"] == {"v1": 100}
        assert rollback().json()["weights"] == {"v1": 100}


def test_a_split_must_sum_to_100_and_name_known_versions(api: Api, three_versions: str) -> None:
    with api.client() as c:
        ok = c.put("/api/v1/models/dep/deployment", json={"weights": {"v1": 90, "v3": 10}})
        assert ok.status_code == 200 and ok.json()["weights"] == {"v1": 90, "v3": 10}
        assert routing(c)["weights"] == {"v1": 90, "v3": 10}

        short = c.put("/api/v1/models/dep/deployment", json={"weights": {"v1": 90, "v3": 5}})
        assert short.status_code == 422 and "sum to 100" in error_message(short)
        unknown = c.put("/api/v1/models/dep/deployment", json={"weights": {"v9": 100}})
        assert unknown.status_code == 404 and "v1" in error_message(unknown)
        fraction = c.put("/api/v1/models/dep/deployment", json={"weights": {"v1": 99.5, "v3": 0.5}})
        assert fraction.status_code == 422
        empty = c.put("/api/v1/models/dep/deployment", json={"weights": {}})
        assert empty.status_code == 422
        assert c.get("/api/v1/models/dep/deployment").json()["weights"] == {"v1": 90, "v3": 10}


def test_setting_the_same_split_twice_changes_nothing(api: Api, three_versions: str) -> None:
    with api.client() as c:
        a = c.post("/api/v1/models/dep/deploy", json={"version": "v3"}).json()
        n_events = len(c.get("/api/v1/audit", params={"model": "dep"}).json())
        b = c.post("/api/v1/models/dep/deploy", json={"version": "v3"}).json()
        assert a["revision"] == b["revision"]
        assert len(c.get("/api/v1/audit", params={"model": "dep"}).json()) == n_events


def test_nothing_to_roll_back_is_a_conflict(api: Api, models_dir: Path) -> None:
    with api.client() as c:
        assert push(c, models_dir / "v1.pt", name="solo", version="1").status_code == 201
        assert c.post("/api/v1/models/solo/rollback", json={}).status_code == 404
        c.post("/api/v1/models/solo/deploy", json={"version": "1"}).raise_for_status()
        r = c.post("/api/v1/models/solo/rollback", json={})
        assert r.status_code == 409 and "nothing to roll back" in error_message(r)


def test_replicas_poll_with_etags_and_are_shown_in_status(api: Api, three_versions: str) -> None:
    with api.client() as c:
        c.post("/api/v1/models/dep/deploy", json={"version": "v2"}).raise_for_status()
        first = c.get("/api/v1/routing")
        etag = first.headers["etag"]
        revision = first.json()["revision"]
        headers = {
            "If-None-Match": etag,
            "X-Pier-Replica-Id": "test-replica",
            "X-Pier-Replica-Url": "http://127.0.0.1:9999",
            "X-Pier-Replica-Revision": str(revision),
            "X-Pier-Replica-Loaded": "dep@v2,dep@v3",
            "X-Pier-Replica-Device": "cuda:1",
        }
        assert c.get("/api/v1/routing", headers=headers).status_code == 304
        status = c.get("/api/v1/status").json()
        dep = next(m for m in status["models"] if m["model"] == "dep")
        assert dep["weights"] == {"v2": 100}
        assert dep["converged"] is True
        assert [r["url"] for r in dep["replicas"]] == ["http://127.0.0.1:9999"]
        assert [r["device"] for r in dep["replicas"]] == ["cuda:1"]

        c.post("/api/v1/models/dep/deploy", json={"version": "v1"}).raise_for_status()
        assert c.get("/api/v1/routing", headers={"If-None-Match": etag}).status_code == 200
        status = c.get("/api/v1/status").json()
        assert next(m for m in status["models"] if m["model"] == "dep")["converged"] is False
