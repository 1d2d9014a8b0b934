"""The platform a fault case runs against: the control plane (API and canary driver) as its own
process, one inference replica as another, real models, and the same API calls `pier` makes.

Also a standalone replica (no control plane) stocked with models, for the cases about one
replica alone (overload, bad models, SIGTERM)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from bench.faults import models, services
from bench.faults.services import Process, answers, free_port, wait_until
from control_plane.backends.local.orchestrator import LocalOrchestrator
from control_plane.settings import PierSettings
from inference.models.cache import ArtifactStore
from inference.schemas import ModelRoute, RoutingTable, TensorSpec, VersionSpec
from tests.support.controlplane import bootstrap, push

GOOD_ROW = [5.1, 3.5, 1.4, 0.2]
POISON_ROW = [9.0, 3.0, 6.1, 2.3]  # feature 0 above 6: the flaky and hanging models' trigger
# A replica started directly runs on one core, so that "capacity" means one core's worth;
# the load generator (one Python process) takes what is left.
SERVER_CPUS = "0"


def predict_body(model: str = "iris", row: list[float] | None = None) -> bytes:
    return orjson.dumps({"model": model, "inputs": [row or GOOD_ROW]})


@dataclass
class Platform:
    api: str
    inference_url: str
    inference_port: int
    token: str
    home: Path
    cp: Process
    replica: Process
    pool: LocalOrchestrator | None = None

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(
            base_url=self.api, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout
        )

    def call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        with self.client() as c:
            r = c.request(method, f"/api/v1{path}", **kwargs)  # type: ignore[arg-type]
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r

    def serves(self, version: str, tries: int = 20) -> bool:
        """Every one of `tries` predictions answers `version` (a routing change has landed)."""
        with httpx.Client(timeout=5) as c:
            for _ in range(tries):
                r = c.post(f"{self.inference_url}/predict", content=predict_body())
                if r.status_code != 200 or r.headers.get("x-pier-version") != version:
                    return False
        return True

    def restart_control_plane(self) -> float:
        """Start the control plane again; seconds until its API answers."""
        self.cp.start()
        return wait_until(lambda: answers(f"{self.api}/api/v1/health") == 200, 60)


@contextlib.contextmanager
def platform(
    *,
    database_url: str = "",
    redis_url: str = "",
    versions: tuple[str, ...] = ("v1", "v2"),
    workers: int = 0,
) -> Iterator[Platform]:
    """A control plane with `versions` of `iris` pushed and v1 deployed, and a replica
    serving it; `database_url` defaults to a SQLite file in a temp dir. With `workers`,
    the replica is the local orchestrator's pool of that many workers on one shared port
    (`Platform.pool`), as `pier up` runs them when scaling."""
    with tempfile.TemporaryDirectory(prefix="pier-faults-") as tmp:
        home = Path(tmp)
        db = database_url or f"sqlite:///{home / 'pier.db'}"
        tokens = bootstrap(PierSettings(home=home, database_url=db, redis_url=redis_url))
        api_port, inference_port = free_port(), free_port()
        api = f"http://127.0.0.1:{api_port}"
        cp = services.control_plane(
            api_port, home, db, home / "control-plane.log", redis_url=redis_url
        )
        replica = services.inference(
            inference_port,
            home / "cache",
            home / "inference.log",
            control_plane=api,
            token=tokens.inference,
            redis_url=redis_url,
            cpus=SERVER_CPUS,
        )
        with contextlib.ExitStack() as stack:
            stack.enter_context(cp)
            wait_until(lambda: answers(f"{api}/api/v1/health") == 200, 60)
            p = Platform(
                api,
                f"http://127.0.0.1:{inference_port}",
                inference_port,
                tokens.admin,
                home,
                cp,
                replica,
            )
            with p.client() as c:
                for seed, version in enumerate(versions):
                    path = models.good(home / f"{version}.pt", seed=seed)
                    r = push(c, path, version=version)
                    if r.status_code != 201:
                        raise RuntimeError(f"push {version}: {r.status_code} {r.text}")
            p.call("POST", "/models/iris/deploy", json={"version": versions[0]})
            if workers:
                env = {**replica.env, "PIER_INFERENCE_PORT": "0"}
                pool = LocalOrchestrator(
                    env=env,
                    url=p.inference_url,
                    log_path=home / "inference.log",
                    scalable=True,
                    drain_s=5,
                )
                pool.start(workers)
                stack.callback(pool.stop)
                p.pool = pool
                wait_until(lambda: pool.ready_count() == workers, 120)
            else:
                stack.enter_context(replica)
            try:
                wait_until(lambda: p.serves(versions[0], tries=1), 120)
            except TimeoutError as e:
                raise TimeoutError(f"the replica never served {versions[0]}: {why(p)}") from e
            yield p


def why(p: Platform) -> str:
    """What a stack that never served says for itself: the last answer to a prediction,
    and the tails of its logs (which never hold a secret)."""
    try:
        with httpx.Client(timeout=5) as c:
            r = c.post(f"{p.inference_url}/predict", content=predict_body())
        last = f"{r.status_code} {r.headers.get('x-pier-version')} {r.text[:300]}"
    except httpx.HTTPError as e:
        last = f"{type(e).__name__}: {e}"
    tails = []
    for name in ("inference.log", "control-plane.log"):
        path = p.home / name
        text = path.read_text(errors="replace") if path.exists() else "(none)"
        tails.append(f"--- {name} (last 40 lines) ---\n" + "\n".join(text.splitlines()[-40:]))
    return f"last prediction: {last}\n" + "\n".join(tails)


@dataclass
class Replica:
    url: str
    port: int
    process: Process
    cache: Path


SPEC_IN = [TensorSpec(name="features", dtype="float32", shape=[-1, 4])]
SPEC_OUT = [TensorSpec(name="probabilities", dtype="float32", shape=[-1, 3])]


def stock(cache: Path, artifacts: dict[str, Path]) -> None:
    """Put `artifacts` (model name -> file) and a table serving each as v1 in `cache`."""
    store = ArtifactStore(cache)
    routes = []
    for name, path in artifacts.items():
        spec = VersionSpec(
            version="v1",
            sha256=store.put_file(path),
            size=path.stat().st_size,
            format="torchscript",
            inputs=SPEC_IN,
            outputs=SPEC_OUT,
        )
        routes.append(ModelRoute(name=name, weights={"v1": 100}, versions=[spec]))
    store.save_routing(RoutingTable(revision=1, models=routes))


@contextlib.contextmanager
def replica(
    artifacts: dict[str, Path], cpus: str = SERVER_CPUS, **settings: object
) -> Iterator[Replica]:
    """A standalone replica serving `artifacts`, on its own core unless `cpus` says else."""
    with tempfile.TemporaryDirectory(prefix="pier-faults-replica-") as tmp:
        cache = Path(tmp) / "cache"
        stock(cache, artifacts)
        port = free_port()
        process = services.inference(port, cache, Path(tmp) / "inference.log", cpus=cpus)
        process.env.update({f"PIER_INFERENCE_{k.upper()}": str(v) for k, v in settings.items()})
        with process:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: answers(f"{url}/v2/health/ready") == 200, 120)
            yield Replica(url, port, process, cache)
