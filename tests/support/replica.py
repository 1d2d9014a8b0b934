"""The inference service as its own process (`python -m inference`) for a test, set up
only by what the test passes: the test run's PIER_INFERENCE_* and PROMETHEUS_MULTIPROC_DIR
are not handed down."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
TAIL_LINES = 40


def replica_environ(overrides: Mapping[str, str]) -> dict[str, str]:
    """The test run's environment without any replica settings, then `overrides`."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PIER_INFERENCE_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    return inherited | dict(overrides)


class ReplicaFailed(AssertionError):
    """The replica exited, or did not become ready in time; the message ends with its log."""

    def __init__(self, message: str, replica: Replica) -> None:
        super().__init__(f"{message}\n{replica.tail()}")
        self.replica = replica
        self.returncode = replica.process.poll()


@dataclass(frozen=True)
class Replica:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    cpus: str | None  # the taskset CPU list it runs on; None when not pinned

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        """Everything the replica has written to its log so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = TAIL_LINES) -> str:
        last = self.log().splitlines()[-lines:]
        return f"replica log {self.log_path}, last {len(last)} lines:\n" + "\n".join(last)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until /v2/health/ready answers 200; fail at once if the process exits."""
        try:
            wait_until(lambda: self.process.poll() is not None or self.ready(), timeout, 0.2)
        except AssertionError as e:
            raise ReplicaFailed(f"replica not ready within {timeout} s", self) from e
        if self.process.poll() is not None:
            raise ReplicaFailed(f"replica exited with {self.process.returncode}", self)

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM, then SIGKILL to its whole process group after `grace` seconds; a worker
        the main process leaves behind is killed too."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):  # not reaped yet: the group is still its own
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait()
            return
        with suppress(ProcessLookupError):  # no process left in its group: the usual case
            os.killpg(self.pid, signal.SIGKILL)


def start_replica(
    env: Mapping[str, str],
    *,
    log_path: Path,
    cpus: str | None = None,
    port: int | None = None,
    stdout_path: Path | None = None,
) -> Replica:
    """Start `python -m inference` without waiting for it; see run_replica."""
    port = port or free_port()
    environ = replica_environ({**env, "PIER_INFERENCE_PORT": str(port)})
    taskset = shutil.which("taskset") if cpus is not None else None
    pin = [taskset, "-c", cpus] if taskset and cpus is not None else []
    argv = [*pin, sys.executable, "-m", "inference"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as files:
        log = files.enter_context(log_path.open("wb"))
        out = files.enter_context(stdout_path.open("wb")) if stdout_path else log
        # Its own session, so that stop() can reach every worker it spawns or forks.
        process = subprocess.Popen(
            argv, cwd=REPO, env=environ, stdout=out, stderr=log, start_new_session=True
        )
    return Replica(f"http://127.0.0.1:{port}", port, process, log_path, cpus if taskset else None)


@contextmanager
def run_replica(
    env: Mapping[str, str],
    *,
    log_path: Path,
    cpus: str | None = None,
    port: int | None = None,
    stdout_path: Path | None = None,
    ready_timeout: float | None = 90.0,
    grace: float = 30.0,
) -> Iterator[Replica]:
    """A replica with `env` over replica_environ(), pinned to the taskset list `cpus`, its
    stderr (and stdout, unless stdout_path) in log_path, ready within ready_timeout s (None:
    not waited for), stopped on exit; an error in the block gets its log tail as a note."""
    replica = start_replica(env, log_path=log_path, cpus=cpus, port=port, stdout_path=stdout_path)
    try:
        if ready_timeout is not None:
            replica.wait_ready(ready_timeout)
        yield replica
    except Exception as e:
        if not (isinstance(e, ReplicaFailed) and e.replica is replica):
            e.add_note(replica.tail())
        raise
    finally:
        replica.stop(grace)
