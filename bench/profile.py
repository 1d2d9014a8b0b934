"""Where Pier's request path spends its time under load: py-spy samples the replica
(pinned to core 0) while wrk (core 1) drives a workload (W1 unless --workload), and the
samples are summed by what they were doing: HTTP, JSON, the model, metrics, the
prediction store, batching, routing...

    pip install py-spy   # a one-off, e.g. pip install --target /tmp/pyspy py-spy
    .venv/bin/python -m bench.profile [--py-spy PATH] [--seconds 15] [--connections 16]
                                      [--workload W1] [--env NAME=VALUE ...]

It prints the share of samples per part and the hottest functions (own time).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from bench.loadgen import wrk
from bench.pier import PierOptions, start_pier
from bench.serving import stop
from bench.workloads import WORKLOADS, save_torchscript

# Each stack goes to the part of its innermost frame that matches one (in this order).
PARTS: list[tuple[str, tuple[str, ...]]] = [
    # A model thread whose innermost frame is its loop itself is blocked taking the next job.
    (
        "idle (waiting for work)",
        ("Condition.wait (", "EpollSelector.select (", "ModelThreads._work ("),
    ),
    ("model (torch forward)", ("inference/models/loader.py", "torch/")),
    (
        "JSON decode/encode",
        ("orjson", "parse_predict", "from_json", "dumps (inference/http/native"),
    ),
    ("input checks (numpy)", ("inference/tensors.py", "numpy/")),
    ("metrics", ("inference/metrics/", "prometheus_client")),
    (
        "prediction store",
        ("inference/feedback/ground_truth.py", "inference/feedback/predictions.py"),
    ),
    ("batching queue", ("inference/execution/batch",)),
    ("routing / data plane", ("inference/dataplane.py", "inference/routing/")),
    ("admission / limits", ("inference/execution/admission.py", "inference/http/limits.py")),
    (
        "prediction routes (lane, api, v2)",
        ("inference/http/lane.py", "inference/http/native.py", "v2.py"),
    ),
    (
        "thread hop (model threads)",
        ("inference/execution/model_threads.py", "anyio/", "concurrent/futures", "threading.py"),
    ),
    (
        "HTTP (uvicorn, httptools, h11, starlette, fastapi)",
        ("uvicorn/", "httptools", "h11/", "starlette/", "fastapi/"),
    ),
    ("event loop (asyncio)", ("asyncio/",)),
]


def part_of(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost first
        for name, needles in PARTS:
            if any(n in frame for n in needles):
                return name
    return "other"


def summarise(raw: Path, top: int) -> str:
    parts: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        parts[part_of(frames)] += count
        own[frames[-1]] += count
    if not total:
        return "no samples"
    lines = [
        f"{total} samples of busy threads (py-spy leaves out threads it sees idle)",
        "",
        "| part of the request path | share |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {n / total:.1%} |" for name, n in parts.most_common()]
    lines += ["", f"Hottest functions (own time, top {top}):", ""]
    lines += [f"- {n / total:5.1%} {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for Pier")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--workload", default="W1", choices=[w.key for w in WORKLOADS], help="what to send"
    )
    parser.add_argument("--keep", type=Path, help="also copy the raw stacks here")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL: the event loop's own work, without "
        "the time a thread waits for the core it shares with the model thread",
    )
    args = parser.parse_args(argv)
    workload = next(w for w in WORKLOADS if w.key == args.workload)
    env = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="pier-profile-") as tmp:
        work = Path(tmp)
        artifact = save_torchscript(workload.model, work / f"{workload.model.name}.pt")
        running = start_pier(workload.model, artifact, work, work / "pier.log", PierOptions(env))
        if isinstance(running, str):
            print(f"Pier did not start: {running}")
            return 1
        try:
            request = running.request_for(workload)
            assert request is not None
            body = work / "body.bin"
            body.write_bytes(request.body)
            wrk(running.port, request, body, args.connections, 2)  # warm-up
            raw = work / "stacks.txt"
            load = threading.Thread(
                target=wrk,
                args=(running.port, request, body, args.connections, args.seconds + 2),
            )
            load.start()
            subprocess.run(
                [
                    args.py_spy, "record", "--pid", str(running.process.pid), "--subprocesses",
                    "--threads", "--format", "raw", "--rate", "200",
                    "--duration", str(args.seconds), "--output", str(raw), "--nonblocking",
                    *(["--gil"] if args.gil else []),
                ],
                check=True, capture_output=True, timeout=args.seconds + 60,
            )  # fmt: skip
            load.join()
            print(summarise(raw, args.top))
            if args.keep:
                shutil.copy(raw, args.keep)
        finally:
            stop(running.process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
