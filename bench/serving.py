"""Starting, probing and stopping the servers under test: each runs in its own process
group pinned to the server core, so that stopping it ends every process it spawned
(uvicorn workers, a JVM, Ray's raylet) and nothing it started outlives the run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import procstats
from bench.workloads import ModelDef, Request, Workload

SERVER_CORE, LOAD_CORE = 0, 1


@dataclass
class Running:
    """A started server for one model: how to reach it and which requests it speaks."""

    process: subprocess.Popen[bytes]
    port: int
    request_for: Callable[[Workload], Request | None]
    cleanup: Callable[[], None] | None = None


Starter = Callable[[ModelDef, Path, Path, Path], "Running | str"]


def pinned(core: int | str, argv: list[str]) -> list[str]:
    """argv under taskset on `core` (a core, or a list such as "0-2"); "" leaves it free."""
    return ["taskset", "-c", str(core), *argv] if core != "" else argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(
    argv: list[str],
    log: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
    cores: int | str = SERVER_CORE,
    inherit: bool = True,
) -> subprocess.Popen[bytes]:
    """Start argv on `cores` in a process group of its own, output to `log`; with inherit,
    `env` adds to this process's environment, else it is the whole environment."""
    with log.open("ab") as out:
        return subprocess.Popen(
            pinned(cores, argv),
            cwd=cwd,
            env={**os.environ, **(env or {})} if inherit else dict(env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends all it spawned
        )


def wait_ready(
    process: subprocess.Popen[bytes],
    url: str,
    timeout_s: float,
    request: Request | None = None,
) -> str | None:
    """None once `url` answers 200 (to a GET, or to `request` POSTed) in time; else why
    not. Polls with a deadline, never sleeps blindly."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with {process.returncode}"
        try:
            if request is None:
                answer = httpx.get(url, timeout=2)
            else:
                answer = httpx.post(url, content=request.body, headers=request.headers, timeout=5)
            if answer.status_code == 200:
                return None
            last = f"HTTP {answer.status_code}: {answer.text[:200]}"
        except httpx.HTTPError as e:
            last = type(e).__name__
        time.sleep(0.5)  # polling interval of a readiness loop with a deadline
    return f"not ready within {timeout_s:.0f} s (last: {last})"


def stop(process: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGTERM to the server's process group; SIGKILL after `grace_s` to what is left of it
    and of the groups its tree made (`pier up` starts its children in sessions of their
    own), so that no process it spawned outlives the run."""
    group = process.pid  # start_new_session: the leader's pid is the group's id
    tree = {pid: _started_at(pid) for pid in procstats.tree_of(group)}

    def left() -> list[int]:
        return [pid for pid, at in tree.items() if at and _started_at(pid) == at]

    _signal(group, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while (process.poll() is None or _signal(group, 0) or left()) and (time.monotonic() < deadline):
        time.sleep(0.2)  # polling interval of a shutdown wait with a deadline
    _signal(group, signal.SIGKILL)
    process.wait()
    for pid in left():
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:  # a group of its own: its late children too
                os.killpg(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)


def _started_at(pid: int) -> int:
    """The process's start time in clock ticks (0 once gone): tells a pid reused apart."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _signal(group: int, sig: int) -> bool:
    """True when the group still had a process to signal."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    return True
