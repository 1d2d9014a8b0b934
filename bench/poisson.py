"""Batching under random arrivals: W1 with batching off and on, at loads drawn as a
Poisson stream, from half of what the replica serves without batching to beyond it.

Every other figure of the benchmark is closed-loop (each connection sends its next
request when its answer comes), where requests arrive in step with the server. Real
clients arrive at random: bursts find the model busy while the load is light on average,
which is where a batching rule could delay requests for nothing. Here each of many
connections waits a random time (exponential, bench/request.lua) before each request, so
that together they arrive as a Poisson stream does at the offered rate, whatever the
server's answers; with this many connections the stream holds until the server is
saturated. The rates are fractions of the unbatched replica's closed-loop capacity,
measured first in the same run; both replicas are up and measured in turns (ABBA).
"""

from __future__ import annotations

import contextlib
import statistics
from pathlib import Path

from bench.loadgen import Row, Timing, measure_one
from bench.pier import PierOptions
from bench.scenarios import BATCHING, Findings, pier
from bench.workloads import Workload

CONNECTIONS = 128
LEVELS = (0.5, 0.8, 1.0, 1.2)
ROUNDS = 2
CAPACITY_CONNECTIONS = 64


def _ratio(off: list[Row], on: list[Row], figure: str) -> float:
    """Pure: on's mean of `figure` over off's, less 1. Not the rounds' ratios: with two
    rounds, one round's p99 spike on one side reads +140 % where the means differ by 8 %."""
    return _mean(on, figure) / _mean(off, figure) - 1


def _mean(rows: list[Row], figure: str) -> float:
    return statistics.fmean(getattr(r, figure) for r in rows)


def poisson_load(w1: Workload, artifact: Path, work: Path, timing: Timing) -> Findings:
    off_label, on_label = list(BATCHING)[:2]
    lines = [
        f"### Batching under Poisson arrivals (W1; {CONNECTIONS} connections, each waiting "
        f"an exponential time before each request; {ROUNDS} rounds in turns per load)",
        "",
        "| load (of off's capacity) | offered rps | Pier | rps | p50 ms | p99 ms | errors |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    summary: list[str] = []
    with contextlib.ExitStack() as stack:
        running = {
            label: stack.enter_context(
                pier(w1, artifact, work, f"poisson-{i}", PierOptions(env=BATCHING[label]))
            )
            for i, label in enumerate((off_label, on_label))
        }
        request = running[off_label].request_for(w1)
        assert request is not None
        capacity = {
            label: measure_one("pier", running[label], request, work, CAPACITY_CONNECTIONS, timing)
            for label in running
        }
        off_capacity = capacity[off_label].rps
        lines += [
            f"| closed loop, {CAPACITY_CONNECTIONS} connections | - | {label} | "
            f"{row.rps:,.0f} | {row.p50_ms:.2f} | {row.p99_ms:.2f} | {row.errors} |"
            for label, row in capacity.items()
        ]
        for level in LEVELS:
            offered = level * off_capacity
            mean_wait_ms = CONNECTIONS * 1000 / offered
            rows: dict[str, list[Row]] = {off_label: [], on_label: []}
            for turn in range(ROUNDS):
                for label in list(rows)[:: 1 if turn % 2 == 0 else -1]:
                    row = measure_one(
                        "pier",
                        running[label],
                        request,
                        work,
                        CONNECTIONS,
                        timing,
                        delay_ms=mean_wait_ms,
                        poisson=True,
                    )
                    rows[label].append(row)
                    lines.append(
                        f"| {level:.0%} | {offered:,.0f} | {label} | {row.rps:,.0f} | "
                        f"{row.p50_ms:.2f} | {row.p99_ms:.2f} | {row.errors} |"
                    )
            off, on = rows[off_label], rows[on_label]
            summary.append(
                f"Poisson arrivals at {level:.0%} of unbatched capacity ({offered:,.0f} rps "
                f"offered): batching on serves {_mean(on, 'rps'):,.0f} rps against off's "
                f"{_mean(off, 'rps'):,.0f}; p50 {_mean(off, 'p50_ms'):.2f} -> "
                f"{_mean(on, 'p50_ms'):.2f} ms ({_ratio(off, on, 'p50_ms'):+.0%}), p99 "
                f"{_mean(off, 'p99_ms'):.2f} -> {_mean(on, 'p99_ms'):.2f} ms "
                f"({_ratio(off, on, 'p99_ms'):+.0%}); errors {sum(r.errors for r in off)} off, "
                f"{sum(r.errors for r in on)} on"
            )
    return Findings("\n".join(lines), summary)
