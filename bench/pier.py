"""Starting Pier's bare inference worker (`python -m inference`, row "pier-worker"), the
floors and the HTTP limit for a run; `pier up` itself is bench/pier_up.py."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.serving import Running, free_port, launch, stop, wait_ready
from bench.workloads import (
    ModelDef,
    Request,
    Workload,
    compact_request,
    json_request,
    v2_binary_request,
)
from inference.models.cache import ArtifactStore
from inference.schemas import ModelRoute, RoutingTable, TensorSpec, VersionSpec

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 180.0


def spec_of(model: ModelDef, artifact: Path, version: str = "1") -> VersionSpec:
    data = artifact.read_bytes()
    return VersionSpec(
        version=version,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        format="torchscript",
        inputs=[TensorSpec(name=model.input_name, dtype="float32", shape=[-1, *model.input_shape])],
        outputs=[TensorSpec(name=model.output_name, dtype="float32", shape=[-1, 10])],
    )


@dataclass(frozen=True)
class PierOptions:
    """How a scenario wants Pier started: extra environment, extra models, versions."""

    env: dict[str, str] = field(default_factory=dict)
    extra_models: int = 0  # copies of the model under other names, each loaded
    versions: tuple[str, ...] = ("1",)
    control_plane_url: str = ""


def routing_table(
    model: ModelDef, artifact: Path, options: PierOptions, revision: int, weights: dict[str, int]
) -> RoutingTable:
    specs = [spec_of(model, artifact, v) for v in options.versions]
    routes = [ModelRoute(name=model.name, weights=weights, versions=specs)]
    routes += [
        ModelRoute(name=f"extra-{i:02d}", weights={"1": 100}, versions=[spec_of(model, artifact)])
        for i in range(options.extra_models)
    ]
    return RoutingTable(revision=revision, models=routes)


def pier_requests(workload: Workload) -> Request:
    if workload.binary:
        return v2_binary_request(workload)
    if workload.compact:
        return compact_request(workload)
    return json_request(workload, "/predict", named=True)


def start_pier(
    model: ModelDef,
    artifact: Path,
    work: Path,
    log: Path,
    options: PierOptions | None = None,
) -> Running | str:
    options = options or PierOptions()
    cache = work / f"pier-cache-{model.name}-{free_port()}"
    store = ArtifactStore(cache)
    store.put_file(artifact)
    first = {options.versions[0]: 100}
    store.save_routing(routing_table(model, artifact, options, 1, first))
    port = free_port()
    env = {
        "PIER_INFERENCE_CACHE_DIR": str(cache),
        "PIER_INFERENCE_PORT": str(port),
        "PIER_INFERENCE_HOST": "127.0.0.1",
        "PIER_INFERENCE_CONTROL_PLANE_URL": options.control_plane_url,
        **options.env,
    }
    process = launch([sys.executable, "-m", "inference"], log, cwd=REPO, env=env)
    problem = wait_ready(process, f"http://127.0.0.1:{port}/v2/health/ready", START_TIMEOUT_S)
    if problem:
        stop(process)
        return problem
    return Running(process, port, pier_requests)


def json_only(workload: Workload) -> Request | None:
    # The floors speak JSON only: binary tensors are what Pier adds.
    if workload.binary or workload.compact:
        return None
    return json_request(workload, "/predict", named=True)


def w1_only(workload: Workload) -> Request | None:
    return json_only(workload) if workload.key == "W1" else None


def _start_script(
    script: str,
    argv: list[str],
    log: Path,
    probe: Request,
    request_for: Callable[[Workload], Request | None] = json_only,
) -> Running | str:
    port = free_port()
    process = launch([sys.executable, str(REPO / script), *argv, str(port)], log, cwd=REPO)
    problem = wait_ready(process, f"http://127.0.0.1:{port}{probe.path}", START_TIMEOUT_S, probe)
    if problem:
        stop(process)
        return problem
    return Running(process, port, request_for)


def _probe(model: ModelDef) -> Request:
    return json_request(Workload("probe", "readiness probe", model, 1), "/predict", named=True)


def start_floor(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    """The tuned floor (bench/servers/tuned.py): the fastest hand-written FastAPI endpoint."""
    return _start_script("bench/servers/tuned.py", [str(artifact)], log, _probe(model))


def start_textbook_floor(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    """The FastAPI endpoint as the tutorial writes it (bench/servers/floor.py)."""
    return _start_script("bench/servers/floor.py", [str(artifact)], log, _probe(model))


def start_hello_asgi(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    """bench/servers/bare.py: a fixed answer of W1's size, no model: the HTTP limit of a
    Python server on this core, for W1 alone."""
    return _start_script("bench/servers/bare.py", [], log, _probe(model), w1_only)
