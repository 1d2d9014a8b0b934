"""With Redis, a routing change reaches a replica at once, not at its next poll."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from control_plane.api.app import create_api
from control_plane.composition import build_platform
from control_plane.db.engine import migrate, session_scope
from control_plane.launcher.bootstrap import ensure_inference_token
from control_plane.services import auth
from control_plane.settings import PierSettings
from inference.app import create_app
from inference.settings import InferenceSettings
from tests.support import artifacts
from tests.support.controlplane import push
from tests.support.servers import serve, wait_until

REDIS_URL = "redis://127.0.0.1:6379/0"
POLL_S = 60.0  # far longer than the test may wait: only the Redis announcement can be in time


@pytest.fixture
def redis_channel() -> str:
    redis.Redis.from_url(REDIS_URL).ping()
    return f"pier:test:{time.monotonic_ns()}"


@pytest.fixture
def stack(tmp_path: Path, redis_channel: str) -> Iterator[tuple[str, str, str]]:
    settings = PierSettings(home=tmp_path, redis_url=REDIS_URL)
    migrate(settings)
    with session_scope(settings) as session:
        creds = auth.bootstrap_admin(session, settings.credentials_path, "http://x")
        assert creds is not None
    with session_scope(settings) as session:
        token = ensure_inference_token(session, tmp_path / "inference-token")
    platform = build_platform(settings)
    platform.announcer.channel = redis_channel
    api = create_api(platform)
    with serve(api) as api_url:
        inference = create_app(
            InferenceSettings(
                control_plane_url=api_url,
                token=token,
                cache_dir=tmp_path / "cache",
                poll_interval_s=POLL_S,
                redis_url=REDIS_URL,
                routing_channel=redis_channel,
            )
        )
        with serve(inference) as inference_url:
            yield api_url, inference_url, creds.token


def test_a_deploy_lands_within_a_second_of_the_announcement(
    stack: tuple[str, str, str], tmp_path: Path
) -> None:
    api_url, inference_url, token = stack
    artifacts.torchscript(tmp_path / "a.pt", seed=0)
    artifacts.torchscript(tmp_path / "b.pt", seed=1)
    # Registering a version can take longer than httpx's default 5 s timeout on a busy
    # host; what is timed below is the deploy's announcement, not the push.
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api_url, headers=auth, timeout=60) as c:
        assert push(c, tmp_path / "a.pt", version="a").status_code == 201
        assert push(c, tmp_path / "b.pt", version="b").status_code == 201
        wait_until(lambda: httpx.get(f"{inference_url}/v2/health/live").status_code == 200)
        for version in ("a", "b", "a"):
            c.post("/api/v1/models/iris/deploy", json={"version": version}).raise_for_status()
            started = time.monotonic()

            def served(version: str = version) -> bool:
                r = httpx.post(
                    f"{inference_url}/predict",
                    json={"model": "iris", "inputs": [[1, 2, 3, 4]]},
                )
                return r.status_code == 200 and r.json()["version"] == version

            wait_until(served, timeout=10, interval=0.02)
            elapsed = time.monotonic() - started
            print(f"deploy {version}: served {elapsed * 1000:.0f} ms after the API answered")
            assert elapsed < POLL_S / 2
