"""`pier up`: the whole platform on one machine, on embedded defaults.

Migrates the database, creates the first admin and the credentials file, registers and
deploys the bundled example on the very first start, then runs the control plane (Reflex:
dashboard and /api/v1 on one port) and the inference service under the local orchestrator:
a balancer on the inference port in front of between min and max worker processes, moved
by the local autoscaler with the deployed models' scaling settings. Ctrl-C stops every
process it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import FrameType

import httpx
from sqlmodel import Session, select

from control_plane.artifacts import ArtifactChecker, ArtifactStore
from control_plane.backends.local.orchestrator import LocalOrchestrator
from control_plane.db.engine import migrate, session_scope
from control_plane.db.tables import Model, User
from control_plane.errors import PierError
from control_plane.pier_yaml import Manifest, load_manifest
from control_plane.runtime import local_autoscaler
from control_plane.schemas import Principal, Role, VersionCreate
from control_plane.services import auth, deployments, registry, scaling
from control_plane.settings import PierSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "iris" / "pier.yaml"
SYSTEM = Principal(username="system", role=Role.admin, token_name="launcher")


def reflex_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables Reflex needs offline (scripts/reflex-env.sh is their one definition)."""
    env = dict(environ)
    script = REPO_ROOT / "scripts" / "reflex-env.sh"
    if script.is_file():
        lines = subprocess.run(
            ["bash", str(script)], capture_output=True, text=True, check=True, env=env
        ).stdout.splitlines()
        for line in lines:
            key, _, value = line.partition("=")
            if key:
                env.setdefault(key, value)
    return env


def ensure_inference_token(session: Session, path: Path) -> str:
    """A viewer token for the local replicas, kept in a 0600 file and reused across starts."""
    if path.is_file():
        secret = path.read_text().strip()
        try:
            auth.principal_for_token(session, secret)
            return secret
        except PierError:
            pass
    admin = session.exec(select(User).where(User.username == "admin")).first()
    assert admin is not None, "bootstrap_admin runs first"
    issued = auth.create_token(session, admin, "inference-local", Role.viewer, actor="system")
    auth.write_secret_file(path, issued.secret + "\n")
    return issued.secret


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            yield chunk


def register_example(settings: PierSettings, session: Session, manifest_path: Path) -> str | None:
    """On an empty registry: push and deploy the bundled example. Returns what it deployed."""
    if session.exec(select(Model)).first() is not None or not manifest_path.is_file():
        return None
    manifest = load_manifest(manifest_path)
    store = ArtifactStore(settings.artifact_root)
    stored = asyncio.run(
        store.ingest(_file_chunks(manifest.artifact_path), settings.max_artifact_bytes)
    )
    spec = VersionCreate.model_validate(manifest.version_create(stored.sha256))
    checker = ArtifactChecker(settings.check_python, settings.check_timeout_s)
    pushed = registry.push_version(session, store, checker, SYSTEM, manifest.model.name, spec)
    deployments.deploy(
        session, SYSTEM, manifest.model.name, pushed.version.version, reason="bundled example"
    )
    apply_manifest_scaling(session, manifest)
    return f"{manifest.model.name}@{pushed.version.version}"


def apply_manifest_scaling(session: Session, manifest: Manifest) -> None:
    """A deployed pier.yaml's `scaling:` section becomes the model's settings (audited)."""
    if manifest.scaling is not None:
        scaling.set_scaling(
            session, SYSTEM, manifest.model.name, manifest.scaling, reason="from pier.yaml"
        )


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
    with session_scope(settings) as session:
        created = auth.bootstrap_admin(session, settings.credentials_path, settings.public_url)
    with session_scope(settings) as session:
        inference_token = ensure_inference_token(session, settings.home / "inference-token")
    with session_scope(settings) as session:
        example = register_example(settings, session, Path(environ.get("PIER_EXAMPLE", EXAMPLE)))
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
        [
            sys.executable,
            "-m",
            "reflex",
            "run",
            "--env",
            "prod",
            "--frontend-port",
            str(settings.port),
            "--backend-port",
            str(settings.port),
            "--backend-host",
            settings.host,
        ],
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
