"""`make bench`: serve the same models with Pier and with what a user would pick instead,
drive each with the same wrk load, print one table per workload and check the targets;
HELP, the --help text, says what each row is and what runs."""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench import peers, procstats, scenarios
from bench.loadgen import Row, Timing, machine, measure, measure_paired
from bench.model_share import model_share
from bench.pier import (
    PierOptions,
    start_floor,
    start_hello_asgi,
    start_pier,
    start_textbook_floor,
)
from bench.pier_up import PublicPier
from bench.platform_scenarios import platform_scenarios
from bench.poisson import poisson_load
from bench.public_port import public_port_in_turns
from bench.serving import LOAD_CORE, SERVER_CORE, Running, Starter, stop
from bench.workloads import (
    MODELS,
    WORKLOADS,
    ModelDef,
    Workload,
    in_process_rate,
    save_torchscript,
)

HELP = """\
    .venv/bin/python -m bench.run [--quick] [--servers pier,pier-worker,floor,...]
                                  [--no-scenarios] [--retarget]

Rows (ROWS below): pier is `pier up` reached on its public inference port, as `make run`
users reach it (bench/pier_up.py); pier-worker the bare `python -m inference` behind it;
floor a tuned FastAPI endpoint, floor-textbook the tutorial's; hello-asgi the HTTP limit
of a Python server (W1 only); then the peers (bench/peers.py, each from its own
environment under bench/.envs, made on first use).

The server's whole process tree is pinned to core 0 and wrk to core 1 (taskset), so the
two never share a core. Each concurrency gets a warm-up run, then a measured run.
Figures: requests per second, p50 and p99 latency (wrk), errors (non-2xx, timeouts,
socket errors), peak RSS and CPU used by the server's process tree (from /proc), and rps
relative to Pier. Load goes only to 127.0.0.1 and is bounded in time. Then the scenarios
of the bare worker (bench/scenarios.py: batching on/off, 50 extra models, routing flips
under load; bench/poisson.py: batching on/off under Poisson arrivals;
bench/model_share.py: W2-binary in turns with the model's own rate), those of `pier up`
(bench/public_port.py: W1 in turns with the bare worker and the floors;
bench/platform_scenarios.py: a keep-alive spike, kill -9 of the worker), and a check
of every target against the figures of this run. Everything goes to
bench/results/latest.md too.
"""
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "latest.md"
README_TABLE = REPO / "bench" / "results" / "README-table.md"
P99_BOUND_MS = 50.0
NOISY = (
    "Warning: the machine was busy before the run began (load average {load:.1f}): other "
    "work shared the pinned cores, so every figure here is far below a quiet machine's "
    "and the ratios are noisy. Rerun on a quiet machine before quoting them."
)
EXTRA_MODELS = 50
# The binary W2 workloads, whose target is a share of the model's own rate: that rate is
# measured beside each of their rows (measure_paired), for this many seconds.
PAIRED = ("W2-binary", "W2-compact")
# What each row is, for the tables and the README table.
ROWS = {
    "pier": "Pier: `pier up`'s public inference port, one worker (what `make run` serves)",
    "pier-worker": "Pier's bare worker, `python -m inference`, with no platform around it",
    "pier-worker-granian": "the bare worker with PIER_INFERENCE_SERVER=granian",
    "floor": "the tuned floor: FastAPI, raw Request, orjson, torch on the event loop",
    "floor-textbook": "the textbook floor: FastAPI with a pydantic model, a sync handler",
    "hello-asgi": "the HTTP limit of a Python server: uvicorn + httptools, a fixed answer "
    "of W1's size, no model",
}
QUICK_ROWS = ("pier", "pier-worker", "floor", "hello-asgi")
MODEL_OF = {"hello-asgi": "mlp"}  # rows that serve one model's workloads only

FULL = Timing(warmup_s=3, measure_s=10, concurrencies=(1, 16, 64))
QUICK = Timing(warmup_s=1, measure_s=3, concurrencies=(1, 16, 64))


def start_pier_granian(model: ModelDef, artifact: Path, work: Path, log: Path) -> Running | str:
    """The bare worker with PIER_INFERENCE_SERVER=granian: the app under a Rust server."""
    options = PierOptions(env={"PIER_INFERENCE_SERVER": "granian"})
    return start_pier(model, artifact, work, log, options)


def render(workload: Workload, rows: list[Row]) -> str:
    pier = {r.concurrency: r.rps for r in rows if r.server == "pier"}
    paired = any(r.model_rate for r in rows)
    lines = [
        f"### {workload.key}: {workload.title}",
        "",
        "| server | conc | rps | p50 ms | p99 ms | errors | peak RSS MB | CPU cores "
        "| rps vs Pier |" + (" model alone /s just before | rps vs model |" if paired else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if paired else ""),
    ]
    for r in rows:
        ratio = f"{r.rps / pier[r.concurrency]:.2f}" if pier.get(r.concurrency) else "n/a"
        line = (
            f"| {r.server} | {r.concurrency} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.errors} | {r.peak_rss_mb:.0f} | {r.cpu_cores:.2f} | {ratio} |"
        )
        if paired:
            share = f"{r.rps / r.model_rate:.0%}" if r.model_rate else "n/a"
            line += f" {r.model_rate:,.0f} | {share} |"
        lines.append(line)
    named = dict.fromkeys(r.server for r in rows if r.server in ROWS)
    return "\n".join([*lines, "", *(f"{server}: {ROWS[server]}." for server in named)])


def best(rows: list[Row], server: str, p99_bound_ms: float | None = None) -> Row | None:
    """The row with the most rps of `server` (with p99 under the bound, when given)."""
    fits = [
        r
        for r in rows
        if r.server == server
        and r.errors == 0
        and r.requests > 0
        and (p99_bound_ms is None or r.p99_ms < p99_bound_ms)
    ]
    return max(fits, key=lambda r: r.rps, default=None)


def _fig(row: Row | None) -> str:
    if row is None:
        return "none"
    return f"{row.rps:,.0f} rps (conc {row.concurrency}, p99 {row.p99_ms:.1f} ms)"


def _ratio_line(
    name: str, pier: Row, other: Row | None, other_name: str, target: float, note: str
) -> list[str]:
    if other is None:
        return []
    ratio = pier.rps / other.rps
    return [
        f"{name} ({'met' if ratio >= target else 'missed'}; {note}): pier {_fig(pier)} = "
        f"{ratio:.2f}x {other_name} {_fig(other)} (target {target:g}x)"
    ]


def _w1_lines(w1: list[Row], bound: float | None) -> list[str]:
    """W1 through `pier up` against the best peer, the tuned floor and the bare worker."""
    note = f"rps at p99 < {bound:.0f} ms" if bound else "best rps, any p99"
    pier_w1 = best(w1, "pier", bound)
    if pier_w1 is None:
        return []
    lines = []
    measured = {p: r for p in peers.STARTERS if (r := best(w1, p, bound)) is not None}
    if measured:
        top, top_row = max(measured.items(), key=lambda kv: kv[1].rps)
        lines += _ratio_line("W1 vs peers", pier_w1, top_row, f"the best peer, {top}", 1.5, note)
    floor = best(w1, "floor", bound)
    lines += _ratio_line("W1 vs floor", pier_w1, floor, "the tuned floor's", 1.5, note)
    worker = best(w1, "pier-worker", bound)
    lines += _ratio_line("W1 vs pier-worker", pier_w1, worker, "the bare worker's", 0.9, note)
    return lines


def _limit_line(w1: list[Row]) -> list[str]:
    """Pier's W1 as a share of the HTTP limit (hello-asgi): what the platform keeps of it."""
    pier, limit = best(w1, "pier"), best(w1, "hello-asgi")
    if pier is None or limit is None:
        return []
    worker = best(w1, "pier-worker")
    beside = f"; the bare worker {worker.rps / limit.rps:.0%}" if worker else ""
    return [
        f"W1 share of the HTTP limit of a Python server (hello-asgi {_fig(limit)}): pier "
        f"{_fig(pier)} = {pier.rps / limit.rps:.0%}{beside} (best rps, any p99)"
    ]


def targets(tables: dict[str, list[Row]], cnn_rate: float) -> list[str]:
    """Each benchmark target for Pier (`pier up`'s public port), met or not, with its
    figures. W1 is judged at p99 under 50 ms; where a loaded machine leaves a row no such
    run, the comparison on best rps at any p99 follows, labelled so."""
    w1 = tables["W1"]
    lines = _w1_lines(w1, P99_BOUND_MS)
    if len(lines) < len(_w1_lines(w1, None)):
        lines += _w1_lines(w1, None)
    lines += _limit_line(w1)
    for key in PAIRED:
        row = best(tables[key], "pier")
        if row is None:
            continue
        if row.model_rate:
            share = row.rps / row.model_rate
            lines.append(
                f"{key} ({'met' if share >= 0.8 else 'missed'}): pier {_fig(row)} = "
                f"{share:.0%} of the CNN's in-process rate just before that run, "
                f"{row.model_rate:,.0f}/s (target 80 %); {row.rps / cnn_rate:.0%} of the "
                f"rate at the start of the run, {cnn_rate:,.0f}/s"
            )
        else:  # a results file without the model's rate beside each row
            share = row.rps / cnn_rate
            lines.append(
                f"{key} ({'met' if share >= 0.8 else 'missed'}): pier {_fig(row)} = "
                f"{share:.0%} of the CNN's in-process rate {cnn_rate:,.0f}/s (target 80 %)"
            )
    pier_w2 = best(tables["W2-json"], "pier")
    if pier_w2:
        floor = best(tables["W2-json"], "floor")
        lines += _ratio_line(
            "W2-json vs floor", pier_w2, floor, "the tuned floor's", 1, "best rps, any p99"
        )
    return lines


def rows_from_markdown(text: str) -> tuple[dict[str, list[Row]], float]:
    """The main tables and the CNN's in-process rate back from a latest.md (--retarget)."""
    tables: dict[str, list[Row]] = {w.key: [] for w in WORKLOADS}
    key, cnn_rate = "", 0.0
    for line in text.splitlines():
        if line.startswith("- cnn: "):
            cnn_rate = float(line.split()[2].replace(",", ""))
        elif line.startswith("### "):
            key = line[4:].split(":", 1)[0]
        elif key in tables and line.startswith("| ") and not line.startswith("| server"):
            cells = [c.strip().replace(",", "") for c in line.strip("|").split("|")]
            server, conc, rps, p50, p99, errors, rss, cpu = cells[:8]
            model_rate = float(cells[9]) if len(cells) > 9 else 0.0
            tables[key].append(
                Row(server, int(conc), float(rps), float(p50), float(p99), int(errors),
                    float(rss), float(cpu), requests=1 if float(rps) > 0 else 0,
                    model_rate=model_rate)
            )  # fmt: skip
    return tables, cnn_rate


def retarget(path: Path) -> int:
    """Recompute the Targets lines and the README table of an earlier run's file."""
    text = path.read_text()
    tables, cnn_rate = rows_from_markdown(text)
    head, _, rest = text.partition("### Targets\n\n")
    kept = [line for line in rest.splitlines() if line.startswith("- ") and "W1" not in line[:4]]
    kept = [line for line in kept if not line.startswith("- W2")]
    lines = [*(f"- {t}" for t in targets(tables, cnn_rate)), *kept]
    path.write_text(head + "### Targets\n\n" + "\n".join(lines) + "\n")
    first = text.splitlines()
    heading = "\n".join([first[0], *(h for h in first[:5] if h.startswith("Warning:"))])
    if path == RESULTS:  # as a run does: another file leaves the README table as it is
        README_TABLE.write_text(readme_table(tables, heading, cnn_rate))
    print("\n".join(lines))
    return 0


def readme_table(tables: dict[str, list[Row]], header: str, cnn_rate: float) -> str:
    """Best rps per server and workload with its p99 (W1: best with p99 under 50 ms)."""
    servers = list(dict.fromkeys(r.server for rows in tables.values() for r in rows))
    keys = [w.key for w in WORKLOADS]
    lines = [
        header,
        "",
        "Best requests/s of each server on one pinned core (p99 in ms in brackets; W1 only "
        f"counts runs with p99 under {P99_BOUND_MS:.0f} ms). The CNN alone: "
        f"{cnn_rate:,.0f} images/s in-process on one thread. Full tables: "
        "bench/results/latest.md.",
        "",
        "| server | " + " | ".join(keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    for server in servers:
        cells = []
        for key in keys:
            row = best(tables[key], server, P99_BOUND_MS if key == "W1" else None)
            cells.append(f"{row.rps:,.0f} ({row.p99_ms:.0f})" if row else "-")
        lines.append(f"| {server} | " + " | ".join(cells) + " |")
    named = [server for server in servers if server in ROWS]
    lines += ["", *(f"- {server}: {ROWS[server]}." for server in named)]
    if any(server in peers.STARTERS for server in servers):
        lines.append("- litserve, bentoml, torchserve, rayserve: the peers, as documented.")
    return "\n".join(lines) + "\n"


def run_servers(
    starters: dict[str, Starter], artifacts: dict[str, Path], work: Path, timing: Timing
) -> tuple[dict[str, list[Row]], list[str]]:
    tables: dict[str, list[Row]] = {w.key: [] for w in WORKLOADS}
    skipped: list[str] = []
    for server, start in starters.items():
        for model_name, artifact in artifacts.items():
            if MODEL_OF.get(server, model_name) != model_name:
                continue
            workloads = [w for w in WORKLOADS if w.model.name == model_name]
            log = work / f"{server}-{model_name}.log"
            print(f"- {server} serving {model_name} ...", flush=True)
            running = start(workloads[0].model, artifact, work, log)
            if isinstance(running, str):
                reason = f"{server} ({model_name}) skipped: {running}"
                skipped.append(reason)
                print(f"  {reason}; log tail:\n{procstats.tail(log)}", flush=True)
                continue
            try:
                for workload in workloads:
                    request = running.request_for(workload)
                    if request is None:
                        continue
                    if workload.key in PAIRED:
                        rows = measure_paired(server, running, workload, request, work, timing)
                    else:
                        rows = measure(server, running, request, work, timing)
                    tables[workload.key] += rows
                    best_row = max(rows, key=lambda r: r.rps)
                    print(f"  {workload.key}: best {_fig(best_row)}", flush=True)
            finally:
                stop(running.process)
    return tables, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=f"{__doc__}\n\n{HELP}", formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"short runs; {', '.join(QUICK_ROWS)} unless --servers names others",
    )
    parser.add_argument("--servers", default="", help="comma-separated subset (default: all)")
    parser.add_argument(
        "--no-scenarios",
        action="store_true",
        help="skip the scenarios (bench/scenarios.py, bench/platform_scenarios.py, ...)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--retarget", action="store_true", help="only recompute the targets of --out's run"
    )
    args = parser.parse_args(argv)
    if args.retarget:
        return retarget(args.out)
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            print(
                f"bench needs {tool}: apt-get install -y {'wrk' if tool == 'wrk' else 'util-linux'}"
            )
            return 2
    if (os.cpu_count() or 1) < 2:
        print("bench needs two cores: one for the server, one for wrk")
        return 2
    timing = QUICK if args.quick else FULL
    public = PublicPier()
    starters: dict[str, Starter] = {
        "pier": public,
        "pier-worker": start_pier,
        "pier-worker-granian": start_pier_granian,
        "floor": start_floor,
        "floor-textbook": start_textbook_floor,
        "hello-asgi": start_hello_asgi,
        **peers.starters(),
    }
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    if args.quick and not wanted:
        wanted = list(QUICK_ROWS)
    if wanted:
        unknown = sorted(set(wanted) - set(starters))
        if unknown:
            print(f"unknown servers: {', '.join(unknown)}; known: {', '.join(starters)}")
            return 2
        starters = {k: v for k, v in starters.items() if k in wanted}
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        f"Run {started} on {machine()}.",
        f"Server (its whole process tree) pinned to core {SERVER_CORE}, wrk (1 thread) to "
        f"core {LOAD_CORE} with taskset; warm-up {timing.warmup_s} s, then "
        f"{timing.measure_s} s measured per concurrency" + (" (--quick)." if args.quick else "."),
    ]
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1) / 2:
        header.append(NOISY.format(load=load))
    print("\n".join(header), flush=True)
    rate_s = 1.0 if args.quick else 3.0
    mlp_rate = in_process_rate(WORKLOADS[0], seconds=rate_s, core=SERVER_CORE)
    cnn_rate = in_process_rate(WORKLOADS[1], seconds=rate_s, core=SERVER_CORE)
    rates = [
        f"mlp: {mlp_rate:,.0f} single-row forward passes/s in-process, 1 thread, on core "
        f"{SERVER_CORE}",
        f"cnn: {cnn_rate:,.0f} single-image forward passes/s in-process, 1 thread, on core "
        f"{SERVER_CORE} (and again just before each of the W2 binary rows: their tables)",
    ]
    findings: list[scenarios.Findings] = []
    with tempfile.TemporaryDirectory(prefix="pier-bench-") as tmp:
        work = Path(tmp)
        artifacts = {name: save_torchscript(m, work / f"{name}.pt") for name, m in MODELS.items()}
        tables, skipped = run_servers(starters, artifacts, work, timing)
        w1 = WORKLOADS[0]
        if not args.no_scenarios and "pier" in starters:
            print("- pier up: W1 in turns, keep-alive spike, kill -9 of the worker ...", flush=True)
            turns_timing = Timing(timing.warmup_s, timing.measure_s, ())
            findings.append(public_port_in_turns(w1, artifacts["mlp"], work, turns_timing))
            findings += platform_scenarios(w1, artifacts["mlp"], work)
        if not args.no_scenarios and "pier-worker" in starters:
            w1, w2, w3 = (w for w in WORKLOADS if w.key in ("W1", "W2-binary", "W3"))
            scenario_timing = Timing(timing.warmup_s, timing.measure_s, ())
            print(
                "- scenarios: batching, Poisson arrivals, batch sizes, extra models, routing "
                "flips ...",
                flush=True,
            )
            findings += [
                scenarios.batching(w1, w3, artifacts["mlp"], work, scenario_timing),
                poisson_load(w1, artifacts["mlp"], work, scenario_timing),
                scenarios.batch_sizes(w2, artifacts["cnn"], work, scenario_timing),
                model_share(w2, artifacts["cnn"], work, scenario_timing),
                scenarios.many_models(w1, artifacts["mlp"], work, scenario_timing, EXTRA_MODELS),
                scenarios.routing_flips(w1, artifacts["mlp"], work, scenario_timing),
            ]
    sections = [*header, "", *(f"- {r}" for r in [*rates, *public.notes]), ""]
    for workload in WORKLOADS:
        sections += [render(workload, tables[workload.key]), ""]
    if skipped:
        sections += ["Skipped:", *(f"- {s}" for s in skipped), ""]
    for found in findings:
        sections += [found.table, ""]
    sections += [
        "### Targets",
        "",
        *(f"- {t}" for t in targets(tables, cnn_rate)),
        *(f"- {line}" for found in findings for line in found.summary),
        "",
    ]
    text = "\n".join(sections)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.out == RESULTS:
        heading = "\n".join([header[0], *(h for h in header if h.startswith("Warning:"))])
        README_TABLE.write_text(readme_table(tables, heading, cnn_rate))
    print(f"written to {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
