"""The processes a fault case starts, stops and kills: a private PostgreSQL and Redis (never
the shared ones on 5432 and 6379, which other work uses), inference replicas and the control
plane, each a real process on 127.0.0.1 on a free port, each cleaned up on exit."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
PG_BIN = (
    sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    if Path("/usr/lib/postgresql").exists()
    else Path("/usr/bin")
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> float:
    """Poll until `predicate` is truthy; seconds it took. Raises TimeoutError past `timeout`."""
    start = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if predicate():
                return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not met within {timeout} s")
        time.sleep(interval)


def answers(url: str, timeout: float = 2.0) -> int:
    """The status `url` answers with, or 0 when nothing answers."""
    try:
        return httpx.get(url, timeout=timeout).status_code
    except httpx.HTTPError:
        return 0


def _listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


class Postgres:
    """A private cluster in a temp dir, owned by the `postgres` user (we run as root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pier-faults-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    def __enter__(self) -> Postgres:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync",
        )  # fmt: skip
        self.start()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.dir / "log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
        )  # fmt: skip

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """A private redis-server without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: _listening(self.port), 20)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=20)
            self._proc = None

    def __enter__(self) -> Redis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Process:
    """A Python module run as its own process (its own session, so it can be signalled)."""

    def __init__(self, module: str, env: Mapping[str, str], log: Path, cpus: str = "") -> None:
        self.module = module
        self.env = dict(env)
        self.log = log
        self.cpus = cpus
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        prefix = ["taskset", "-c", self.cpus] if self.cpus and shutil.which("taskset") else []
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", self.module],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> Process:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def inference(
    port: int, cache: Path, log: Path, *, control_plane: str = "", token: str = "",
    redis_url: str = "", cpus: str = "",
) -> Process:  # fmt: skip
    """An inference replica (`python -m inference`)."""
    env = {
        **os.environ,
        "PIER_INFERENCE_PORT": str(port),
        "PIER_INFERENCE_CACHE_DIR": str(cache),
        "PIER_INFERENCE_CONTROL_PLANE_URL": control_plane,
        "PIER_INFERENCE_TOKEN": token,
        "PIER_INFERENCE_REDIS_URL": redis_url,
        "PIER_INFERENCE_POLL_INTERVAL_S": "0.2",
    }
    return Process("inference", env, log, cpus)


def control_plane(
    port: int, home: Path, database_url: str, log: Path, *, redis_url: str = "", cpus: str = ""
) -> Process:
    """The control plane's API and runtime (canary driver) without the dashboard."""
    env = {
        **os.environ,
        "PIER_HOME": str(home),
        "PIER_DATABASE_URL": database_url,
        "PIER_REDIS_URL": redis_url,
        "PIER_PORT": str(port),
    }
    return Process("bench.faults.controlplane", env, log, cpus)


@contextlib.contextmanager
def running(*processes: Process) -> Iterator[None]:
    try:
        for p in processes:
            p.start()
        yield
    finally:
        for p in reversed(processes):
            p.stop()
