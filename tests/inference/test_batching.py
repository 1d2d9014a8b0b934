"""Adaptive batching, seen from outside: concurrent requests share model calls
(pier_batch_size says so), answers are the ones each request would get alone, a poisoned
row fails only its own request, a lone request never waits for companions, and a batch
is not held for requests the load does not send."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from prometheus_client.parser import text_string_to_metric_families

from inference.app import create_app
from inference.execution.batcher import Batcher, BatcherStats
from inference.schemas import ModelRoute, RoutingTable, VersionBatching
from tests.inference.conftest import ready, settings_for, state, stock_cache
from tests.inference.models import FEATURES, PROBABILITIES, Artifact
from tests.inference.server import ServerThread, wait_for
from tests.support.artifacts import crowded, flaky, slow, torchscript

POISON = [9.0, 0.0, 0.0, 0.0]  # feature 0 above the flaky model's limit of 6


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Artifact]:
    root = tmp_path_factory.mktemp("batching-models")
    return {
        name: Artifact(path, "torchscript", FEATURES, PROBABILITIES)
        for name, path in {
            # Each call costs the same whatever its rows: requests pile up behind it.
            "slow": slow(root / "slow.pt", rounds=8),
            "flaky": flaky(root / "flaky.pt"),
            "mlp": torchscript(root / "mlp.pt", seed=5),
        }.items()
    }


def table(models: dict[str, Artifact]) -> RoutingTable:
    return RoutingTable(
        revision=1,
        models=[
            ModelRoute(name=name, weights={"v1": 100}, versions=[artifact.spec("v1")])
            for name, artifact in models.items()
        ],
    )


def serve(cache: Path, models: dict[str, Artifact], **settings: object) -> ServerThread:
    stock_cache(cache, models, table(models))
    server = ServerThread(create_app(settings_for(cache, **settings))).start()
    wait_for(lambda: ready(server.url), timeout_s=60)
    return server


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, models: dict[str, Artifact]
) -> Iterator[ServerThread]:
    server = serve(
        tmp_path_factory.mktemp("batching-cache"),
        models,
        max_batch_rows=32,
        max_batch_wait_ms=5,
    )
    yield server
    server.stop()


def batcher(server: ServerThread, model: str) -> Batcher:
    plane = state(server).plane
    found = plane.batcher(plane.resolve(model, "v1", None))
    assert found is not None
    return found


def stats(server: ServerThread, model: str) -> BatcherStats:
    s = batcher(server, model).stats
    return BatcherStats(**vars(s))


def reference(artifact: Artifact, rows: list[list[float]]) -> np.ndarray:
    """What the saved model answers for these rows alone, in this process."""
    module = torch.jit.load(str(artifact.path))
    with torch.inference_mode():
        return module(torch.tensor(rows, dtype=torch.float32)).numpy()  # type: ignore[no-any-return]


async def predict_all(
    url: str, model: str, inputs: list[list[list[float]]]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(inputs))
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(client.post("/predict", json={"model": model, "inputs": rows}) for rows in inputs)
        )


def batch_size_series(url: str, model: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics").text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "pier_batch_size":
            continue
        for sample in family.samples:
            if sample.labels.get("model") != model:
                continue
            name = sample.name.removeprefix("pier_batch_size")
            le = sample.labels.get("le")
            found[f"{name}{'' if le is None else f'[{le}]'}"] = sample.value
    return found


def gauge(url: str, name: str) -> dict[str, float]:
    """A gauge's value by model."""
    text = httpx.get(f"{url}/metrics").text
    return {
        sample.labels["model"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for sample in family.samples
    }


def random_requests(count: int, seed: int) -> list[list[list[float]]]:
    rng = np.random.default_rng(seed)
    # Mixed sizes (1 to 3 rows) so that splitting a gathered answer is exercised too.
    return [rng.uniform(0, 5, size=(1 + i % 3, 4)).round(3).tolist() for i in range(count)]


def test_concurrent_requests_share_model_calls(service: ServerThread) -> None:
    before = batch_size_series(service.url, "slow")
    inputs = random_requests(64, seed=1)
    responses = asyncio.run(predict_all(service.url, "slow", inputs))

    assert [r.status_code for r in responses] == [200] * len(inputs)
    after = batch_size_series(service.url, "slow")
    calls = after["_count"] - before.get("_count", 0)
    rows = after["_sum"] - before.get("_sum", 0)
    single_row_calls = after["_bucket[1.0]"] - before.get("_bucket[1.0]", 0)
    assert rows == sum(len(r) for r in inputs)  # every row went through exactly one call
    assert calls < len(inputs), "64 concurrent requests should have shared model calls"
    assert calls - single_row_calls >= 1
    assert batcher(service, "slow").stats.largest_batch <= 32


def test_batched_answers_match_each_request_alone(
    service: ServerThread, models: dict[str, Artifact]
) -> None:
    before = stats(service, "slow")
    inputs = random_requests(48, seed=2)
    responses = asyncio.run(predict_all(service.url, "slow", inputs))

    after = stats(service, "slow")
    assert after.calls - before.calls < after.requests - before.requests, "nothing was gathered"
    for rows, response in zip(inputs, responses, strict=True):
        assert response.status_code == 200
        # Float sums in a matmul of 16 rows may round differently in the last bit from
        # the same rows alone; anything more than that would be a wrong answer.
        np.testing.assert_allclose(
            response.json()["outputs"], reference(models["slow"], rows), rtol=1e-5, atol=1e-6
        )


def test_a_poisoned_row_fails_only_its_own_request(
    service: ServerThread, models: dict[str, Artifact]
) -> None:
    """Bursts until one gathered call held the poisoned row (a split retry): each burst's
    other requests still get their answers."""
    good = random_requests(15, seed=3)
    expected = [reference(models["flaky"], rows) for rows in good]
    start = stats(service, "flaky").split_retries
    deadline = time.monotonic() + 60
    while stats(service, "flaky").split_retries == start:
        assert time.monotonic() < deadline, "no gathered call held the poisoned request"
        burst = [*good[:8], [POISON], *good[8:]]
        responses = asyncio.run(predict_all(service.url, "flaky", burst))
        poisoned = responses.pop(8)
        assert poisoned.status_code == 500
        error = poisoned.json()["error"]
        assert error["type"] == "model_error"
        assert "feature 0 out of the range" in error["message"]
        for response, want in zip(responses, expected, strict=True):
            assert response.status_code == 200, response.text
            np.testing.assert_allclose(response.json()["outputs"], want, rtol=1e-5, atol=1e-6)


def test_a_lone_request_runs_at_once(tmp_path: Path, models: dict[str, Artifact]) -> None:
    """At concurrency 1 every request finds the model idle and runs immediately: it never
    queues, and no call is held back for the (here absurd) 10 s max wait."""
    server = serve(tmp_path, models, max_batch_rows=32, max_batch_wait_ms=10_000)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for rows in random_requests(20, seed=4):
                response = client.post("/predict", json={"model": "mlp", "inputs": rows})
                assert response.status_code == 200
        done = stats(server, "mlp")
    finally:
        server.stop()
    assert (done.requests, done.immediate, done.queued, done.held) == (20, 20, 0, 0)
    assert done.calls == 20


def one_slot(tmp_path: Path, models: dict[str, Artifact], max_batch_wait_ms: float) -> ServerThread:
    """One model call at a time, batches of up to 32 rows (not learned)."""
    return serve(
        tmp_path,
        models,
        model_threads=1,
        max_batch_rows=32,
        adaptive_batch_rows=False,
        max_batch_wait_ms=max_batch_wait_ms,
    )


async def closed_loop(url: str, model: str, clients: int, answers: int) -> list[float]:
    """`clients` clients, each sending its next request when its answer comes, until
    `answers` have come: the seconds each of those took (the requests still out when the
    clients stop are not counted: the load dropping is another case)."""
    took: list[float] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one_client(seed: int) -> None:
            for rows in itertools.cycle(random_requests(8, seed=seed)):
                started = time.perf_counter()
                response = await client.post("/predict", json={"model": model, "inputs": rows})
                assert response.status_code == 200, response.text
                if len(took) == answers:
                    return
                took.append(time.perf_counter() - started)

        await asyncio.gather(*(one_client(seed) for seed in range(clients)))
    return took


def test_a_batch_is_not_held_for_requests_the_load_never_sends(
    tmp_path: Path, models: dict[str, Artifact]
) -> None:
    """Four clients that each wait for their answer never queue 32 rows. Their requests
    still share calls, but no call is held out for the (here 1 s) max wait: a batch counts
    as full at as many requests as the queue has lately held."""
    server = one_slot(tmp_path, models, max_batch_wait_ms=1_000)
    try:
        took = asyncio.run(closed_loop(server.url, "slow", clients=4, answers=40))
        done = stats(server, "slow")
    finally:
        server.stop()
    assert len(took) == 40
    assert done.calls < done.requests, "the clients' requests never shared a call"
    assert max(took) < 0.5, f"a request waited {max(took):.2f} s: its batch was held"


def test_a_batch_held_in_vain_lowers_the_next_ones_wait(
    tmp_path: Path, models: dict[str, Artifact]
) -> None:
    """Eight clients, then two: the first call after the drop waits out the max wait (the
    queue was lately deeper), the ones after it do not."""
    server = one_slot(tmp_path, models, max_batch_wait_ms=300)
    try:
        asyncio.run(closed_loop(server.url, "slow", clients=8, answers=40))
        took = asyncio.run(closed_loop(server.url, "slow", clients=2, answers=20))
    finally:
        server.stop()
    assert sum(t > 0.25 for t in took) <= 2, [round(t, 3) for t in took]


@contextmanager
def on_one_core() -> Iterator[None]:
    """This thread, and the threads it starts meanwhile (a replica served in-process, its
    model threads), may run on one core only: the replica's cores, as taskset gives them."""
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


async def burst_behind_a_call(server: ServerThread, model: str, queued: int) -> float:
    """Seconds from the answer of a request whose call ran alone to the answers of
    `queued` one-row requests sent while that call ran (they queue behind it)."""
    gathered = batcher(server, model)

    async def until(predicate: Callable[[], bool], what: str) -> None:
        deadline = time.perf_counter() + 10
        while not predicate():
            assert time.perf_counter() < deadline, f"never {what}"
            await asyncio.sleep(0.002)

    body = {"model": model, "inputs": random_requests(1, seed=1)[0][:1]}
    limits = httpx.Limits(max_connections=queued + 1)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        first = asyncio.create_task(client.post("/predict", json=body))
        await until(lambda: gathered.running == 1, "a call running")
        behind = [asyncio.create_task(client.post("/predict", json=body)) for _ in range(queued)]
        await until(lambda: gathered.queued == queued or first.done(), "queued")
        assert not first.done(), "the call ended before the requests behind it queued"
        assert (await first).status_code == 200
        freed = time.perf_counter()
        assert [r.status_code for r in await asyncio.gather(*behind)] == [200] * queued
        return time.perf_counter() - freed


def test_on_a_replica_whose_cpu_is_the_limit_a_free_call_waits_for_the_most_queued(
    tmp_path: Path,
) -> None:
    """The replica tells its batchers whether its CPU is the limit
    (inference/execution/cpu_load.py): with a model that keeps its one core busy, after
    bursts of five a lone request waits the max wait for as many, since waiting costs
    nothing then. (With the CPU not counted, it goes at once: one of the calls lately
    found a single request queued.)"""
    # A call of tens of milliseconds, well inside the max wait: a request's wait counts
    # from its arrival, behind the call it queued after.
    wait_s = 0.6
    heavy = Artifact(
        slow(tmp_path / "heavy.pt", rounds=400), "torchscript", FEATURES, PROBABILITIES
    )
    with on_one_core():
        server = serve(
            tmp_path,
            {"heavy": heavy},
            model_threads=1,
            max_batch_rows=32,
            adaptive_batch_rows=False,
            max_batch_wait_ms=wait_s * 1000,
        )
        try:
            alone = []
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for _ in range(3):
                    started = time.perf_counter()
                    r = client.post("/predict", json={"model": "heavy", "inputs": [[1.0] * 4]})
                    assert r.status_code == 200, r.text
                    alone.append(time.perf_counter() - started)
            took = [asyncio.run(burst_behind_a_call(server, "heavy", n)) for n in (5, 1, 5, 1)]
        finally:
            server.stop()
    call = min(alone)
    assert call < wait_s / 3, f"a call took {call:.3f} s: too long to show a wait"
    assert took[1] - call > wait_s / 2, f"the first lone request did not wait: {took}"
    assert took[3] - call > wait_s / 2, (
        f"with the replica's core busy, the lone request after a burst went after "
        f"{took[3]:.3f} s (a call alone: {call:.3f} s): it did not wait for the burst's "
        "companions, so the batcher was not told that the CPU is the limit"
    )


def test_model_threads_bounds_the_calls_that_run_at_once(
    tmp_path: Path, models: dict[str, Artifact]
) -> None:
    """PIER_INFERENCE_MODEL_THREADS=1 on a machine with more cores: one model call at a
    time. Calls that never overlap spend, together, no more time in the model than the
    whole burst took; and with batching on, the requests that waited were gathered."""
    server = serve(tmp_path, models, model_threads=1, max_batch_rows=32, max_batch_wait_ms=0)
    try:
        inputs = random_requests(24, seed=8)
        started = time.perf_counter()
        responses = asyncio.run(predict_all(server.url, "slow", inputs))
        elapsed = time.perf_counter() - started
        text = httpx.get(f"{server.url}/metrics").text
        done = stats(server, "slow")
        assert state(server).plane.threads.size == 1
    finally:
        server.stop()
    assert [r.status_code for r in responses] == [200] * len(inputs)
    in_model = next(
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == "pier_model_inference_seconds"
        for s in family.samples
        if s.name.endswith("_sum") and s.labels["model"] == "slow"
    )
    assert in_model <= elapsed, (in_model, elapsed)
    assert done.calls < len(inputs)  # one slot: the burst queued behind it and was gathered


def test_model_threads_default_to_the_cores_the_replica_may_use(service: ServerThread) -> None:
    assert state(service).plane.threads.size == len(os.sched_getaffinity(0))


def test_torch_threads_beyond_the_cores_are_warned_of_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two torch threads a call on one core wait for each other, and a model runs hundreds
    of times slower than with one: the replica says so as it starts; with one torch thread
    a call it says nothing."""
    with on_one_core(), caplog.at_level(logging.WARNING, logger="inference.app"):
        create_app(settings_for(tmp_path, torch_threads=2, model_threads=1))
        warned = [r.getMessage() for r in caplog.records]
        caplog.clear()
        create_app(settings_for(tmp_path, torch_threads=1))
        quiet = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1, warned
    assert "1 model calls at once x 2 torch threads" in warned[0]
    assert "the 1 cores" in warned[0] and "PIER_INFERENCE_TORCH_THREADS" in warned[0]
    assert quiet == []


def test_a_full_batch_is_handed_to_the_model_before_its_call_is_free(
    tmp_path: Path, models: dict[str, Artifact]
) -> None:
    """While a call runs, four queued rows make a full batch (max 4, not learned): it goes
    to the model thread's queue at once, and the thread takes it when its call ends."""
    server = serve(tmp_path, models, max_batch_rows=4, adaptive_batch_rows=False)
    try:
        inputs = [[[float(i % 5), 1.0, 2.0, 3.0]] for i in range(32)]
        responses = asyncio.run(predict_all(server.url, "slow", inputs))
        done = stats(server, "slow")
    finally:
        server.stop()
    assert [r.status_code for r in responses] == [200] * len(inputs)
    expected = reference(models["slow"], [rows[0] for rows in inputs])
    answers = np.array([r.json()["outputs"][0] for r in responses])
    np.testing.assert_allclose(answers, expected, rtol=1e-5, atol=1e-6)
    assert done.rows == len(inputs)
    assert done.largest_batch <= 4
    assert done.behind >= 1, "no full batch was handed over while a call ran"


def test_batching_off_makes_every_request_its_own_call(
    tmp_path: Path, models: dict[str, Artifact]
) -> None:
    server = serve(tmp_path, models, max_batch_rows=1)
    try:
        inputs = random_requests(24, seed=5)
        responses = asyncio.run(predict_all(server.url, "slow", inputs))
        assert [r.status_code for r in responses] == [200] * len(inputs)
        series = batch_size_series(server.url, "slow")
        plane = state(server).plane
        assert plane.batcher(plane.resolve("slow", "v1", None)) is None
    finally:
        server.stop()
    assert series["_count"] == len(inputs)
    assert series["_sum"] == sum(len(r) for r in inputs)


@pytest.mark.parametrize("max_batch_rows", [32, 1], ids=["batched", "not-batched"])
def test_a_call_past_the_timeout_answers_504_and_the_replica_goes_on(
    tmp_path: Path, models: dict[str, Artifact], max_batch_rows: int
) -> None:
    """A call of about 0.2 s outlasts a 50 ms timeout: its request gets 504 at the deadline,
    and the replica goes on answering, batched or not. 2000 rounds, because a few hundred
    can end within the timeout on a fast host."""
    crawl = Artifact(
        slow(tmp_path / "crawl.pt", rounds=2000), "torchscript", FEATURES, PROBABILITIES
    )
    server = serve(
        tmp_path,
        {**models, "crawl": crawl},
        request_timeout_s=0.05,
        max_batch_rows=max_batch_rows,
    )
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            started = time.monotonic()
            late = client.post("/predict", json={"model": "crawl", "inputs": [[1.0] * 4]})
            waited = time.monotonic() - started
            after = client.post("/predict", json={"model": "mlp", "inputs": [[1.0] * 4]})
        plane = state(server).plane
        found = plane.batcher(plane.resolve("crawl", "v1", None))
        assert (found is None) == (max_batch_rows == 1)
        timeouts = None if found is None else found.stats.timeouts
        # The abandoned call still runs on its model thread: let it end (its call is then
        # counted) before the process may (a torch call cut short by the interpreter's exit
        # aborts it).
        wait_for(lambda: batch_size_series(server.url, "crawl").get("_count") == 1)
    finally:
        server.stop()
    assert late.status_code == 504, late.text
    assert late.json()["error"]["type"] == "model_timeout"
    assert "within 0.05 s" in late.json()["error"]["message"]
    assert after.status_code == 200
    assert timeouts == (None if max_batch_rows == 1 else 1)
    assert waited < 0.9, f"the 504 came {waited:.2f} s after the request: not at the deadline"


def test_each_model_learns_the_batch_size_that_serves_it_cheapest(
    tmp_path: Path, models: dict[str, Artifact]
) -> None:
    """Under the same steady load, a model whose calls cost the same whatever their rows
    keeps the largest batches, and one whose rows crowd each other (a call's cost grows with
    the square of its rows) is given smaller ones; pier_batch_limit_rows shows each."""
    pair = {
        "slow": models["slow"],
        "crowded": Artifact(crowded(tmp_path / "crowded.pt"), "torchscript", FEATURES,
                            PROBABILITIES),
    }  # fmt: skip
    server = serve(tmp_path, pair, max_batch_rows=32, max_batch_wait_ms=5)
    rows = [[[float(i % 7), 1.0, 2.0, 3.0]] for i in range(64)]

    def learned() -> bool:
        for model in pair:
            responses = asyncio.run(predict_all(server.url, model, rows))
            assert [r.status_code for r in responses] == [200] * len(rows)
        # Both at once: one noisy call on a shared host can move a limit for a while
        # (the slow model's sixteens and thirty-twos differ by 2x a row, its calls' noise
        # by about as much), and steady load moves it back.
        return batcher(server, "crowded").limit < 32 and batcher(server, "slow").limit == 32

    try:
        wait_for(learned, timeout_s=120, interval_s=0)
        limits = gauge(server.url, "pier_batch_limit_rows")
        learned_limit = batcher(server, "crowded").stats.limit
        answers = asyncio.run(predict_all(server.url, "crowded", rows[:8]))
        print(f"\nlearned batch limits: {limits}")
    finally:
        server.stop()
    assert limits["slow"] == 32
    assert limits["crowded"] < 32
    assert limits["crowded"] == learned_limit
    for response, request in zip(answers, rows[:8], strict=True):
        assert np.allclose(response.json()["outputs"], reference(pair["crowded"], request))


def test_a_versions_own_batching_overrides_the_replicas(
    tmp_path: Path, models: dict[str, Artifact]
) -> None:
    """The replica batches up to 32 rows; one version's pier.yaml says 4, another's says 1
    (no batching): each is served as its own settings say."""
    own = {"slow": VersionBatching(max_rows=4, max_wait_ms=1), "mlp": VersionBatching(max_rows=1)}
    routes = RoutingTable(
        revision=1,
        models=[
            ModelRoute(
                name=name,
                weights={"v1": 100},
                versions=[models[name].spec("v1").model_copy(update={"batching": own[name]})],
            )
            for name in own
        ],
    )
    stock_cache(tmp_path, {name: models[name] for name in own}, routes)
    server = ServerThread(create_app(settings_for(tmp_path, max_batch_rows=32))).start()
    try:
        wait_for(lambda: ready(server.url), timeout_s=60)
        inputs = [[[1.0, 2.0, 3.0, 4.0]] for _ in range(32)]
        for model in own:
            responses = asyncio.run(predict_all(server.url, model, inputs))
            assert [r.status_code for r in responses] == [200] * len(inputs)
        plane = state(server).plane
        slow_batcher = batcher(server, "slow")
        unbatched = plane.batcher(plane.resolve("mlp", "v1", None))
    finally:
        server.stop()
    assert (slow_batcher.policy.max_rows, slow_batcher.policy.max_wait_s) == (4, 0.001)
    assert slow_batcher.stats.largest_batch == 4  # 32 requests at once: full batches of 4
    assert slow_batcher.stats.calls >= 8
    assert unbatched is None
