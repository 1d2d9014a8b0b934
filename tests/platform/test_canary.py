"""Progressive canaries end to end: the real API and canary driver, the local orchestrator's
inference process, real traffic. Bad canaries roll back by themselves; a good one is promoted."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from control_plane.settings import PierSettings
from tests.support import artifacts
from tests.support.controlplane import push
from tests.support.platform import LocalPlatform, local_platform
from tests.support.servers import wait_until

pytestmark = pytest.mark.e2e

GOOD_ROW = [5.1, 3.5, 1.4, 0.2]
TRIGGER_ROW = [7.2, 3.0, 6.1, 2.3]  # the flaky version raises on feature 0 > 6


def _pier(stack: LocalPlatform, *args: str) -> str:
    done = stack.pier(*args, timeout_s=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass
class Traffic:
    """Steady traffic with 1 request in 5 on the input the flaky version fails on."""

    url: str
    clients: int = 4
    stop: threading.Event = field(default_factory=threading.Event)
    ok: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    threads: list[threading.Thread] = field(default_factory=list)

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=10) as c:
            while not self.stop.is_set():
                row = TRIGGER_ROW if rng.random() < 0.2 else GOOD_ROW
                r = c.post(f"{self.url}/predict", json={"model": "iris", "inputs": [row]})
                version = r.headers.get("x-pier-version", "?")
                if r.status_code == 200:
                    self.ok[version] += 1
                else:
                    self.failed[version] += 1

    def __enter__(self) -> Traffic:
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(self.clients)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    home, work = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("work")
    settings = PierSettings(home=home, database_url=f"sqlite:///{home / 'pier.db'}")
    with local_platform(settings, runtime=True, workdir=work) as stack:
        with stack.client() as c:
            for label, make in (
                ("v1", lambda p: artifacts.torchscript(p, seed=0)),
                ("v2", lambda p: artifacts.torchscript(p, seed=1)),
                ("flaky", artifacts.flaky),
                # 160 rounds: a p99 over 3x the baseline's, well past the gate's x1.5.
                ("slow", lambda p: artifacts.slow(p, rounds=160)),
            ):
                assert push(c, make(work / f"{label}.pt"), version=label).status_code == 201
            c.post("/api/v1/models/iris/deploy", json={"version": "v1"}).raise_for_status()
        wait_until(
            lambda: (
                httpx.post(
                    f"{stack.inference_url}/predict", json={"model": "iris", "inputs": [GOOD_ROW]}
                ).status_code
                == 200
            ),
            timeout=60,
        )
        yield stack


def _canary_until_done(
    stack: LocalPlatform, version: str, *gates: str, timeout: float = 90
) -> dict:  # type: ignore[type-arg]
    out = _pier(
        stack,
        "canary",
        "iris",
        version,
        "--steps",
        "10,50,100",
        "--interval",
        "3s",
        "--min-requests",
        "40",
        "--reason",
        f"try {version}",
        *gates,
    )
    assert f"iris@{version}" in out and "running at 10 %" in out

    def finished() -> dict | None:  # type: ignore[type-arg]
        with stack.client() as c:
            current = c.get("/api/v1/models/iris/canaries", params={"limit": 1}).json()[0]
        return current if current["status"] not in ("running", "paused") else None

    return wait_until(finished, timeout=timeout, interval=0.2)


def _converged(stack: LocalPlatform) -> bool:
    with stack.client() as c:
        status = c.get("/api/v1/status").json()
    return all(m["converged"] for m in status["models"] if m["model"] == "iris")


def _weights(stack: LocalPlatform) -> dict[str, int]:
    with stack.client() as c:
        return dict(c.get("/api/v1/models/iris/deployment").json()["weights"])


def test_a_canary_that_errors_is_rolled_back_by_itself(stack: LocalPlatform) -> None:
    started = time.monotonic()
    with Traffic(stack.inference_url) as traffic:
        result = _canary_until_done(stack, "flaky")
        elapsed = time.monotonic() - started
        after = dict(traffic.failed)
        # Once every replica serves the rollback, nothing fails any more.
        wait_until(lambda: _weights(stack) == {"v1": 100})
        wait_until(lambda: _converged(stack))
        settled = sum(traffic.failed.values())
        ok_before = sum(traffic.ok.values())
        wait_until(lambda: sum(traffic.ok.values()) > ok_before + 200, timeout=30)
        assert sum(traffic.failed.values()) == settled
    assert result["status"] == "rolled_back", result
    assert "error rate: fail" in result["last_reason"]
    assert result["weight"] == 10  # it never got past the first step
    assert set(after) <= {"flaky"}, after
    print(
        f"flaky canary: rolled back {elapsed:.1f} s after start; {after.get('flaky', 0)} failed "
        f"requests of {traffic.ok['flaky'] + after.get('flaky', 0)} it served, "
        f"{sum(traffic.ok.values())} ok in all"
    )
    with stack.client() as c:
        events = c.get("/api/v1/audit", params={"model": "iris"}).json()
    actions = [e["action"] for e in events]
    assert "canary.rollback" in actions and "canary.start" in actions
    analysis = next(e for e in events if e["action"] == "canary.analysis")
    assert analysis["after"]["outcome"] == "fail" and analysis["after"]["ended"] == "rolled back"
    # The finished canary keeps how it ended: its gates and the verdict of its last step.
    summary = result["summary"]
    assert summary["outcome"] == "rolled back" and summary["by"] == "canary"
    assert summary["analysis"] == "fail" and summary["weight"] == 10
    failed = [g for g in summary["gates"] if g["outcome"] == "fail"]
    assert [g["gate"] for g in failed] == ["error rate"], summary["gates"]
    assert summary["verdict"].startswith("flaky fails more often than v1: "), summary["verdict"]
    assert analysis["after"]["verdict"] == summary["verdict"]


def test_a_canary_that_is_much_slower_is_rolled_back_by_itself(stack: LocalPlatform) -> None:
    with Traffic(stack.inference_url) as traffic:
        result = _canary_until_done(stack, "slow")
    assert result["status"] == "rolled_back", result
    assert "latency: fail" in result["last_reason"]
    assert _weights(stack) == {"v1": 100}
    assert sum(traffic.failed.values()) == 0, traffic.failed
    print(f"slow canary: {result['last_reason']}")


def test_a_good_canary_is_promoted_step_by_step(stack: LocalPlatform) -> None:
    with Traffic(stack.inference_url) as traffic:
        # v2 costs what v1 costs: with the default gates (x1.5 and +5 ms, medians until each
        # side has 300 requests) the noise of a 40-request step is not a regression.
        result = _canary_until_done(stack, "v2")
        wait_until(lambda: traffic.ok["v2"] > 0)
    assert result["status"] == "promoted", result
    assert _weights(stack) == {"v2": 100}
    # The trigger rows are fine for v1 and v2: no request failed during the whole ramp.
    assert sum(traffic.failed.values()) == 0, traffic.failed
    with stack.client() as c:
        steps = [
            e["after"]["weights"]
            for e in reversed(c.get("/api/v1/audit", params={"model": "iris"}).json())
            if e["action"] in ("canary.start", "canary.step", "canary.promote")
            and "v2" in (e["after"] or {}).get("weights", {})
        ]
    assert steps == [{"v1": 90, "v2": 10}, {"v1": 50, "v2": 50}, {"v2": 100}]


def test_a_canary_as_fast_as_its_baseline_is_promoted_20_times_in_20(
    stack: LocalPlatform,
) -> None:
    """v1 and v2 are the same network with other weights. One client drives a few hundred
    requests a step; each run ramps the other version up over the one now serving."""
    outcomes: list[tuple[str, str]] = []
    with Traffic(stack.inference_url, clients=1) as traffic, stack.client() as c:
        for _ in range(20):
            (baseline,) = _weights(stack)
            candidate = "v1" if baseline == "v2" else "v2"
            body = {"version": candidate, "steps": [50, 100], "interval_s": 1.5}
            c.post("/api/v1/models/iris/canaries", json=body).raise_for_status()

            def finished() -> dict | None:  # type: ignore[type-arg]
                now = c.get("/api/v1/models/iris/canaries", params={"limit": 1}).json()[0]
                return now if now["status"] not in ("running", "paused") else None

            result = wait_until(finished, timeout=60, interval=0.2)
            outcomes.append((result["status"], result["last_reason"]))
            wait_until(lambda: _converged(stack))
    failed = [o for o in outcomes if o[0] != "promoted"]
    print(f"\nequal canaries: {20 - len(failed)} of 20 promoted; last: {outcomes[-1][1]}")
    assert failed == [], failed
    assert sum(traffic.failed.values()) == 0, traffic.failed
