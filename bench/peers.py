"""The frameworks a user would pick instead of Pier, each serving the same TorchScript
file with the same JSON in ({"inputs": rows}) and out ({"outputs": rows}), each from its
own virtual environment (bench/envs.py), each with the batching it offers:

- LitServe 0.2.19: LitAPI max_batch_size=32, batch_timeout=2 ms (servers/litserve_server.py)
- BentoML 1.4.40: batchable API, max_batch_size=32, default max_latency_ms
  (servers/bentoml_service.py)
- TorchServe 0.12.0: batchSize=32, maxBatchDelay=2 ms, 1 worker (servers/torchserve_handler.py)
- Ray Serve 2.60.0: @serve.batch max_batch_size=32, batch_wait_timeout_s=2 ms, 1 replica
  (servers/rayserve_app.py)

A peer whose environment cannot be made, or that does not answer in time, is reported
as skipped with the reason.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from bench import envs
from bench.serving import Running, Starter, free_port, launch, stop, wait_ready
from bench.workloads import ModelDef, Request, Workload, json_request

SERVERS = Path(__file__).resolve().parent / "servers"
START_TIMEOUT_S = 240.0


def _json_only(path: str) -> Callable[[Workload], Request | None]:
    def request_for(workload: Workload) -> Request | None:
        if workload.binary or workload.compact:
            return None  # the peers are measured on the JSON workloads
        return json_request(workload, path, named=False)

    return request_for


def _started(
    process: subprocess.Popen[bytes], port: int, path: str, model: ModelDef
) -> Running | str:
    request_for = _json_only(path)
    probe = request_for(Workload("probe", "readiness probe", model, 1))
    problem = wait_ready(process, f"http://127.0.0.1:{port}{path}", START_TIMEOUT_S, probe)
    if problem:
        stop(process)
        return problem
    return Running(process, port, request_for)


def start_litserve(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    port = free_port()
    argv = [str(envs.python_of("litserve")), str(SERVERS / "litserve_server.py")]
    process = launch([*argv, str(artifact), str(port)], log, cwd=work)
    return _started(process, port, "/predict", model)


def start_bentoml(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    port = free_port()
    bentoml = envs.python_of("bentoml").parent / "bentoml"
    argv = [
        str(bentoml), "serve", "bentoml_service:BenchModel", "--working-dir", str(SERVERS),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    env = {
        "BENCH_ARTIFACT": str(artifact),
        "BENTOML_HOME": str(work / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    process = launch(argv, log, cwd=work, env=env)
    return _started(process, port, "/predict", model)


def start_torchserve(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    store = work / f"torchserve-{model.name}"
    store.mkdir(exist_ok=True)
    bin_dir = envs.python_of("torchserve").parent
    archived = subprocess.run(
        [
            str(bin_dir / "torch-model-archiver"), "--model-name", model.name,
            "--version", "1.0", "--serialized-file", str(artifact),
            "--handler", str(SERVERS / "torchserve_handler.py"),
            "--export-path", str(store), "--force",
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if archived.returncode != 0:
        return f"torch-model-archiver failed: {archived.stderr[-300:]}"
    port, management, metrics = free_port(), free_port(), free_port()
    models = {
        model.name: {
            "1.0": {
                "defaultVersion": True,
                "marName": f"{model.name}.mar",
                "minWorkers": 1,
                "maxWorkers": 1,
                "batchSize": 32,
                "maxBatchDelay": 2,
                "responseTimeout": 120,
            }
        }
    }
    config = store / "config.properties"
    config.write_text(
        "\n".join(
            [
                f"inference_address=http://127.0.0.1:{port}",
                f"management_address=http://127.0.0.1:{management}",
                f"metrics_address=http://127.0.0.1:{metrics}",
                f"model_store={store}",
                f"load_models={model.name}.mar",
                "disable_token_authorization=true",
                "install_py_dep_per_model=false",
                "default_workers_per_model=1",
                f"models={json.dumps(models)}",
            ]
        )
        + "\n"
    )
    argv = [
        str(bin_dir / "torchserve"), "--start", "--foreground", "--ncs",
        "--disable-token-auth", "--ts-config", str(config), "--model-store", str(store),
    ]  # fmt: skip
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG_LOCATION": str(store / "logs")}
    process = launch(argv, log, cwd=store, env=env)
    return _started(process, port, f"/predictions/{model.name}", model)


def start_rayserve(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    port = free_port()
    argv = [str(envs.python_of("rayserve")), str(SERVERS / "rayserve_app.py")]
    env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": str(work / "ray")}
    process = launch([*argv, str(artifact), str(port)], log, cwd=work, env=env)
    return _started(process, port, "/predict", model)


STARTERS: dict[str, Starter] = {
    "litserve": start_litserve,
    "bentoml": start_bentoml,
    "torchserve": start_torchserve,
    "rayserve": start_rayserve,
}


def with_environment(peer: str, start: Starter) -> Starter:
    """Make (or reuse) the peer's environment before its first start; a failure to make
    it becomes the reason the peer is skipped."""

    def started(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
        envs.ENVS.mkdir(exist_ok=True)
        problem = envs.ensure(peer, envs.ENVS / f"{peer}-install.log")
        if problem:
            return f"environment not made: {problem}"
        return start(model, artifact, work, log)

    return started


def starters() -> dict[str, Starter]:
    return {peer: with_environment(peer, start) for peer, start in STARTERS.items()}
