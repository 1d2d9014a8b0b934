"""`pier up`: the whole platform on one machine, on embedded defaults; Ctrl-C stops it.

The control plane runs as a Reflex process; the inference workers run under the local
orchestrator and its autoscaler, in this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

import httpx

from control_plane.backends.local.orchestrator import LocalOrchestrator
from control_plane.composition import build_platform
from control_plane.db.engine import migrate
from control_plane.launcher.bootstrap import (
    EXAMPLE,
    REPO_ROOT,
    ensure_inference_token,
    reflex_command,
    reflex_env,
    register_example,
)
from control_plane.runtime import local_autoscaler
from control_plane.services import auth
from control_plane.settings import PierSettings


def _wait_http(url: str, deadline_s: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    return False


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_platform(environ: Mapping[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    settings = PierSettings()
    settings.home = settings.home.resolve()
    settings.home.mkdir(parents=True, exist_ok=True)
    say = print
    t0 = time.monotonic()

    migrate(settings)
    platform = build_platform(settings)
    with platform.unit_of_work() as session:
        created = auth.bootstrap_admin(session, settings.credentials_path, settings.public_url)
    with platform.unit_of_work() as session:
        inference_token = ensure_inference_token(session, settings.home / "inference-token")
    with platform.unit_of_work() as session:
        example = register_example(platform, session, Path(environ.get("PIER_EXAMPLE", EXAMPLE)))
    if created:
        say(f"created user 'admin' and an admin token: {settings.credentials_path} (mode 0600)")
    if example:
        say(f"registered and deployed the bundled example {example}")

    logs = settings.home / "logs"
    logs.mkdir(exist_ok=True)
    env = reflex_env(environ)
    env["PIER_HOME"] = str(settings.home)
    cp_log = (logs / "control-plane.log").open("ab")
    control_plane = subprocess.Popen(
        reflex_command(settings),
        cwd=REPO_ROOT,
        env=env,
        stdout=cp_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    inference_env = dict(environ)
    inference_env.update(
        PIER_INFERENCE_HOST=settings.inference_host,
        PIER_INFERENCE_PORT=str(settings.inference_port),
        PIER_INFERENCE_CONTROL_PLANE_URL=settings.public_url,
        PIER_INFERENCE_TOKEN=inference_token,
        PIER_INFERENCE_CACHE_DIR=str(settings.home / "inference-cache"),
        PIER_INFERENCE_REDIS_URL=settings.redis_url,
    )
    orchestrator = LocalOrchestrator(
        env=inference_env,
        url=settings.inference_url,
        log_path=logs / "inference.log",
        scalable=True,
    )
    autoscaler = local_autoscaler(settings, orchestrator)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not _wait_http(f"{settings.public_url}/api/v1/health", 600, control_plane):
            say(f"the control plane did not start; see {logs / 'control-plane.log'}")
            return 1
        orchestrator.start()
        autoscaler.start()
        if not _wait_http(f"{settings.inference_url}/v2/health/ready", 120):
            say(f"the inference service is not ready; see {logs / 'inference.log'}")
        creds = json.loads(settings.credentials_path.read_text())
        say("")
        say(f"Pier is up ({time.monotonic() - t0:.1f} s)")
        say(
            f"  dashboard and API  {settings.public_url}   "
            f"(API docs: {settings.public_url}/api/v1/docs)"
        )
        say(f"  inference          {settings.inference_url}")
        say(
            f"  credentials        {settings.credentials_path}  (user {creds['username']}; "
            "the CLI reads the token from there)"
        )
        say(f"  logs               {logs}")
        say("  try a prediction:")
        say(
            f"    curl -X POST {settings.inference_url}/predict "
            "-H 'content-type: application/json' "
            '-d \'{"model": "iris", "inputs": [[5.1, 3.5, 1.4, 0.2]]}\''
        )
        say("Ctrl-C stops everything.")
        sys.stdout.flush()
        while not stopping.wait(0.5):
            if control_plane.poll() is not None:
                say(f"the control plane exited; see {logs / 'control-plane.log'}")
                return 1
        say("stopping…")
        return 0
    finally:
        autoscaler.stop()
        orchestrator.stop()
        _stop(control_plane)
        cp_log.close()
        say("stopped")
