"""What W2-binary's target asks of any Python server on one core, measured:

- the HTTP ceiling: requests a second of a bare ASGI app (bench/servers/bare.py) answering
  the same binary W2 request with no framework, parsing or model, pinned like the bench;
- the CNN's cost an image at its cheapest batch size, in-process, one thread;
- the least a batching server must do (bench/servers/minimal.py): read the body, view the
  tensor, gather requests into calls on a model thread, answer each its row. Nothing else.

A request costs at least the sum of the first two, so 1 / (1/ceiling + cost) bounds the
rps of any server built on that stack. The minimal server shows what is left of the bound
once the model shares the core with the event loop, as it must on one core.

    .venv/bin/python -m bench.ceiling [--seconds 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.loadgen import Timing, measure_one
from bench.pier import REPO, START_TIMEOUT_S
from bench.serving import Running, free_port, launch, stop, wait_ready
from bench.workloads import WORKLOADS, in_process_rate, save_torchscript, v2_binary_request

BATCHES = (1, 2, 4, 8, 16, 32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args(argv)
    w2 = next(w for w in WORKLOADS if w.key == "W2-binary")
    single = in_process_rate(w2, seconds=3.0)
    by_batch = {b: in_process_rate(w2, 2.0, batch=b) for b in BATCHES}
    best_batch = max(by_batch, key=lambda b: by_batch[b])
    request = v2_binary_request(w2)
    rows = []
    minimal = []
    with tempfile.TemporaryDirectory(prefix="pier-ceiling-") as tmp:
        work = Path(tmp)
        timing = Timing(3, args.seconds, ())
        artifact = save_torchscript(w2.model, work / "cnn.pt")
        servers = {
            "bare": [str(REPO / "bench/servers/bare.py")],
            "minimal": [str(REPO / "bench/servers/minimal.py"), str(artifact)],
        }
        for name, argv in servers.items():
            port = free_port()
            process = launch([sys.executable, *argv, str(port)], work / f"{name}.log", cwd=REPO)
            try:
                url = f"http://127.0.0.1:{port}{request.path}"
                problem = wait_ready(process, url, START_TIMEOUT_S, request)
                if problem:
                    print(f"the {name} app did not start: {problem}")
                    return 1
                running = Running(process, port, lambda _: request)
                found = [measure_one(name, running, request, work, c, timing) for c in (16, 64)]
            finally:
                stop(process)
            (rows if name == "bare" else minimal).extend(found)
    ceiling = max(r.rps for r in rows)
    cost_s = 1 / by_batch[best_batch]
    bound = 1 / (1 / ceiling + cost_s)
    print(f"CNN alone, one thread: {single:,.0f} single images/s; by batch size: ", end="")
    print(", ".join(f"{b}: {r:,.0f}" for b, r in by_batch.items()))
    for r in rows:
        print(f"bare ASGI app, W2-binary request, {r.concurrency} connections: {r.rps:,.0f} rps")
    cheapest = by_batch[best_batch]
    print(
        f"bound for any server on this stack: 1 / (1/{ceiling:,.0f} + 1/{cheapest:,.0f}) "
        f"= {bound:,.0f} rps = {bound / single:.0%} of the single-image rate (target 80 %)"
    )
    for r in minimal:
        print(
            f"minimal batching server, {r.concurrency} connections: {r.rps:,.0f} rps "
            f"= {r.rps / single:.0%} of the single-image rate (p99 {r.p99_ms:.0f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
