"""The frameworks a user would pick instead of Pier, each in its own virtual environment
under bench/.envs (torch==2.13.0 installed first, so pip takes the local CPU wheel).

This first part of the harness measures Pier against the floor; the peer adapters
(LitServe, BentoML, TorchServe, Ray Serve) come next, and until then each peer is
reported as skipped with that reason rather than left out silently.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

PEERS = ("litserve", "bentoml", "torchserve", "rayserve")


def _not_yet(peer: str) -> Callable[[object, Path, Path, Path], str]:
    def start(model: object, artifact: Path, work: Path, log: Path) -> str:
        return f"no {peer} adapter in the harness yet"

    return start


def starters() -> dict[str, Callable[[object, Path, Path, Path], str]]:
    return {peer: _not_yet(peer) for peer in PEERS}
