"""Each peer's own virtual environment under bench/.envs/<peer>, created on first use and
reused: torch==2.13.0 first (the release of Pier's own environment, so pip takes the CPU
wheel it already has; any other lets pip fetch a multi-GB CUDA build), then the peer's
pinned packages.

    .venv/bin/python -m bench.envs [PEER ...]   # create ahead of a run
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ENVS = Path(__file__).resolve().parent / ".envs"
TORCH = "torch==2.13.0"
INSTALL_TIMEOUT_S = 1800

# Pinned so that every run measures the same release.
PACKAGES: dict[str, tuple[str, ...]] = {
    "litserve": ("litserve==0.2.19",),
    "bentoml": ("bentoml==1.4.40",),
    # TorchServe's Python worker imports yaml and numpy without declaring them.
    "torchserve": (
        "torchserve==0.12.0",
        "torch-model-archiver==0.12.0",
        "PyYAML==6.0.4",
        "numpy==2.4.6",
    ),
    "rayserve": ("ray[serve]==2.60.0",),
}


def python_of(peer: str) -> Path:
    return ENVS / peer / "bin" / "python"


def _stamp(peer: str) -> Path:
    return ENVS / peer / ".installed"


def _wanted(peer: str) -> str:
    return "\n".join((TORCH, *PACKAGES[peer]))


def ensure(peer: str, log: Path) -> str | None:
    """None once the peer's environment is ready; else why it could not be made."""
    if _stamp(peer).exists() and _stamp(peer).read_text() == _wanted(peer):
        return None
    env_dir = ENVS / peer
    started = time.monotonic()
    steps = [
        *([] if python_of(peer).exists() else [[sys.executable, "-m", "venv", str(env_dir)]]),
        [str(python_of(peer)), "-m", "pip", "install", "--quiet", TORCH],
        [str(python_of(peer)), "-m", "pip", "install", "--quiet", TORCH, *PACKAGES[peer]],
    ]
    with log.open("ab") as out:
        for argv in steps:
            left = INSTALL_TIMEOUT_S - (time.monotonic() - started)
            try:
                done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=left)
            except subprocess.TimeoutExpired:
                return f"installing {' '.join(PACKAGES[peer])} took over {INSTALL_TIMEOUT_S} s"
            if done.returncode != 0:
                return f"`{' '.join(argv[-3:])}` failed with {done.returncode} (see {log})"
    _stamp(peer).write_text(_wanted(peer))
    return None


if __name__ == "__main__":
    ENVS.mkdir(exist_ok=True)
    for name in sys.argv[1:] or list(PACKAGES):
        problem = ensure(name, ENVS / f"{name}-install.log")
        print(f"{name}: {problem or 'ready'}", flush=True)
