"""`pier up`, what `make run` calls: a first start from nothing, Ctrl-C, a second start."""

from __future__ import annotations

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port

pytestmark = pytest.mark.e2e

PIER = str(Path(sys.executable).with_name("pier"))
ROOT = Path(__file__).resolve().parents[2]
UP_DEADLINE_S = 300.0


@contextmanager
def pier_up(
    home: Path, work: Path, ports: tuple[int, int]
) -> Iterator[tuple[list[str], subprocess.Popen[str]]]:
    env = {
        **os.environ,
        "PIER_HOME": str(home),
        "PIER_PORT": str(ports[0]),
        "PIER_INFERENCE_PORT": str(ports[1]),
        # Its own build directory: a `make run` in the checkout is left alone.
        "REFLEX_WEB_WORKDIR": str(work / ".web"),
        "REFLEX_STATES_WORKDIR": str(work / ".states"),
    }
    proc = subprocess.Popen(
        [PIER, "up"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    q: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            q.put(line.rstrip("\n"))
        q.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + UP_DEADLINE_S
    try:
        while not any(line.startswith("Ctrl-C stops everything") for line in lines):
            item = q.get(timeout=max(0.1, deadline - time.monotonic()))
            if item is None:
                pytest.fail("pier up exited early:\n" + "\n".join(lines))
            lines.append(item)
        yield lines, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        while (item := q.get(timeout=10)) is not None:
            lines.append(item)


def _down(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return False
    except httpx.TransportError:
        return True


def test_first_start_serves_the_example_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    home, ports = tmp_path / "home", (free_port(), free_port())
    cp, inf = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    started = time.monotonic()
    with pier_up(home, tmp_path, ports) as (lines, proc):
        cold = time.monotonic() - started
        text = "\n".join(lines)
        assert "created user 'admin'" in text
        assert "registered and deployed the bundled example iris@v1.0.0" in text
        assert cp in text and inf in text and "curl -X POST" in text

        creds_path = home / "credentials"
        assert stat.S_IMODE(creds_path.stat().st_mode) == 0o600
        creds = json.loads(creds_path.read_text())
        assert creds["username"] == "admin" and creds["token"].startswith("pier_")
        assert creds["password"] not in text and creds["token"] not in text

        r = httpx.post(f"{inf}/predict", json={"model": "iris", "inputs": [[5.1, 3.5, 1.4, 0.2]]})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == "v1.0.0"
        assert max(r.json()["outputs"][0]) == r.json()["outputs"][0][0]  # a setosa
        headers = {"Authorization": f"Bearer {creds['token']}"}
        models = httpx.get(f"{cp}/api/v1/models", headers=headers).json()
        assert [(m["name"], m["deployment"]) for m in models] == [("iris", {"v1.0.0": 100})]
        assert httpx.get(f"{cp}/").status_code == 200
        assert httpx.get(f"{cp}/api/v1/docs").status_code == 200

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    assert _down(cp) and _down(inf)
    assert "stopped" in lines

    started = time.monotonic()
    with pier_up(home, tmp_path, ports) as (lines, proc):
        warm = time.monotonic() - started
        text = "\n".join(lines)
        assert "created user" not in text and "registered" not in text
        r = httpx.post(f"{inf}/predict", json={"model": "iris", "inputs": [[6.7, 3.0, 5.2, 2.3]]})
        assert r.status_code == 200 and r.json()["version"] == "v1.0.0"
    assert json.loads((home / "credentials").read_text()) == creds
    print(f"pier up: first start {cold:.1f} s, second start {warm:.1f} s")
