"""What metrics cost on POST /predict: the same model served with metrics on and off, in
one run, loaded alike; prints requests per second and latency side by side.

    .venv/bin/python bench/metrics_overhead.py [--seconds 8] [--rounds 2] [--connections 16]

Each configuration runs as its own `python -m inference` process pinned to core 0 (where
taskset exists and there are two cores or more); the load generator (tests/monitoring/
load.py, keep-alive connections as fast as they are answered) is pinned to core 1.
Configurations alternate for `--rounds` rounds so that drift on a shared machine hits
them alike. Load goes only to 127.0.0.1 and is bounded in time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inference.models.cache import ArtifactStore  # noqa: E402
from inference.schemas import ModelRoute, RoutingTable, TensorSpec, VersionSpec  # noqa: E402

CONFIGS = {
    "metrics on": {},
    "metrics off": {"PIER_INFERENCE_METRICS_ENABLED": "false"},
    "metrics off, no prediction store": {
        "PIER_INFERENCE_METRICS_ENABLED": "false",
        "PIER_INFERENCE_PREDICTION_STORE_ROWS": "0",
    },
}


def pinned(core: int, argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(core), *argv] if taskset and (os.cpu_count() or 1) > 1 else argv


def stock_example(cache: Path) -> None:
    """The bundled iris example as a standalone replica's routing table."""
    manifest = yaml.safe_load((REPO / "examples/iris/pier.yaml").read_text())["model"]
    artifact = REPO / "examples/iris" / manifest["artifact"]
    data = artifact.read_bytes()
    spec = VersionSpec(
        version=manifest["version"],
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        format="torchscript",
        inputs=[TensorSpec(**s) for s in manifest["inputs"]],
        outputs=[TensorSpec(**s) for s in manifest["outputs"]],
    )
    store = ArtifactStore(cache)
    store.put_file(artifact)
    store.save_routing(
        RoutingTable(
            revision=1,
            models=[ModelRoute(name="iris", weights={spec.version: 100}, versions=[spec])],
        )
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the replica exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # a benchmark's start-up poll
    raise SystemExit("the replica did not become ready")


def measure(cache: Path, env_extra: dict[str, str], seconds: float, connections: int) -> dict:
    port = free_port()
    env = {
        **os.environ,
        "PIER_INFERENCE_PORT": str(port),
        "PIER_INFERENCE_CACHE_DIR": str(cache),
        **env_extra,
    }
    proc = subprocess.Popen(
        pinned(0, [sys.executable, "-m", "inference"]),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        load = [sys.executable, "-m", "tests.monitoring.load", url, "--rate", "1000000"]
        load += ["--connections", str(connections)]
        # Warm-up, then the measured run.
        subprocess.run(
            pinned(1, [*load, "--seconds", "2"]), cwd=REPO, check=True, capture_output=True
        )
        out = subprocess.run(
            pinned(1, [*load, "--seconds", str(seconds)]),
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return dict(json.loads(out))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        stock_example(cache)
        for round_ in range(args.rounds):
            for name, env in CONFIGS.items():
                r = measure(cache, env, args.seconds, args.connections)
                results[name].append(r)
                print(
                    f"round {round_ + 1} {name:<34} {r['rps']:>8.1f} rps"
                    f"  p50 {r['p50_ms']:>7.3f} ms  p99 {r['p99_ms']:>7.3f} ms"
                    f"  failed {r['failed']}",
                    flush=True,
                )
    pinning = "replica on core 0, load on core 1" if pinned(0, []) else "not pinned"
    print(
        f"\n{args.seconds:.0f} s x {args.rounds} rounds, {args.connections} connections, {pinning}"
    )
    print(f"{'configuration':<34} {'rps':>9} {'p50 ms':>9} {'p99 ms':>9}   (median of rounds)")
    base = statistics.median(r["rps"] for r in results["metrics off"])
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        p50 = statistics.median(r["p50_ms"] for r in runs)
        p99 = statistics.median(r["p99_ms"] for r in runs)
        print(
            f"{name:<34} {rps:>9.1f} {p50:>9.3f} {p99:>9.3f}   {100 * (rps / base - 1):+.1f}% rps"
        )


if __name__ == "__main__":
    main()
