"""The local platform for tests, as `pier up` runs it: inference workers under the local
orchestrator, following a control plane (here in-process, or a dashboard a test started)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from control_plane.announcer import RoutingAnnouncer
from control_plane.api.app import create_api
from control_plane.backends.local.autoscaler import LocalAutoscaler
from control_plane.backends.local.orchestrator import LocalOrchestrator
from control_plane.composition import Platform, build_platform
from control_plane.runtime import Runtime, local_autoscaler
from control_plane.settings import PierSettings
from tests.support.controlplane import Tokens, bootstrap
from tests.support.servers import free_port, serve, wait_until

PIER = str(Path(sys.executable).with_name("pier"))
READY_TIMEOUT_S = 120.0
TAIL_CHARS = 3000


@dataclass(frozen=True)
class LocalInference:
    """The inference service on one public URL, which every worker of the pool serves."""

    url: str
    orchestrator: LocalOrchestrator
    log_path: Path

    def log(self) -> str:
        """Everything the workers have written so far (they share one log)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _live(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/health/live", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def local_inference(
    control_plane_url: str,
    token: str,
    home: Path,
    *,
    scalable: bool = False,
    env: Mapping[str, str] | None = None,
    redis_url: str = "",
) -> Iterator[LocalInference]:
    """Workers polling `control_plane_url` every 0.2 s, caching under home/cache and logging to
    home/inference.log, with `env` added; yielded once /v2/health/live answers on the public
    URL (a worker serves it once /v2/health/ready answers on its private port), stopped on
    exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {
        **os.environ,
        "PIER_INFERENCE_PORT": str(port),
        "PIER_INFERENCE_CONTROL_PLANE_URL": control_plane_url,
        "PIER_INFERENCE_TOKEN": token,
        "PIER_INFERENCE_CACHE_DIR": str(home / "cache"),
        "PIER_INFERENCE_POLL_INTERVAL_S": "0.2",
        **(env or {}),
    }
    if redis_url:
        environ["PIER_INFERENCE_REDIS_URL"] = redis_url
    inference = LocalInference(
        url,
        LocalOrchestrator(env=environ, url=url, log_path=home / "inference.log", scalable=scalable),
        home / "inference.log",
    )
    inference.orchestrator.start()
    try:
        try:
            wait_until(lambda: _live(url), timeout=READY_TIMEOUT_S, interval=0.2)
        except AssertionError as e:
            e.add_note(f"inference log tail:\n{inference.log()[-TAIL_CHARS:]}")
            raise
        yield inference
    finally:
        inference.orchestrator.stop()


@contextmanager
def running_autoscaler(
    settings: PierSettings,
    inference: LocalInference,
    *,
    interval_s: float,
    announcer: RoutingAnnouncer | None = None,
) -> Iterator[LocalAutoscaler]:
    """The local autoscaler over `inference`'s workers, woken by `announcer`'s routing changes
    when given; stopped on exit."""
    autoscaler = local_autoscaler(settings, inference.orchestrator, interval_s=interval_s)
    if announcer is not None:
        announcer.listen(autoscaler.wake)
    autoscaler.start()
    try:
        yield autoscaler
    finally:
        autoscaler.stop()


class _ServedApi:
    """The REST API served from a thread of its own, so that a test can stop it early."""

    def __init__(self, platform: Platform) -> None:
        self._stop = threading.Event()
        started: queue.Queue[str | BaseException] = queue.Queue()
        app = create_api(platform)

        def run() -> None:
            try:
                with serve(app) as url:
                    started.put(url)
                    self._stop.wait()
            except BaseException as e:
                started.put(e)

        self._thread = threading.Thread(target=run, name="pier-test-api", daemon=True)
        self._thread.start()
        first = started.get(timeout=60)
        if isinstance(first, BaseException):
            raise first
        self.url = first

    def stop(self, timeout_s: float) -> bool:
        self._stop.set()
        self._thread.join(timeout=timeout_s)
        return not self._thread.is_alive()


@dataclass(frozen=True)
class LocalPlatform:
    """The control plane's API in this process and the local inference service following it."""

    settings: PierSettings
    platform: Platform
    tokens: Tokens
    api_url: str
    inference: LocalInference
    workdir: Path
    _api: _ServedApi = field(repr=False)

    @property
    def inference_url(self) -> str:
        return self.inference.url

    @property
    def orchestrator(self) -> LocalOrchestrator:
        return self.inference.orchestrator

    def client(self) -> httpx.Client:
        """The REST API as the first admin."""
        headers = {"Authorization": f"Bearer {self.tokens.admin}"}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=60)

    def pier(self, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
        """The `pier` CLI as the first admin, run in workdir."""
        env = {
            **os.environ,
            "PIER_URL": self.api_url,
            "PIER_TOKEN": self.tokens.admin,
            "COLUMNS": "200",
        }
        return subprocess.run(
            [PIER, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.workdir,
            timeout=timeout_s,
        )

    def stop_api(self, timeout_s: float = 20) -> bool:
        """Stop serving the API (the workers go on); True once its server has stopped."""
        return self._api.stop(timeout_s)


@contextmanager
def local_platform(
    settings: PierSettings,
    *,
    scalable: bool = False,
    runtime: bool = False,
    autoscale_every_s: float | None = None,
    inference_env: Mapping[str, str] | None = None,
    prepare: Callable[[httpx.Client], object] | None = None,
    workdir: Path | None = None,
) -> Iterator[LocalPlatform]:
    """Bootstrap a fresh database, serve the API over one Platform, call `prepare` with an admin
    client, start local_inference in settings.home, then the Runtime (when `runtime`) and the
    autoscaler (a pass every `autoscale_every_s`); all stopped in reverse order on exit."""
    tokens = bootstrap(settings)
    platform = build_platform(settings)
    loops = Runtime(platform) if runtime else None
    api = _ServedApi(platform)
    try:
        try:
            if prepare is not None:
                headers = {"Authorization": f"Bearer {tokens.admin}"}
                with httpx.Client(base_url=api.url, headers=headers, timeout=60) as c:
                    prepare(c)
            with local_inference(
                api.url,
                tokens.inference,
                settings.home,
                scalable=scalable,
                env=inference_env,
                redis_url=settings.redis_url,
            ) as inference:
                local = LocalPlatform(
                    settings, platform, tokens, api.url, inference, workdir or settings.home, api
                )
                try:
                    if loops is not None:
                        loops.start()
                    if autoscale_every_s is None:
                        yield local
                    else:
                        with running_autoscaler(
                            settings,
                            inference,
                            interval_s=autoscale_every_s,
                            announcer=platform.announcer,
                        ):
                            yield local
                finally:
                    if loops is not None:
                        loops.stop()
        finally:
            platform.close_metrics()
    finally:
        api.stop(timeout_s=20)
