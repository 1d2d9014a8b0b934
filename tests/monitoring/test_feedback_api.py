"""POST /feedback on a real replica: joined to the prediction, scored, counted."""

from __future__ import annotations

import math
import uuid

import httpx
import pytest

from inference.feedback.predictions import new_prediction_id
from tests.inference.server import ServerThread
from tests.monitoring.conftest import StartReplica
from tests.monitoring.support import ROW, ShiftedClock, predict, predicted_class, value
from tests.support.servers import wait_until


def feedback_count(client: httpx.Client, result: str) -> float:
    return value(client.get("/metrics").text, "pier_feedback_total", result=result)


def summary(client: httpx.Client, model: str, version: str, window: int = 300) -> dict:
    body = client.get(f"/metrics?window={window}", headers={"Accept": "application/json"}).json()
    found = [m for m in body["models"] if (m["model"], m["version"]) == (model, version)]
    return dict(found[0]) if found else {}


def test_a_label_is_scored_once(client: httpx.Client) -> None:
    body = predict(client, version="v2")
    pid = body["prediction_id"]
    r = client.post("/feedback", json={"prediction_id": pid, "label": predicted_class(body)})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "prediction_id": pid,
        "result": "accepted",
        "message": None,
        "model": "iris",
        "version": "v2",
    }
    again = client.post("/feedback", json={"prediction_id": pid, "label": 0})
    assert again.status_code == 409
    assert again.json()["error"]["type"] == "duplicate_feedback"


def test_unknown_expired_and_malformed_ids(client: httpx.Client, clock: ShiftedClock) -> None:
    before = {k: feedback_count(client, k) for k in ("unknown", "expired", "invalid")}
    unknown = client.post(
        "/feedback", json={"prediction_id": new_prediction_id(clock()), "label": 1}
    )
    assert unknown.status_code == 404
    assert "no prediction with this id" in unknown.json()["error"]["message"]

    two_days_ago = new_prediction_id(clock() - 2 * 86_400)
    expired = client.post("/feedback", json={"prediction_id": two_days_ago, "label": 1})
    assert expired.status_code == 410
    assert "older than the feedback store keeps" in expired.json()["error"]["message"]

    malformed = client.post("/feedback", json={"prediction_id": uuid.uuid4().hex, "label": 1})
    assert malformed.status_code == 422
    assert "32 hex digits" in malformed.json()["error"]["message"]

    after = {k: feedback_count(client, k) for k in ("unknown", "expired", "invalid")}
    assert after == {k: before[k] + 1 for k in before}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("not json", "expected FeedbackItem JSON"),
        ({"label": 1}, "prediction_id"),
        ({"prediction_id": "x"}, "label"),
    ],
)
def test_malformed_bodies_are_422(client: httpx.Client, body: object, expected: str) -> None:
    r = (
        client.post("/feedback", content=body)
        if isinstance(body, str)
        else client.post("/feedback", json=body)
    )
    assert r.status_code == 422
    assert expected in r.json()["error"]["message"]


def test_a_refused_label_can_be_corrected(client: httpx.Client) -> None:
    body = predict(client)
    pid = body["prediction_id"]
    for label, expected in (
        (1.5, "expected a class index"),
        (7, "from 0 to 2"),
        ([0, 1], "1 labels"),
    ):
        r = client.post("/feedback", json={"prediction_id": pid, "label": label})
        assert r.status_code == 422, label
        assert expected in r.json()["error"]["message"]
    assert client.post("/feedback", json={"prediction_id": pid, "label": 2}).status_code == 200


def test_several_rows_take_one_label_each(client: httpx.Client) -> None:
    body = predict(client, rows=3, version="v2")
    classes = [max(range(3), key=row.__getitem__) for row in body["outputs"]]
    wrong = (classes[0] + 1) % 3
    r = client.post(
        "/feedback", json={"prediction_id": body["prediction_id"], "label": [wrong, *classes[1:]]}
    )
    assert r.status_code == 200, r.text


def test_regressor_feedback_gives_mae_and_rmse(
    start_replica: StartReplica, clock: ShiftedClock
) -> None:
    server: ServerThread = start_replica(clock=clock)
    with httpx.Client(base_url=server.url, timeout=30) as c:
        expected_value = sum(ROW)
        errors = [0.5, -1.5, 2.0]
        for err in errors:
            body = predict(c, model="house")
            assert body["outputs"][0][0] == pytest.approx(expected_value, rel=1e-5)
            label = body["outputs"][0][0] + err
            r = c.post("/feedback", json={"prediction_id": body["prediction_id"], "label": label})
            assert r.status_code == 200, r.text
        bad = predict(c, model="house")
        r = c.post("/feedback", json={"prediction_id": bad["prediction_id"], "label": "high"})
        assert r.status_code == 422 and "expected a finite number" in r.text
        house = summary(c, "house", "r1")
        assert house["labelled"] == 3
        assert house["accuracy"] is None
        assert house["mae"] == pytest.approx(sum(map(abs, errors)) / 3, rel=1e-4)
        assert house["rmse"] == pytest.approx(math.sqrt(sum(e * e for e in errors) / 3), rel=1e-4)


def test_batch_feedback(client: httpx.Client, clock: ShiftedClock) -> None:
    bodies = [predict(client, version="v2") for _ in range(4)]
    items = [{"prediction_id": b["prediction_id"], "label": predicted_class(b)} for b in bodies[:3]]
    items.append({"prediction_id": bodies[3]["prediction_id"], "label": "cat"})
    items.append({"prediction_id": bodies[0]["prediction_id"], "label": 0})
    items.append({"prediction_id": new_prediction_id(clock()), "label": 0})
    items.append({"prediction_id": new_prediction_id(clock() - 3 * 86_400), "label": 0})
    r = client.post("/feedback/batch", json={"items": items})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"] == {
        "accepted": 3,
        "unknown": 1,
        "expired": 1,
        "duplicate": 1,
        "invalid": 1,
    }
    assert [x["result"] for x in body["results"]] == [
        "accepted",
        "accepted",
        "accepted",
        "invalid",
        "duplicate",
        "unknown",
        "expired",
    ]
    empty = client.post("/feedback/batch", json={"items": []})
    assert empty.status_code == 422


def test_delayed_feedback_counts_toward_the_window_of_the_prediction(
    start_replica: StartReplica,
) -> None:
    clock = ShiftedClock()
    server = start_replica(clock=clock)
    with httpx.Client(base_url=server.url, timeout=30) as c:
        bodies = [predict(c) for _ in range(8)]
        made_at = clock()
        clock.advance(6 * 3600)  # six hours later, far past any window
        for i, b in enumerate(bodies):
            label = predicted_class(b) if i < 6 else (predicted_class(b) + 1) % 3
            r = c.post("/feedback", json={"prediction_id": b["prediction_id"], "label": label})
            assert r.status_code == 200, r.text
        # Nothing was predicted in the last 300 s: the late labels do not show up there...
        assert summary(c, "iris", "v1") == {}
        # ...but in the bucket of the prediction time, where the control plane reads them.
        books = c.get("/feedback/aggregates").json()["books"]
        buckets = [b for book in books for b in book["buckets"] if b["model"] == "iris"]
        assert sum(b["labelled"] for b in buckets) == 8
        assert sum(b["correct"] for b in buckets) == 6
        assert all(made_at - 10 <= b["start"] <= made_at for b in buckets)


def test_aggregates_answer_only_what_changed(client: httpx.Client) -> None:
    first = client.get("/feedback/aggregates").json()
    (book,) = first["books"]
    cursor = f"{book['epoch']}@{book['revision']}"
    assert (
        client.get("/feedback/aggregates", params={"after": cursor}).json()["books"][0]["buckets"]
        == []
    )
    b = predict(client)
    client.post("/feedback", json={"prediction_id": b["prediction_id"], "label": 0})
    changed = client.get("/feedback/aggregates", params={"after": cursor}).json()["books"][0]
    assert len(changed["buckets"]) == 1 and changed["revision"] > book["revision"]
    bad = client.get("/feedback/aggregates", params={"after": "nonsense"})
    assert bad.status_code == 422 and "EPOCH@REVISION" in bad.json()["error"]["message"]


def test_feedback_reaches_any_replica_through_redis(start_replica: StartReplica) -> None:
    """With Redis, a label may reach another replica than the one that predicted."""
    redis_url = "redis://127.0.0.1:6379/0"
    a = start_replica(redis_url=redis_url, prediction_ttl_s=120)
    b = start_replica(redis_url=redis_url, prediction_ttl_s=120)
    with httpx.Client(base_url=a.url, timeout=30) as ca, httpx.Client(base_url=b.url) as cb:
        body = predict(ca)
        assert (
            ca.get("/metrics", headers={"Accept": "application/json"}).json()["prediction_store"][
                "kind"
            ]
            == "redis"
        )
        item = {"prediction_id": body["prediction_id"], "label": 0}
        # Writes to Redis are batched off the request path: a label may come a moment later.
        wait_until(lambda: cb.post("/feedback", json=item).status_code != 404, timeout=10)
        assert cb.post("/feedback", json=item).status_code == 409  # it was taken above
        again = ca.post("/feedback", json={"prediction_id": body["prediction_id"], "label": 0})
        assert again.status_code == 409
