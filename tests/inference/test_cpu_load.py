"""The worker's CPU gauge, read against this process's real CPU time."""

from __future__ import annotations

import threading
import time

from inference.execution.cpu_load import CpuLoad


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_busy_thread_reads_as_its_share_of_the_cores_and_of_its_own() -> None:
    one = CpuLoad(cores=1, period_s=0.2)
    two = CpuLoad(cores=2, period_s=0.2)
    assert one.shares() == two.shares() == (0.0, 0.0), "a share before a whole period"
    spin(0.25)
    (process_one, thread_one), (process_two, thread_two) = one.shares(), two.shares()
    # The reading thread spun: one core busy, half of two (a little less when the host
    # takes the core away for a while); the thread itself, busy throughout.
    assert process_one > 0.6, f"spinning read as {process_one:.2f} of a core"
    assert abs(process_two - process_one / 2) < 0.1
    assert thread_one > 0.6 and abs(thread_two - thread_one) < 0.1
    # On two cores the process uses half, but its reading thread (the event loop) is the
    # limit: saturated, as on one core.
    assert two.saturated() is (thread_two >= 0.9)
    time.sleep(0.25)
    idle = one.shares()
    assert max(idle) < 0.2, f"sleeping read as {idle} of a core"
    assert not one.saturated()


def test_another_threads_work_counts_for_the_process_not_for_the_reader() -> None:
    load = CpuLoad(cores=1, period_s=0.2)
    load.shares()  # the first reading starts the period
    worker = threading.Thread(target=spin, args=(0.25,))
    worker.start()
    worker.join()
    process, thread = load.shares()
    assert process > 0.6 and thread < 0.2, (process, thread)


def test_the_shares_are_read_once_a_period() -> None:
    load = CpuLoad(cores=1, period_s=10.0)
    load.shares()
    spin(0.1)
    assert load.shares() == (0.0, 0.0), "read before its period ended"


def test_a_gauge_made_on_one_thread_reads_the_thread_that_reads_it() -> None:
    """The worker makes its gauge before its event loop runs; the loop's thread reads it."""
    spin(0.05)  # this thread has used CPU the reader's thread has not
    load = CpuLoad(cores=1, period_s=0.2)
    read: list[tuple[float, float]] = []

    def reader() -> None:
        load.shares()
        spin(0.25)
        read.append(load.shares())

    thread = threading.Thread(target=reader)
    thread.start()
    thread.join()
    _, own = read[0]
    assert 0.6 < own <= 1.05, f"the reading thread spun, and read {own:.2f} of a core"
