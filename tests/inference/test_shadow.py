"""Shadow traffic against the real service over HTTP: a shadow gets its share of copies,
its answers and failures never reach the caller, and the metrics and feedback show it."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import httpx
import pytest
import torch
from prometheus_client.parser import text_string_to_metric_families

from inference.app import create_app
from inference.schemas import ModelRoute, RoutingTable
from tests.inference.conftest import ready, settings_for, state, stock_cache
from tests.inference.models import FEATURES, PROBABILITIES, Artifact, Classifier, save_torchscript
from tests.inference.server import ServerThread, wait_for
from tests.support import artifacts as support

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


class _Boom(torch.nn.Module):
    """A shadow version with a bug on every real input (it passes the warm-up on zeros)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if bool((features != 0).any()):
            raise RuntimeError("this shadow version fails on real inputs")
        return torch.softmax(features[:, :3], dim=-1)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    root = tmp_path_factory.mktemp("shadow-models")

    def ts(module: torch.nn.Module, name: str) -> Artifact:
        return Artifact(
            save_torchscript(module, root / name), "torchscript", FEATURES, PROBABILITIES
        )

    return {
        "v1": ts(Classifier(1), "v1.pt"),
        "s2": ts(Classifier(2), "s2.pt"),
        "twin": ts(Classifier(1), "twin.pt"),  # the live model again: agrees on every row
        "boom": ts(_Boom(), "boom.pt"),
        "slow": Artifact(support.slow(root / "slow.pt", rounds=60), "torchscript", FEATURES,
                         PROBABILITIES),
    }  # fmt: skip


def table(versions: dict[str, Artifact], revision: int, shadow: dict[str, int]) -> RoutingTable:
    return RoutingTable(
        revision=revision,
        models=[
            ModelRoute(
                name="iris",
                weights={"v1": 100},
                versions=[a.spec(v) for v, a in versions.items()],
                shadow=shadow,
            )
        ],
    )


@pytest.fixture(scope="module")
def replica(
    tmp_path_factory: pytest.TempPathFactory, versions: dict[str, Artifact]
) -> Iterator[ServerThread]:
    cache = tmp_path_factory.mktemp("shadow-cache")
    stock_cache(cache, versions, table(versions, 1, {}))
    app = create_app(settings_for(cache, shadow_queue=64, max_batch_rows=1))
    with ServerThread(app) as server:
        wait_for(lambda: ready(server.url), timeout_s=60)
        yield server


def apply(server: ServerThread, t: RoutingTable) -> None:
    server.call(state(server).poller.apply(t))


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def shadow_counts(client: httpx.Client, version: str) -> dict[str, float]:
    text = client.get("/metrics").text
    return {
        r: metric(text, "pier_shadow_requests_total", model="iris", version=version, result=r)
        for r in ("ok", "error", "dropped")
    }


def drained(server: ServerThread) -> bool:
    mirror = state(server).plane.mirror
    assert mirror is not None
    return mirror.pending == 0


def predict(client: httpx.Client, **extra: object) -> httpx.Response:
    return client.post("/predict", json={"model": "iris", "inputs": ROWS, **extra})


def test_a_shadow_gets_its_share_its_answer_is_recorded_never_returned(
    replica: ServerThread, versions: dict[str, Artifact]
) -> None:
    with httpx.Client(base_url=replica.url, timeout=30) as client:
        live = predict(client, version="v1").json()["outputs"]
        shadow_answer = predict(client, version="s2").json()["outputs"]
        assert live != shadow_answer  # else a leaked shadow answer would go unnoticed
        apply(replica, table(versions, 2, {"s2": 30}))

        n, share = 600, 0.30
        responses = [predict(client) for _ in range(n)]
        wait_for(lambda: drained(replica), timeout_s=30)
        for r in responses:
            assert r.status_code == 200
            assert r.headers["x-pier-version"] == "v1"
            assert r.json()["version"] == "v1" and r.json()["outputs"] == live

        counts = shadow_counts(client, "s2")
        mirrored = counts["ok"] + counts["dropped"]
        # A 4.4-sigma binomial interval around n * share: a false alarm once in 100,000 runs.
        half = 4.4 * math.sqrt(n * share * (1 - share))
        print(f"\nshadow s2 at 30 %: {mirrored:.0f} of {n} copied (expected {n * share:.0f})")
        assert abs(mirrored - n * share) <= half, counts
        assert counts["error"] == 0

        text = client.get("/metrics").text
        ok = counts["ok"]
        assert metric(text, "pier_requests_total", model="iris", version="s2", code="200") >= ok
        assert metric(text, "pier_request_duration_seconds_count", model="iris", version="s2") >= ok
        compared = metric(text, "pier_shadow_compared_rows_total", model="iris", version="s2")
        agreed = metric(text, "pier_shadow_agreed_rows_total", model="iris", version="s2")
        assert compared == 2 * ok and 0 <= agreed <= compared
        print(f"agreement of s2 with v1: {agreed:.0f} of {compared:.0f} rows")

        # The caller's label scores the shadow's answer to the same request.
        ids = [r.json()["prediction_id"] for r in responses]
        before = metric(text, "pier_feedback_labelled_rows_total", model="iris", version="s2")
        items = [{"prediction_id": pid, "label": [0, 2]} for pid in ids]
        body = client.post("/feedback/batch", json={"items": items}).json()
        assert body["counts"]["accepted"] == n
        # Only the caller's prediction is reported: the shadow's rows are scored on the side.
        assert {o["version"] for o in body["results"]} == {"v1"}
        text = client.get("/metrics").text
        labelled = metric(text, "pier_feedback_labelled_rows_total", model="iris", version="s2")
        assert labelled - before == 2 * ok

        apply(replica, table(versions, 3, {"twin": 100}))
        for _ in range(20):
            assert predict(client).status_code == 200
        wait_for(lambda: drained(replica), timeout_s=30)
        text = client.get("/metrics").text
        compared = metric(text, "pier_shadow_compared_rows_total", model="iris", version="twin")
        agreed = metric(text, "pier_shadow_agreed_rows_total", model="iris", version="twin")
        assert compared == agreed == 40
        apply(replica, table(versions, 4, {}))


def test_a_failing_or_slow_shadow_changes_nothing_for_the_caller(
    replica: ServerThread, versions: dict[str, Artifact]
) -> None:
    with httpx.Client(base_url=replica.url, timeout=30) as client:
        apply(replica, table(versions, 5, {}))
        baseline = predict(client, key="user-7")
        assert baseline.status_code == 200

        for revision, bad in ((6, "boom"), (7, "slow")):
            apply(replica, table(versions, revision, {bad: 100}))
            before = shadow_counts(client, bad)
            for _ in range(120):
                r = predict(client, key="user-7")
                assert r.status_code == baseline.status_code
                assert r.headers["x-pier-version"] == baseline.headers["x-pier-version"]
                got, want = r.json(), baseline.json()
                assert got["outputs"] == want["outputs"] and got["version"] == want["version"]
            wait_for(lambda: drained(replica), timeout_s=60)
            after = shadow_counts(client, bad)
            delta = {k: after[k] - before[k] for k in after}
            print(f"\nshadow {bad} at 100 % for 120 requests: {delta}")
            assert sum(delta.values()) == 120
            if bad == "boom":
                # Every copy it took failed (a busy machine may have dropped a few).
                assert delta["ok"] == 0 and delta["error"] > 0
                text = client.get("/metrics").text
                errors = metric(text, "pier_request_errors_total", model="iris", version="boom")
                assert errors >= delta["error"]
            else:
                assert delta["ok"] > 0 and delta["error"] == 0
        apply(replica, table(versions, 8, {}))


def test_a_full_shadow_queue_drops_copies_and_counts_them(
    replica: ServerThread, versions: dict[str, Artifact]
) -> None:
    """Copies arrive faster than the slow shadow takes them: the queue (64) overflows.
    Four connections stay under the replica's admission limit: only the shadow queue sheds."""
    with httpx.Client(base_url=replica.url, timeout=30) as client:
        apply(replica, table(versions, 9, {"slow": 100}))
        before = shadow_counts(client, "slow")

        async def burst() -> list[int]:
            limits = httpx.Limits(max_connections=4)
            async with httpx.AsyncClient(base_url=replica.url, timeout=60, limits=limits) as c:
                rs = await asyncio.gather(
                    *(
                        c.post("/predict", json={"model": "iris", "inputs": ROWS})
                        for _ in range(400)
                    )
                )
            return [r.status_code for r in rs]

        codes = asyncio.run(burst())
        assert codes == [200] * 400
        wait_for(lambda: drained(replica), timeout_s=120)
        after = shadow_counts(client, "slow")
        delta = {k: after[k] - before[k] for k in after}
        print(f"\nslow shadow, 400 concurrent requests, queue of 64: {delta}")
        assert sum(delta.values()) == 400 and delta["dropped"] > 0
        apply(replica, table(versions, 10, {}))
