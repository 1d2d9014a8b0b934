"""Experiment verdicts end to end: the real API, the local orchestrator's inference process,
real predictions split between two versions, and ground truth that arrives later through
the inference service's /feedback. The API tells a clear accuracy difference from a small
one it cannot decide yet."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.controlplane import error_message, push
from tests.support.platform import LocalPlatform, local_platform
from tests.support.servers import wait_until

pytestmark = pytest.mark.e2e

WINDOW = 300
TRUTH_CUTS = (1.0, 2.0)  # the world: class = how many cuts lie below feature 0
LABEL_NOISE = 0.05  # the share of labels that disagree with the world (annotators err)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    home, work = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("work")
    settings = PierSettings(home=home, database_url=f"sqlite:///{home / 'pier.db'}")
    with local_platform(settings) as stack:
        # iris: v2 puts its first cut at 1.3 instead of 1.0, wrong on a tenth of the inputs.
        # wine: v2 puts it at 1.06, wrong on 2 % of them: too small to decide on 600 labels.
        splits = {"iris": (1.3, 2.0), "wine": (1.06, 2.0)}
        with stack.client() as c:
            for model, worse in splits.items():
                good = artifacts.cut_classifier(work / f"{model}-v1.pt", TRUTH_CUTS)
                bad = artifacts.cut_classifier(work / f"{model}-v2.pt", worse)
                assert push(c, good, name=model, version="v1").status_code == 201
                assert push(c, bad, name=model, version="v2").status_code == 201
                c.put(
                    f"/api/v1/models/{model}/deployment",
                    json={"weights": {"v1": 50, "v2": 50}, "reason": "A/B test"},
                ).raise_for_status()
        for model in splits:
            wait_until(lambda m=model: _serves_both(stack, m), timeout=60)  # type: ignore[misc]
        time.sleep(2.5)  # the experiment counts whole seconds after the split's own
        yield stack


def _serves_both(stack: LocalPlatform, model: str) -> bool:
    seen = set()
    for v in ("v1", "v2"):
        r = httpx.post(
            f"{stack.inference_url}/predict",
            json={"model": model, "inputs": [[0.5, 0, 0, 0]], "version": v},
        )
        if r.status_code == 200:
            seen.add(r.json()["version"])
    return seen == {"v1", "v2"}


@dataclass(frozen=True)
class Prediction:
    id: str
    version: str
    truth: int


def _predict(stack: LocalPlatform, model: str, n: int, seed: int) -> list[Prediction]:
    """n predictions of distinct users (sticky keys: the split is by consistent hashing),
    each remembered with the label the world will give it later."""
    rng = random.Random(seed)
    out = []
    with httpx.Client(base_url=stack.inference_url, timeout=10) as c:
        for i in range(n):
            x0 = rng.uniform(0.0, 3.0)
            truth = sum(x0 > cut for cut in TRUTH_CUTS)
            if rng.random() < LABEL_NOISE:
                truth = (truth + rng.randint(1, 2)) % 3
            r = c.post(
                "/predict",
                json={"model": model, "inputs": [[x0, 0.0, 0.0, 0.0]], "key": f"user-{seed}-{i}"},
            )
            assert r.status_code == 200, r.text
            body = r.json()
            out.append(Prediction(body["prediction_id"], body["version"], truth))
    return out


def _label(stack: LocalPlatform, predictions: list[Prediction]) -> None:
    with httpx.Client(base_url=stack.inference_url, timeout=10) as c:
        for p in predictions:
            r = c.post("/feedback", json={"prediction_id": p.id, "label": p.truth})
            assert r.status_code == 200 and r.json()["result"] == "accepted", r.text


def _experiment(stack: LocalPlatform, model: str) -> dict[str, Any]:
    with stack.client() as c:
        r = c.get(f"/api/v1/models/{model}/experiment", params={"window": WINDOW})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _run(stack: LocalPlatform, model: str, n: int, seed: int) -> dict[str, Any]:
    """Predict now, see the API count the requests with no verdict yet, label afterwards,
    and return the experiment once every label is counted."""
    predictions = _predict(stack, model, n, seed)
    per_version = {v: sum(p.version == v for p in predictions) for v in ("v1", "v2")}
    assert min(per_version.values()) > n // 4, per_version  # both took a real share

    def requests_counted() -> dict[str, Any] | None:
        e = _experiment(stack, model)
        counted = {v["version"]: v["requests"] for v in e["versions"]}
        return e if all(counted[v] >= per_version[v] for v in per_version) else None

    before = wait_until(requests_counted, timeout=30, interval=0.3)
    assert before["comparisons"][0]["verdict"].startswith("not enough data yet")
    assert before["comparisons"][0]["accuracy"] is None

    _label(stack, predictions)

    def labels_counted() -> dict[str, Any] | None:
        e = _experiment(stack, model)
        return e if sum(v["labelled"] for v in e["versions"]) >= n else None

    after = wait_until(labels_counted, timeout=30, interval=0.3)
    versions = {v["version"]: v for v in after["versions"]}
    comparison = after["comparisons"][0]
    print(
        f"{model}: n = {comparison['labelled']} labelled "
        f"(v1 {versions['v1']['labelled']}, v2 {versions['v2']['labelled']}); accuracy "
        f"v1 {versions['v1']['accuracy']['value']:.3f} "
        f"[{versions['v1']['accuracy']['low']:.3f}, {versions['v1']['accuracy']['high']:.3f}], "
        f"v2 {versions['v2']['accuracy']['value']:.3f} "
        f"[{versions['v2']['accuracy']['low']:.3f}, {versions['v2']['accuracy']['high']:.3f}]; "
        f"diff {comparison['accuracy']['diff']:+.3f} "
        f"[{comparison['accuracy']['low']:+.3f}, {comparison['accuracy']['high']:+.3f}], "
        f"p = {comparison['accuracy']['p_value']:.3g}; needed {comparison['needed']}; "
        f"verdict: {comparison['verdict']}"
    )
    return after


def test_a_clearly_worse_version_is_called_out_from_delayed_feedback(stack: LocalPlatform) -> None:
    e = _run(stack, "iris", n=600, seed=1)
    assert e["baseline"] == "v1" and e["canary"] is None
    assert [v["role"] for v in e["versions"]] == ["baseline", "challenger"]
    (c,) = e["comparisons"]
    assert c["challenger"] == "v2" and c["baseline"] == "v1"
    assert c["decided"] is True
    assert c["accuracy"]["p_value"] < 0.05
    assert c["accuracy"]["diff"] < 0 and c["accuracy"]["high"] < 0
    assert c["verdict"].startswith("v1 is more accurate than v2: ")
    assert "p = " in c["verdict"] and f"n = {c['labelled']:,}" in c["verdict"]
    (accuracy,) = [x for x in c["effects"] if x["measure"] == "accuracy"]
    assert accuracy["reading"] == "worse" and accuracy["high"] < -1  # beyond the 1 point
    assert f"{-accuracy['diff']:+.1f} points [{-accuracy['high']:+.1f}, " in c["verdict"]
    # No request failed, and the error rates say so with an interval.
    for v in e["versions"]:
        assert v["errors"] == 0 and v["error_rate"]["value"] == 0.0
        assert 0 < v["error_rate"]["high"] < 0.05
        assert v["p99_ms"] is not None and v["p50_ms"] is not None
    assert c["error_rate"]["p_value"] == 1.0
    assert c["p99_ratio"] is not None and c["p99_ratio"] > 0
    assert "Mann-Whitney" in e["latency_method"]
    # Latency is compared by a rank test on both versions' histograms.
    latency = c["latency"]
    assert latency is not None and 0 <= latency["p_value"] <= 1
    assert 0 < latency["prob_slower"] < 1 and latency["u"] >= 0
    # ...and judged on the median against the 1 ms threshold: no slower verdict for a
    # difference of a fraction of a millisecond, however significant.
    (median,) = [x for x in c["effects"] if x["measure"] == "latency"]
    assert median["threshold"] == 1.0 and abs(median["diff"]) < 1
    assert median["reading"] in ("negligible", "unclear") and "slower" not in c["verdict"]


def test_a_small_difference_is_reported_as_not_decided_yet(stack: LocalPlatform) -> None:
    e = _run(stack, "wine", n=600, seed=2)
    (c,) = e["comparisons"]
    assert c["decided"] is False
    assert c["accuracy"]["p_value"] >= 0.05
    assert c["accuracy"]["low"] < 0 < c["accuracy"]["high"]  # the interval spans no change
    assert c["needed"] > c["labelled"] and c["reached"] is False
    # (A latency sentence follows when the two versions' latencies differ significantly.)
    # The model's accuracy threshold (1 point) sizes the sample, and the verdict says so.
    assert c["verdict"].startswith("not enough data yet to tell v2 and v1 apart: accuracy ")
    assert (
        f"(about {c['needed']:,} labelled predictions needed, {c['labelled']:,} so far)"
        in (c["verdict"])
    )
    (accuracy,) = [x for x in c["effects"] if x["measure"] == "accuracy"]
    assert accuracy["reading"] == "unclear" and accuracy["threshold"] == 1.0
    assert accuracy["low"] < -1 or accuracy["high"] > 1  # it could still be a real difference


def test_bad_requests_get_a_clear_4xx(stack: LocalPlatform, tmp_path: Path) -> None:
    with stack.client() as c:
        r = c.get("/api/v1/models/iris/experiment", params={"window": 42})
        assert r.status_code == 422 and "expected one of 300, 900" in error_message(r)
        r = c.get("/api/v1/models/iris/experiment", params={"min_effect": 2})
        assert r.status_code == 422 and "min_effect" in error_message(r)
        r = c.get("/api/v1/models/nope/experiment")
        assert r.status_code == 404 and "nope" in error_message(r)
        assert push(c, artifacts.torchscript(tmp_path / "x.pt"), name="lonely").status_code == 201
        r = c.get("/api/v1/models/lonely/experiment")
        assert r.status_code == 404 and "not deployed" in error_message(r)
    with httpx.Client(base_url=stack.api_url) as anonymous:
        assert anonymous.get("/api/v1/models/iris/experiment").status_code == 401


def test_while_a_canary_runs_its_baseline_is_the_baseline(stack: LocalPlatform) -> None:
    with stack.client() as c:
        r = c.post(
            "/api/v1/models/wine/canaries",
            json={"version": "v1", "baseline": "v2", "steps": [60, 100], "interval_s": 3600},
        )
        assert r.status_code == 201, r.text
        try:
            e = _experiment(stack, "wine")
        finally:
            c.post("/api/v1/models/wine/canaries/current/abort").raise_for_status()
    # v1 now takes 60 %, but the canary compares against v2: so does the experiment.
    assert e["baseline"] == "v2" and e["canary"] == "v1"
    assert [(v["version"], v["weight"], v["role"]) for v in e["versions"]] == [
        ("v2", 40, "baseline"),
        ("v1", 60, "challenger"),
    ]
    assert e["comparisons"][0]["challenger"] == "v1"


def test_a_shadow_version_is_judged_from_copies_of_live_traffic(
    stack: LocalPlatform, tmp_path: Path
) -> None:
    """v2 only shadows v1 (100 % of requests copied): callers always get v1, yet the labels
    they send score v2's answers too, and the experiment judges v2 from them."""
    with stack.client() as c:
        good = artifacts.cut_classifier(tmp_path / "shad-v1.pt", TRUTH_CUTS)
        bad = artifacts.cut_classifier(tmp_path / "shad-v2.pt", (1.3, 2.0))
        assert push(c, good, name="shad", version="v1").status_code == 201
        assert push(c, bad, name="shad", version="v2").status_code == 201
        c.post("/api/v1/models/shad/deploy", json={"version": "v1"}).raise_for_status()
        r = c.put("/api/v1/models/shad/shadow", json={"shadow": {"v2": 100}, "reason": "dark"})
        assert r.status_code == 200, r.text
    wait_until(lambda: _serves_both(stack, "shad"), timeout=60)
    time.sleep(2.5)  # as below: the experiment counts whole seconds after the split's own
    n = 500
    predictions = _predict(stack, "shad", n, seed=3)
    assert {p.version for p in predictions} == {"v1"}

    def shadow_counted() -> dict[str, Any] | None:
        e = _experiment(stack, "shad")
        found = {v["version"]: v for v in e["versions"]}
        shadow = found.get("v2")
        return e if shadow and shadow["requests"] >= n and found["v1"]["requests"] >= n else None

    wait_until(shadow_counted, timeout=30, interval=0.3)
    _label(stack, predictions)

    def labels_counted() -> dict[str, Any] | None:
        e = _experiment(stack, "shad")
        found = {v["version"]: v for v in e["versions"]}
        return e if found["v1"]["labelled"] >= n and found["v2"]["labelled"] >= n else None

    e = wait_until(labels_counted, timeout=30, interval=0.3)
    assert [(v["version"], v["weight"], v["role"], v["shadow"]) for v in e["versions"]] == [
        ("v1", 100, "baseline", 0),
        ("v2", 0, "shadow", 100),
    ]
    (c,) = e["comparisons"]
    agreement = e["versions"][1]["agreement"]
    print(
        f"shadow v2 of v1: {e['versions'][1]['requests']} copies, agreement "
        f"{agreement['value']:.3f} [{agreement['low']:.3f}, {agreement['high']:.3f}] of "
        f"{agreement['n']} rows; verdict: {c['verdict']}"
    )
    # v2 moves the first cut from 1.0 to 1.3: it disagrees on about a tenth of the inputs.
    assert 0.8 < c["agreement"] < 0.97 and agreement["n"] >= n
    assert c["decided"] is True and c["accuracy"]["diff"] < 0
    assert c["verdict"].startswith("v1 is more accurate than v2: ")
    assert "shadow of v1: agrees with the live answer on " in c["verdict"]


def test_only_traffic_since_the_current_split_is_compared(
    stack: LocalPlatform, tmp_path: Path
) -> None:
    """Traffic served under an earlier split is left out: the finding pooled the chart's
    whole range, from before the split existed."""
    with stack.client() as c:
        for v in ("v1", "v2"):
            path = artifacts.cut_classifier(tmp_path / f"{v}.pt", TRUTH_CUTS)
            assert push(c, path, name="split", version=v).status_code == 201
        c.put(
            "/api/v1/models/split/deployment", json={"weights": {"v1": 50, "v2": 50}}
        ).raise_for_status()
    wait_until(lambda: _serves_both(stack, "split"), timeout=60)
    time.sleep(2.5)  # counts are per whole second after the split's own, and a scrape spreads
    # its increase over the seconds since the one before
    _predict(stack, "split", 120, seed=4)
    first = wait_until(
        lambda: (
            (e := _experiment(stack, "split"))
            and sum(v["requests"] for v in e["versions"]) >= 120
            and e
        ),
        timeout=30,
        interval=0.3,
    )
    with stack.client() as c:
        # A shadow change keeps the split, so its traffic still counts.
        c.put("/api/v1/models/split/shadow", json={"shadow": {}}).raise_for_status()
        assert _experiment(stack, "split")["split_revision"] == first["split_revision"]
        r = c.put("/api/v1/models/split/deployment", json={"weights": {"v1": 70, "v2": 30}})
        r.raise_for_status()
    after = _experiment(stack, "split")
    assert after["split_revision"] == r.json()["revision"] > first["split_revision"]
    assert after["window_s"] <= 10 < WINDOW
    assert sum(v["requests"] for v in after["versions"]) < 120
    assert after["since"] >= after["split_since"] or after["window_s"] == 1
    wait_until(lambda: _serves_both(stack, "split"), timeout=60)
    time.sleep(2.5)
    _predict(stack, "split", 40, seed=5)

    def counted() -> dict[str, Any] | None:
        e = _experiment(stack, "split")
        return e if sum(v["requests"] for v in e["versions"]) >= 40 else None

    e = wait_until(counted, timeout=30, interval=0.3)
    assert 40 <= sum(v["requests"] for v in e["versions"]) <= 42  # not the 120 from before
    assert e["split_since"] == after["split_since"]


def test_thresholds_are_the_models_own_and_audited(stack: LocalPlatform) -> None:
    with stack.client() as c:
        r = c.get("/api/v1/models/iris/thresholds")
        assert r.status_code == 200 and r.json()["custom"] is False
        assert r.json()["thresholds"] == {
            "latency_pct": 10.0,
            "latency_ms": 1.0,
            "accuracy_points": 1.0,
            "error_points": 1.0,
        }
        r = c.put(
            "/api/v1/models/iris/thresholds",
            json={"thresholds": {"accuracy_points": 15}, "reason": "only big wins matter"},
        )
        assert r.status_code == 200 and r.json()["custom"] is True
        e = _experiment(stack, "iris")
        assert e["thresholds"]["accuracy_points"] == 15
        (c0,) = e["comparisons"]
        (accuracy,) = [x for x in c0["effects"] if x["measure"] == "accuracy"]
        assert accuracy["threshold"] == 15 and accuracy["reading"] == "negligible"
        events = c.get("/api/v1/audit", params={"model": "iris"}).json()
        assert any(
            ev["action"] == "thresholds.set" and ev["reason"] == "only big wins matter"
            for ev in events
        )
        r = c.put("/api/v1/models/iris/thresholds", json={"thresholds": {"accuracy_points": 0}})
        assert r.status_code == 422 and "accuracy_points" in error_message(r)
    # The CLI shows them and changes those given, keeping the others.
    shown = stack.pier("thresholds", "iris")
    assert shown.returncode == 0 and "accuracy 15 points" in shown.stdout, shown.stderr
    done = stack.pier("thresholds", "iris", "--latency-ms", "3", "--reason", "batch jobs")
    assert done.returncode == 0, done.stderr
    assert "latency 10 % and 3 ms, accuracy 15 points" in done.stdout
    with stack.client() as c:
        assert c.get("/api/v1/models/iris/thresholds").json()["thresholds"]["latency_ms"] == 3
        c.put("/api/v1/models/iris/thresholds", json={"thresholds": {}}).raise_for_status()
