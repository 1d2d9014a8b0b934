"""W1 through `pier up`'s public port against the bare worker, the tuned floor and the
hello-world ASGI app, in turns: the main tables run each server minutes apart, and a
shared host's speed moves by tens of percent in that time.

Every server is up at once; each round measures each of them, in alternating order, with
the others' whole process trees stopped (SIGSTOP), so that only the one measured runs on
the server core. The median of the rounds gives the ratios the W1 targets ask for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
from collections.abc import Iterator
from pathlib import Path

from bench.loadgen import Timing, measure_one
from bench.pier import start_floor, start_hello_asgi, start_pier
from bench.pier_up import PublicPier
from bench.procstats import tree_of
from bench.scenarios import Findings
from bench.serving import Running, Starter, stop
from bench.workloads import Workload

ROUNDS = 3
CONNECTIONS = 16


def _signal_tree(running: Running, sig: int) -> None:
    for pid in tree_of(running.process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@contextlib.contextmanager
def frozen(others: list[Running]) -> Iterator[None]:
    for r in others:
        _signal_tree(r, signal.SIGSTOP)
    try:
        yield
    finally:
        for r in others:
            _signal_tree(r, signal.SIGCONT)


def public_port_in_turns(w1: Workload, artifact: Path, work: Path, timing: Timing) -> Findings:
    starters: dict[str, Starter] = {
        "pier": PublicPier(),
        "pier-worker": start_pier,
        "floor": start_floor,
        "hello-asgi": start_hello_asgi,
    }
    heading = (
        f"### W1 in turns ({ROUNDS} rounds at {CONNECTIONS} connections, the other servers "
        "stopped while each runs)"
    )
    lines = [
        heading,
        "",
        "| server | round | rps | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rps: dict[str, list[float]] = {name: [] for name in starters}
    running: dict[str, Running] = {}
    try:
        for name, start in starters.items():
            started = start(w1.model, artifact, work, work / f"turns-{name}.log")
            if isinstance(started, str):
                return Findings(heading + f"\n\nnot run: {name} did not start: {started}", [])
            running[name] = started
        for turn in range(ROUNDS):
            for name in list(running)[:: 1 if turn % 2 == 0 else -1]:
                request = running[name].request_for(w1)
                assert request is not None
                others = [r for n, r in running.items() if n != name]
                with frozen(others):
                    row = measure_one(name, running[name], request, work, CONNECTIONS, timing)
                rps[name].append(row.rps)
                lines.append(
                    f"| {name} | {turn + 1} | {row.rps:,.0f} | {row.p50_ms:.2f} "
                    f"| {row.p99_ms:.2f} | {row.errors} |"
                )
    finally:
        for r in running.values():
            stop(r.process)
    median = {name: statistics.median(v) for name, v in rps.items()}
    vs_worker = median["pier"] / median["pier-worker"]
    vs_floor = median["pier"] / median["floor"]
    share = median["pier"] / median["hello-asgi"]
    return Findings(
        "\n".join(lines),
        [
            f"W1 in turns, through pier up's port vs the bare worker "
            f"({'met' if vs_worker >= 0.9 else 'missed'}): {median['pier']:,.0f} against "
            f"{median['pier-worker']:,.0f} rps = {vs_worker:.2f}x (median of {ROUNDS} rounds; "
            "target 0.9x)",
            f"W1 in turns, through pier up's port vs the tuned floor "
            f"({'met' if vs_floor >= 1.5 else 'missed'}): {vs_floor:.2f}x the floor's "
            f"{median['floor']:,.0f} rps (target 1.5x)",
            f"W1 in turns, Pier's share of the hello-world ASGI app's {median['hello-asgi']:,.0f} "
            f"rps (the HTTP limit of a Python server on this core): {share:.0%}",
        ],
    )
