"""Pier as `make run` users reach it: `pier up` with a home of its own, the model pushed and
deployed through the REST API as the CLI does, load on the public inference port. Only
that public interface is used: ports, /api/v1 with the admin token, the "Pier is up" line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import procstats
from bench.pier import REPO, pier_requests
from bench.serving import SERVER_CORE, Running, free_port, launch, stop, wait_ready
from bench.workloads import ModelDef, Request, Workload, json_request

# The first start of the control plane may build its web frontend: minutes on 2 cores.
UP_TIMEOUT_S = 600.0
DEPLOY_TIMEOUT_S = 180.0
STOP_GRACE_S = 45.0  # pier up stops its workers (10 s grace) and the control plane (15 s)
IDLE_S = 10.0
ONE_WORKER = {"min_replicas": 1, "max_replicas": 1}


def pier_command() -> list[str]:
    """`pier up` as `make run` starts it: the console script beside this interpreter."""
    script = Path(sys.executable).parent / "pier"
    if script.is_file():
        return [str(script), "up"]
    return [sys.executable, "-c", "from control_plane.cli.main import main; main()", "up"]


@dataclass
class PierUp:
    """A running `pier up`: its process (the root of the tree), its two ports, the token."""

    process: subprocess.Popen[bytes]
    home: Path
    api_url: str
    inference_port: int
    token: str
    ready_s: float

    @property
    def inference_url(self) -> str:
        return f"http://127.0.0.1:{self.inference_port}"

    def api(self, timeout_s: float = 120.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=f"{self.api_url}/api/v1", headers=headers, timeout=timeout_s)

    def status(self) -> dict[str, Any]:
        with self.api(10.0) as api:
            found: dict[str, Any] = api.get("/status").raise_for_status().json()
        return found

    def stop(self) -> None:
        stop(self.process, STOP_GRACE_S)


def start_up(work: Path, log: Path, cores: int | str = SERVER_CORE) -> PierUp | str:
    """`pier up` on free ports with a fresh home under `work`, its whole tree on `cores`;
    returned once it printed "Pier is up" and both its API and inference port answer."""
    home = work / f"pier-home-{free_port()}"
    api_port, inference_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIER_")}
    env.update(
        PIER_HOME=str(home),
        PIER_PORT=str(api_port),
        PIER_INFERENCE_PORT=str(inference_port),
        PIER_REDIS_URL="",
    )
    t0 = time.monotonic()
    process = launch(pier_command(), log, cwd=REPO, env=env, cores=cores, inherit=False)
    up = PierUp(process, home, f"http://127.0.0.1:{api_port}", inference_port, "", 0.0)
    problem = _wait_line(process, log, "Pier is up", UP_TIMEOUT_S)
    problem = problem or wait_ready(process, f"{up.api_url}/api/v1/health", 60) or ""
    problem = problem or wait_ready(process, f"{up.inference_url}/v2/health/ready", 120) or ""
    if problem:
        stop(process, STOP_GRACE_S)
        return f"pier up: {problem}"
    up.token = json.loads((home / "credentials").read_text())["token"]
    up.ready_s = time.monotonic() - t0
    return up


def _wait_line(process: subprocess.Popen[bytes], log: Path, line: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if line in log.read_text(errors="replace"):
            return ""
        if process.poll() is not None:
            return f"exited with {process.returncode} before printing {line!r}"
        time.sleep(0.5)  # polling interval of a start wait with a deadline
    return f"no {line!r} within {timeout_s:.0f} s"


def tensor_specs(model: ModelDef) -> dict[str, Any]:
    """The `inputs:` and `outputs:` of the model's pier.yaml."""
    return {
        "inputs": [
            {"name": model.input_name, "dtype": "float32", "shape": [-1, *model.input_shape]}
        ],
        "outputs": [{"name": model.output_name, "dtype": "float32", "shape": [-1, 10]}],
    }


def serve_model(
    up: PierUp,
    name: str,
    artifact: Path,
    version: dict[str, Any],
    scaling: dict[str, Any],
    probe: Request,
) -> str:
    """Push the artifact (upload, then the version), deploy it, set its scaling, and wait
    until the public port answers `probe` with it; "" once it does, else why not."""
    with up.api() as api:
        answer = api.post(
            "/artifacts",
            content=artifact.read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        if answer.status_code >= 300:
            return f"upload: HTTP {answer.status_code} {answer.text[:200]}"
        label = str(version.get("version", "1"))
        body = {"version": label, "sha256": answer.json()["sha256"], **version}
        steps = [
            ("push", "POST", f"/models/{name}/versions", body),
            ("deploy", "POST", f"/models/{name}/deploy", {"version": label}),
            ("scaling", "PUT", f"/models/{name}/scaling", {"scaling": scaling}),
        ]
        for step, method, path, payload in steps:
            answer = api.request(method, path, json=payload)
            if answer.status_code >= 300:
                return f"{step}: HTTP {answer.status_code} {answer.text[:300]}"
    problem = wait_ready(up.process, f"{up.inference_url}{probe.path}", DEPLOY_TIMEOUT_S, probe)
    return f"{name} not served: {problem}" if problem else ""


@dataclass
class PublicPier:
    """The Starter of row "pier": one `pier up` per model, one worker (scaling min 1, max
    1) so that it compares with the bare worker; notes what the platform costs idle."""

    notes: list[str] = field(default_factory=list)

    def __call__(self, model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
        up = start_up(work, log)
        if isinstance(up, str):
            return up
        probe = json_request(Workload("probe", "readiness probe", model, 1), "/predict", True)
        problem = serve_model(up, model.name, artifact, tensor_specs(model), ONE_WORKER, probe)
        if problem:
            up.stop()
            return problem
        self.notes.append(
            f"pier up ({model.name}): up in {up.ready_s:.1f} s; idle over {IDLE_S:.0f} s "
            f"with the model deployed: {idle_cpu(up.process.pid, IDLE_S)}"
        )
        return Running(up.process, up.inference_port, pier_requests)


def kind_of(pid: int, root: int) -> str:
    """What a process of pier up's tree is, by its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    if pid == root:
        return "pier up"
    if b"inference" in argv:
        return "workers"
    if b"reflex" in argv:
        return "control plane"
    return "other"


def idle_cpu(root: int, seconds: float) -> str:
    """CPU the tree uses with no load, in % of one core, by kind of process."""
    pids = procstats.tree_of(root)
    before = {pid: procstats.cpu_seconds([pid]) for pid in pids}
    t0 = time.monotonic()
    time.sleep(seconds)  # the measured idle period itself
    wall = time.monotonic() - t0
    by_kind: dict[str, float] = {}
    for pid in pids:
        used = procstats.cpu_seconds([pid]) - before[pid]
        kind = kind_of(pid, root)
        by_kind[kind] = by_kind.get(kind, 0.0) + max(used, 0.0) / wall
    parts = ", ".join(f"{k} {v:.1%}" for k, v in sorted(by_kind.items()))
    return f"{sum(by_kind.values()):.1%} of a core ({parts})"
