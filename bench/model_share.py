"""W2-binary against the CNN's own single-image rate, measured in turns.

The W2 target compares two figures taken minutes apart in the main tables: the model's
in-process rate at the start of the run, Pier's requests a second later. A shared host's
speed moves by tens of percent from one minute to the next, so that ratio can be set by
when each figure fell. Here each round measures the model's rate just before each
server's run, and the share is taken round by round; the median round is reported.

Beside it, the same share in CPU time: the model's CPU time an image alone, over the
server's CPU time a request (its whole process tree, on its one core). It leaves out the
time the host gives to others (steal). Where the two shares agree round by round, what
moves between rounds is the cost of the work itself on the host, not time taken away
from it.

Pier runs twice: through `pier up`'s public port (what `make run` serves) and as the bare
worker. The minimal batching server (bench/servers/minimal.py), which does only what no
batching server can skip, runs in the same turns as the reference for what this stack
allows. The servers not measured are stopped (SIGSTOP) while one runs.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.loadgen import Timing, measure_one
from bench.pier import REPO, START_TIMEOUT_S, PierOptions
from bench.pier_up import PublicPier
from bench.public_port import frozen
from bench.scenarios import Findings, pier
from bench.serving import SERVER_CORE, Running, free_port, launch, stop, wait_ready
from bench.workloads import Workload, in_process_cost, v2_binary_request

ROUNDS = 4
CONNECTIONS = 64
RATE_S = 2.0


@contextlib.contextmanager
def minimal_server(w2: Workload, artifact: Path, work: Path) -> Iterator[Running]:
    """bench/servers/minimal.py serving the CNN, pinned as every server is."""
    request = v2_binary_request(w2)
    port = free_port()
    argv = [sys.executable, str(REPO / "bench/servers/minimal.py"), str(artifact), str(port)]
    process = launch(argv, work / "minimal.log", cwd=REPO)
    try:
        url = f"http://127.0.0.1:{port}{request.path}"
        problem = wait_ready(process, url, START_TIMEOUT_S, request)
        if problem:
            raise RuntimeError(f"the minimal batching server did not start: {problem}")
        yield Running(process, port, lambda _: request)
    finally:
        stop(process)


def model_share(w2: Workload, artifact: Path, work: Path, timing: Timing) -> Findings:
    lines = [
        f"### W2-binary vs the CNN's own rate, in turns ({ROUNDS} rounds at {CONNECTIONS} "
        f"connections; the single-image rate measured in-process, {RATE_S:.0f} s, just before "
        "each server's run)",
        "",
        "| server | round | rps | single images/s just before | share | server CPU us a "
        "request | model CPU us an image | share in CPU time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = ("pier", "pier-worker", "minimal batching server")
    shares: dict[str, list[float]] = {name: [] for name in names}
    cpu_shares: dict[str, list[float]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        public = PublicPier()(w2.model, artifact, work, work / "share-pier-up.log")
        if isinstance(public, str):
            return Findings(lines[0] + f"\n\nnot run: pier up did not start: {public}", [])
        stack.callback(stop, public.process)
        running = {
            "pier": public,
            "pier-worker": stack.enter_context(pier(w2, artifact, work, "share", PierOptions())),
            "minimal batching server": stack.enter_context(minimal_server(w2, artifact, work)),
        }
        for turn in range(ROUNDS):
            for name in list(running)[:: 1 if turn % 2 == 0 else -1]:
                request = running[name].request_for(w2)
                assert request is not None
                others = [r for n, r in running.items() if n != name]
                with frozen(others):
                    rate, image_cpu = in_process_cost(w2, seconds=RATE_S, core=SERVER_CORE)
                    row = measure_one(name, running[name], request, work, CONNECTIONS, timing)
                request_cpu = row.cpu_cores / row.rps if row.rps else float("inf")
                shares[name].append(row.rps / rate)
                cpu_shares[name].append(image_cpu / request_cpu)
                lines.append(
                    f"| {name} | {turn + 1} | {row.rps:,.0f} | {rate:,.0f} | {row.rps / rate:.0%} "
                    f"| {request_cpu * 1e6:.0f} | {image_cpu * 1e6:.0f} "
                    f"| {image_cpu / request_cpu:.0%} |"
                )
    share = {name: statistics.median(v) for name, v in shares.items()}
    cpu = {name: statistics.median(v) for name, v in cpu_shares.items()}
    verdict = "met" if share["pier"] >= 0.8 else "missed"
    return Findings(
        "\n".join(lines),
        [
            f"W2-binary in turns with the model's own rate, through pier up's port "
            f"({verdict}): Pier {share['pier']:.0%} of the single-image rate (median of "
            f"{ROUNDS} rounds; target 80 %); the bare worker {share['pier-worker']:.0%}; the "
            f"minimal batching server, which validates, routes and counts nothing, "
            f"{share['minimal batching server']:.0%}",
            f"W2-binary in CPU time (the model's CPU an image over the server's CPU a "
            f"request, median of {ROUNDS} rounds): Pier through the port {cpu['pier']:.0%}, "
            f"the bare worker {cpu['pier-worker']:.0%}, the minimal batching server "
            f"{cpu['minimal batching server']:.0%}",
        ],
    )
