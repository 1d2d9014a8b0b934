"""The scenarios the targets need beyond the main tables, each in the same run:

- batching off, on (the default), and on with batches larger than W3's requests: what it
  adds to p50 at concurrency 1, and the rows a second it gains on W3 and W1 under load;
- W2-binary with the batch size learned per model vs always up to max_batch_rows, in turns;
- W1's tail with 50 extra models loaded beside it vs none, measured in turns;
- routing changes (weights flipped every second by a control plane) under about 500
  requests a second of W1, counting failed requests.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from bench.loadgen import Row, Timing, measure_one
from bench.pier import PierOptions, routing_table, start_pier
from bench.serving import Running, stop
from bench.workloads import Workload
from inference.schemas import RoutingTable

# Paced: each connection waits this long after each answer, and an answer takes 2-4 ms
# more: 16 ms aims just over 500 requests a second.
FLIP_CONNECTIONS, FLIP_DELAY_MS = 10, 16.0


@contextlib.contextmanager
def pier(
    workload: Workload, artifact: Path, work: Path, name: str, options: PierOptions
) -> Iterator[Running]:
    log = work / f"scenario-{name}.log"
    running = start_pier(workload.model, artifact, work, log, options)
    if isinstance(running, str):
        raise RuntimeError(f"Pier ({name}) did not start: {running}")
    try:
        yield running
    finally:
        stop(running.process)


def _row(label: str, r: Row, rows_per_request: int = 1) -> str:
    return (
        f"| {label} | {r.concurrency} | {r.rps:,.0f} | {r.rps * rows_per_request:,.0f} "
        f"| {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {r.peak_rss_mb:.0f} |"
    )


def _median_row(rows: list[Row]) -> Row:
    """The round with the median rps."""
    ranked = sorted(rows, key=lambda r: r.rps)
    return ranked[(len(ranked) - 1) // 2]


HEAD = [
    "| Pier | conc | rps | rows/s | p50 ms | p99 ms | errors | peak RSS MB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
]


@dataclass(frozen=True)
class Findings:
    table: str
    summary: list[str]


BATCHING = {
    "batching off (PIER_INFERENCE_MAX_BATCH_ROWS=1)": {"PIER_INFERENCE_MAX_BATCH_ROWS": "1"},
    "batching on (default: 32 rows, 2 ms)": {},
    "batching on, 128 rows": {"PIER_INFERENCE_MAX_BATCH_ROWS": "128"},
}


# Batching's cost at one connection is a few percent of a 0.5 ms request, less than a
# shared host's speed moves from one minute to the next: the off and on replicas are both
# up and measured in turns, many short rounds, and the median of the rounds' on/off ratios
# is the figure, so that a slow spell weighs on both sides of a ratio. The figures under
# load are taken in turns too (LOAD_ROUNDS each), the median kept.
P50_ROUNDS = 16
LOAD_ROUNDS = 3


def p50_timing(timing: Timing) -> Timing:
    """The one-connection rounds' timing: short (a second's warm-up, half the measure)."""
    return Timing(min(timing.warmup_s, 1), max(1, timing.measure_s // 2), ())


def paired_change(off: list[Row], on: list[Row]) -> float:
    """Pure: the median of each round's on/off p50 ratio, less 1 (rounds paired in order)."""
    return statistics.median(b.p50_ms / a.p50_ms for a, b in zip(off, on, strict=True)) - 1


def batching(w1: Workload, w3: Workload, artifact: Path, work: Path, timing: Timing) -> Findings:
    """Batching off, on (the default) and on with batches larger than W3's 32-row requests:
    what it adds to W1's p50 at concurrency 1 (rounds in turns), what it gains under load."""
    lines = [
        f"### Batching on vs off (W1 and W3; W1 at concurrency 1: {P50_ROUNDS} short rounds "
        f"in turns, ABBA, the median of the rounds' on/off p50 ratios; under load: "
        f"{LOAD_ROUNDS} rounds in turns, the median kept)",
        "",
        *HEAD,
    ]
    off_label, on_label, _ = BATCHING
    found: dict[str, dict[tuple[str, int], Row]] = {}
    p50s: dict[str, list[Row]] = {off_label: [], on_label: []}
    with contextlib.ExitStack() as stack:
        running = {
            label: stack.enter_context(
                pier(w1, artifact, work, f"batching-{i}", PierOptions(env=env))
            )
            for i, (label, env) in enumerate(BATCHING.items())
        }

        def measure(label: str, workload: Workload, concurrency: int, how: Timing) -> Row:
            request = running[label].request_for(workload)
            assert request is not None
            row = measure_one("pier", running[label], request, work, concurrency, how)
            lines.append(_row(f"{label}, {workload.key}", row, workload.rows))
            return row

        for turn in range(P50_ROUNDS):
            # Off first, then on first (ABBA): neither gains from going first or second.
            for label in list(p50s)[:: 1 if turn % 2 == 0 else -1]:
                p50s[label].append(measure(label, w1, 1, p50_timing(timing)))
        loads: dict[tuple[str, str, int], list[Row]] = {}
        for turn in range(LOAD_ROUNDS):
            for workload, concurrency in ((w1, 64), (w3, 1), (w3, 64)):
                for label in list(BATCHING)[:: 1 if turn % 2 == 0 else -1]:
                    row = measure(label, workload, concurrency, timing)
                    loads.setdefault((label, workload.key, concurrency), []).append(row)
        for (label, key, concurrency), rows in loads.items():
            found.setdefault(label, {})[(key, concurrency)] = _median_row(rows)
    off, on, wide = (found[k] for k in BATCHING)

    def rows_s(config: dict[tuple[str, int], Row], key: str) -> float:
        return config[(key, 64)].rps * (w3.rows if key == "W3" else w1.rows)

    p50_off, p50_on = (statistics.median(r.p50_ms for r in p50s[k]) for k in (off_label, on_label))
    cpu_off, cpu_on = (
        statistics.median(r.cpu_cores / r.rps * 1e6 for r in p50s[k] if r.rps)
        for k in (off_label, on_label)
    )
    w3_off = rows_s(off, "W3")
    return Findings(
        "\n".join(lines),
        [
            f"batching at concurrency 1 changes W1's p50 by "
            f"{paired_change(p50s[off_label], p50s[on_label]):+.1%} (the median of "
            f"{P50_ROUNDS} rounds' on/off ratios, each round both in turns; the medians: "
            f"p50 {p50_off:.3f} -> {p50_on:.3f} ms, CPU a request {cpu_off:.0f} -> "
            f"{cpu_on:.0f} us; target: under +5 %)",
            f"W3 rows/s at concurrency 64: {w3_off:,.0f} batching off, "
            f"{rows_s(on, 'W3'):,.0f} on with 32-row batches "
            f"({rows_s(on, 'W3') / w3_off:.2f}x: each request already fills one), "
            f"{rows_s(wide, 'W3'):,.0f} with 128-row batches ({rows_s(wide, 'W3') / w3_off:.2f}x)",
            f"W1 rps at concurrency 64: {rows_s(off, 'W1'):,.0f} batching off, "
            f"{rows_s(on, 'W1'):,.0f} on ({rows_s(on, 'W1') / rows_s(off, 'W1'):.2f}x)",
        ],
    )


MODEL_ROUNDS = 3
SIZE_ROUNDS = 2
SIZING = {
    "batch size learned (default)": {},
    "always up to 32 rows (PIER_INFERENCE_ADAPTIVE_BATCH_ROWS=false)": {
        "PIER_INFERENCE_ADAPTIVE_BATCH_ROWS": "false"
    },
}


def batch_sizes(w2: Workload, artifact: Path, work: Path, timing: Timing) -> Findings:
    """The CNN's cost an image depends on its batch size, and not monotonically: the learned
    limit against a fixed 32, both replicas up, measured in turns at 16 and 64 connections;
    each one's limit read from its /metrics."""
    lines = [
        f"### W2-binary: batch size learned vs fixed ({SIZE_ROUNDS} rounds in turns)",
        "",
        *HEAD,
    ]
    with contextlib.ExitStack() as stack:
        running = {
            label: stack.enter_context(
                pier(w2, artifact, work, f"sizing-{i}", PierOptions(env=env))
            )
            for i, (label, env) in enumerate(SIZING.items())
        }
        rounds: dict[tuple[str, int], list[Row]] = {}
        limits: dict[str, str] = {}
        for _ in range(SIZE_ROUNDS):
            for concurrency in (16, 64):
                for label, r in running.items():
                    request = r.request_for(w2)
                    assert request is not None
                    row = measure_one("pier", r, request, work, concurrency, timing)
                    rounds.setdefault((label, concurrency), []).append(row)
                    limits[label] = _batch_limit(r)
                    lines.append(_row(f"{label}; limit after: {limits[label]}", row))
    best = {k: statistics.median(row.rps for row in v) for k, v in rounds.items()}
    learned, fixed = SIZING
    return Findings(
        "\n".join(lines),
        [
            f"W2-binary median rps at {c} connections: {best[(learned, c)]:,.0f} with the "
            f"learned batch limit, {best[(fixed, c)]:,.0f} always up to "
            f"32 rows ({best[(learned, c)] / best[(fixed, c)]:.2f}x)"
            for c in (16, 64)
        ],
    )


def _batch_limit(running: Running) -> str:
    text = httpx.get(f"http://127.0.0.1:{running.port}/metrics", timeout=10).text
    prefix = "pier_batch_limit_rows{"
    found = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(prefix)]
    return ", ".join(f"{float(v):.0f} rows" for v in found) or "not reported"


def many_models(w1: Workload, artifact: Path, work: Path, timing: Timing, extra: int) -> Findings:
    """Two replicas up at once, one with `extra` more models loaded, measured in turns
    (A, B, A, B, ...): a moment of noise on the shared machine then lands on one round, and
    the median round of each is compared."""
    lines = [
        f"### W1 with {extra} extra loaded models vs none (concurrency 16, "
        f"{MODEL_ROUNDS} rounds in turns)",
        "",
        *HEAD,
    ]
    counts = (0, extra)
    with contextlib.ExitStack() as stack:
        running = {
            n: stack.enter_context(
                pier(w1, artifact, work, f"models-{n}", PierOptions(extra_models=n))
            )
            for n in counts
        }
        loaded = {
            n: len(httpx.get(f"http://127.0.0.1:{r.port}/healthz", timeout=10).json()["loaded"])
            for n, r in running.items()
        }
        rounds: dict[int, list[Row]] = {n: [] for n in counts}
        for _ in range(MODEL_ROUNDS):
            for n in counts:
                request = running[n].request_for(w1)
                assert request is not None
                row = measure_one("pier", running[n], request, work, 16, timing)
                rounds[n].append(row)
                lines.append(_row(f"{loaded[n]} models loaded", row))
    p99 = {n: statistics.median(r.p99_ms for r in rounds[n]) for n in counts}
    rps = {n: statistics.median(r.rps for r in rounds[n]) for n in counts}
    moved = p99[extra] / p99[0] - 1
    return Findings(
        "\n".join(lines),
        [
            f"{extra} extra loaded models move W1's median p99 by {moved:+.1%} "
            f"({p99[0]:.2f} -> {p99[extra]:.2f} ms; target: under 10 %) and its median rps "
            f"by {rps[extra] / rps[0] - 1:+.1%} ({rps[0]:,.0f} -> {rps[extra]:,.0f})"
        ],
    )


class _RoutingServer:
    """GET /api/v1/routing as the control plane answers it (ETag, 304), nothing else."""

    def __init__(self, table: RoutingTable) -> None:
        self.table = table
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                table = owner.table
                etag = f'"{table.revision}"'
                if self.path != "/api/v1/routing":
                    self.send_response(404)
                    self.end_headers()
                elif self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                else:
                    body = table.model_dump_json().encode()
                    self.send_response(200)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # one line per poll is noise here

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _RoutingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def routing_flips(w1: Workload, artifact: Path, work: Path, timing: Timing) -> Findings:
    options = PierOptions(versions=("1", "2"))
    table = routing_table(w1.model, artifact, options, 1, {"1": 100})
    lines = [
        "### Routing change under load: W1 weights flipped 1 <-> 2 every second",
        "",
        "| Pier | conn | rps | p50 ms | p99 ms | failed requests | flips sent | "
        "revision served at the end | requests by version |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    with _RoutingServer(table) as control:
        options = PierOptions(versions=("1", "2"), control_plane_url=control.url)
        with pier(w1, artifact, work, "flips", options) as running:
            stop_flips = threading.Event()
            flips = 0

            def flip() -> None:
                nonlocal flips
                while not stop_flips.wait(1.0):
                    flips += 1
                    weights = {"1": 0, "2": 100} if flips % 2 else {"1": 100, "2": 0}
                    control.table = routing_table(w1.model, artifact, options, 1 + flips, weights)

            flipper = threading.Thread(target=flip, daemon=True)
            request = running.request_for(w1)
            assert request is not None
            flipper.start()
            try:
                row = measure_one(
                    "pier",
                    running,
                    request,
                    work,
                    FLIP_CONNECTIONS,
                    Timing(0, max(timing.measure_s, 10), ()),
                    delay_ms=FLIP_DELAY_MS,
                )
            finally:
                stop_flips.set()
                flipper.join()
            base = f"http://127.0.0.1:{running.port}"
            revision = httpx.get(f"{base}/healthz", timeout=10).json()["revision"]
            summary = httpx.get(
                f"{base}/metrics?window=60", headers={"Accept": "application/json"}, timeout=10
            ).json()
    by_version = ", ".join(
        f"v{m['version']}: {m['requests']}"
        for m in summary["models"]
        if m["model"] == w1.model.name
    )
    lines.append(
        f"| paced by wrk | {FLIP_CONNECTIONS} | {row.rps:,.0f} | {row.p50_ms:.2f} "
        f"| {row.p99_ms:.2f} | {row.errors} | {flips} | {revision} (last sent {1 + flips}) "
        f"| {by_version} |"
    )
    return Findings(
        "\n".join(lines),
        [
            f"{flips} routing changes under {row.rps:,.0f} rps of W1 failed {row.errors} of "
            f"{row.requests:,} requests (target: 0)"
        ],
    )
