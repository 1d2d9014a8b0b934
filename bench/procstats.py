"""CPU and memory of a server's whole process tree (workers, JVMs, Ray actors), from /proc."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_of(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except OSError:
            continue
    return total


class TreeWatcher:
    """While entered: samples the tree's RSS every 50 ms; on exit, CPU seconds used."""

    def __init__(self, root: int, interval_s: float = 0.05) -> None:
        self._root = root
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.peak_rss_bytes = 0
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0

    def _sample(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss_bytes(tree_of(self._root)))

    def __enter__(self) -> TreeWatcher:
        pids = tree_of(self._root)
        self._cpu0 = cpu_seconds(pids)
        self._wall0 = time.monotonic()
        self.peak_rss_bytes = rss_bytes(pids)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_seconds = cpu_seconds(tree_of(self._root)) - self._cpu0
        self.wall_seconds = time.monotonic() - self._wall0


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "  (no log)"
    return "\n".join(
        "  | " + line for line in path.read_text(errors="replace").splitlines()[-lines:]
    )
