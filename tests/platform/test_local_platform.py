"""The platform end to end on one machine: the real API, the local orchestrator, the real
inference process over HTTP, the `pier` CLI as a user runs it."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.platform import LocalPlatform, local_platform
from tests.support.servers import wait_until

ROW = [5.1, 3.5, 1.4, 0.2]


def predict(platform: LocalPlatform, client: httpx.Client, **extra: object) -> httpx.Response:
    return client.post(
        f"{platform.inference_url}/predict", json={"model": "iris", "inputs": [ROW], **extra}
    )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    home = tmp_path_factory.mktemp("home")
    work = tmp_path_factory.mktemp("work")
    artifacts.torchscript(work / "v1.pt", seed=0)
    artifacts.exported(work / "v2.pt2", seed=5)
    artifacts.manifest(work, work / "v1.pt", version="v1")
    artifacts.manifest(work, work / "v2.pt2", version="v2")
    settings = PierSettings(home=home, database_url=f"sqlite:///{home / 'pier.db'}")
    with local_platform(settings, workdir=work) as p:
        yield p


def test_push_deploy_and_predict_with_the_cli(platform: LocalPlatform) -> None:
    pushed = platform.pier("push", "iris-v1-v1.yaml")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed iris@v1" in pushed.stdout
    repeat = platform.pier("push", "iris-v1-v1.yaml")
    assert repeat.returncode == 0 and "already holds these bytes" in repeat.stdout
    assert platform.pier("push", "iris-v2-v2.yaml").returncode == 0

    deployed = platform.pier("deploy", "iris", "v1", "--reason", "first release")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    assert "every replica serves revision" in deployed.stdout

    with httpx.Client(timeout=10) as c:
        r = predict(platform, c)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["model"], body["version"]) == ("iris", "v1")
        assert r.headers["x-pier-version"] == "v1"
        assert len(body["outputs"]) == 1 and len(body["outputs"][0]) == 3
        assert abs(sum(body["outputs"][0]) - 1) < 1e-5
        assert len(body["prediction_id"]) >= 16
        many = predict(platform, c, inputs=[ROW] * 5).json()
        assert len(many["outputs"]) == 5

    status = platform.pier("status")
    assert status.returncode == 0
    assert "iris" in status.stdout and "v1 100%" in status.stdout
    # The replica is the worker, on its private port, not the public port it shares.
    (worker,) = platform.orchestrator.replicas()
    assert worker.url in status.stdout and worker.url != platform.inference_url
    # Each replica says where its models run (no GPU here: the CPU).
    assert "device" in status.stdout and "cpu" in status.stdout


def _traffic(
    platform: LocalPlatform, stop: threading.Event, seen: Counter[str], failures: list[str]
) -> None:
    with httpx.Client(timeout=10) as c:
        while not stop.is_set():
            try:
                r = predict(platform, c)
            except httpx.HTTPError as e:
                failures.append(repr(e))
                continue
            if r.status_code == 200:
                seen[r.json()["version"]] += 1
            else:
                failures.append(f"{r.status_code} {r.text[:200]}")


def _switch_under_load(platform: LocalPlatform, change: list[str], expect: str) -> Counter[str]:
    stop = threading.Event()
    seen: Counter[str] = Counter()
    failures: list[str] = []
    threads = [
        threading.Thread(target=_traffic, args=(platform, stop, seen, failures)) for _ in range(6)
    ]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: sum(seen.values()) > 50, timeout=30)
        result = platform.pier(*change)
        assert result.returncode == 0, result.stdout + result.stderr
        before = seen[expect]
        wait_until(lambda: seen[expect] > before + 50, timeout=30)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == [], failures[:5]
    return seen


def test_deploy_and_rollback_under_traffic_lose_no_request(platform: LocalPlatform) -> None:
    pid = platform.orchestrator.pid
    seen = _switch_under_load(platform, ["deploy", "iris", "v2"], expect="v2")
    assert seen["v1"] > 0 and seen["v2"] > 50
    with httpx.Client(timeout=10) as c:
        assert {predict(platform, c).json()["version"] for _ in range(20)} == {"v2"}

    seen = _switch_under_load(platform, ["rollback", "iris", "--reason", "v2 regressed"], "v1")
    assert seen["v1"] > 50
    with httpx.Client(timeout=10) as c:
        assert {predict(platform, c).json()["version"] for _ in range(20)} == {"v1"}
        # The rolled-back version stays loaded and can still be pinned.
        assert predict(platform, c, version="v2").json()["version"] == "v2"
    # Routing changes reach the running process: it was never restarted.
    assert platform.orchestrator.pid == pid
    assert platform.orchestrator.replicas()[0].restarts == 0
    audit = platform.pier("audit", "--model", "iris")
    assert "rollback" in audit.stdout and "v2 regressed" in audit.stdout


def test_a_split_sends_traffic_by_weight(platform: LocalPlatform) -> None:
    assert platform.pier("split", "iris", "v1=70", "v2=30").returncode == 0
    with httpx.Client(timeout=10) as c:
        versions = Counter(predict(platform, c).json()["version"] for _ in range(400))
        # 400 draws at 30 %: the count lies in [90, 150] with probability > 0.999.
        assert 90 <= versions["v2"] <= 150, versions
        keyed = {predict(platform, c, key="user-42").json()["version"] for _ in range(30)}
        assert len(keyed) == 1
    assert platform.pier("deploy", "iris", "v1").returncode == 0


def test_cli_errors_are_clear_and_exit_non_zero(platform: LocalPlatform) -> None:
    missing = platform.pier("deploy", "iris", "v9")
    assert missing.returncode == 1
    assert "no version 'v9'" in missing.stderr and "HTTP 404" in missing.stderr
    bad_split = platform.pier("split", "iris", "v1=60", "v2=30")
    assert bad_split.returncode == 1 and "sum to 100" in bad_split.stderr
    no_file = platform.pier("push", "nope.yaml")
    assert no_file.returncode == 1 and "nope.yaml" in no_file.stderr
    env_token = platform.pier("--token", "pier_wrong", "models")
    assert env_token.returncode == 1 and "HTTP 401" in env_token.stderr
    for cmd in (
        "push",
        "deploy",
        "rollback",
        "split",
        "status",
        "models",
        "versions",
        "audit",
        "up",
    ):
        helped = platform.pier(cmd, "--help")
        assert helped.returncode == 0 and "Usage" in helped.stdout


def test_a_crashed_inference_process_is_restarted(platform: LocalPlatform) -> None:
    pid = platform.orchestrator.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: platform.orchestrator.pid not in (None, pid), timeout=30)
    with httpx.Client(timeout=5) as c:
        r = wait_until(
            lambda: (resp := predict(platform, c)).status_code == 200 and resp, timeout=60
        )
        assert r.json()["version"] == "v1"
    assert platform.orchestrator.replicas()[0].restarts == 1


def test_inference_keeps_serving_when_the_control_plane_is_down(platform: LocalPlatform) -> None:
    assert platform.stop_api(timeout_s=30), "the control plane did not stop within 30 s"
    # A fresh connection each time: a pooled keep-alive one says nothing of the listener.
    wait_until(lambda: not _listening(platform.api_url), timeout=10)
    with httpx.Client(timeout=5) as c:
        for _ in range(50):
            r = predict(platform, c)
            assert r.status_code == 200 and r.json()["version"] == "v1"
        assert c.get(f"{platform.inference_url}/v2/health/ready").status_code == 200


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return True
    except OSError:
        return False
