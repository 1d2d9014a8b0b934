"""A background loop: one pass every interval (or at once when woken) in a daemon thread,
which outlives a failing pass: the error is logged and kept, and the next pass retries."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Loop:
    """Subclassed by the platform's control loops; `work` is one pass."""

    def __init__(
        self,
        interval_s: float,
        work: Callable[[], object],
        name: str,
        *,
        wait_first: bool,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self._interval_s = interval_s
        self._work = work
        self._name = name
        self._wait_first = wait_first
        self._stop_timeout_s = stop_timeout_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_error = ""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._thread_lock:
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """Run a pass now instead of at the end of the interval."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._thread_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self._stop_timeout_s)

    def _pause(self) -> None:
        self._wake.wait(self._interval_s)
        self._wake.clear()

    def _run(self) -> None:
        if self._wait_first:
            self._pause()
        while not self._stop.is_set():
            try:
                self._work()
                self.last_error = ""
            except Exception as e:  # the loop must outlive a database or network outage
                self.last_error = f"{type(e).__name__}: {e}"
                log.warning("%s: pass failed: %s", self._name, self.last_error, exc_info=e)
            self._pause()
