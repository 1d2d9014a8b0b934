"""``python -m bench.faults`` (`make faults`): every fault case under steady load against
127.0.0.1, then the table of figures, printed and written to bench/results/faults.md.

Each case is bounded in time (about 10 to 40 s) and starts and cleans up its own processes:
a private PostgreSQL and Redis on free ports, never the shared ones on 5432 and 6379.
Exit status 1 when any case fails its criteria.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.faults import platform_cases, replica_cases
from bench.faults.report import CaseResult, document, table
from bench.faults.stack import SERVER_CPUS

RESULTS = Path(__file__).resolve().parents[1] / "results" / "faults.md"

CASES: dict[str, Callable[[float], CaseResult]] = {
    "routing": lambda rate: platform_cases.routing_changes(rate=rate),
    "kill": lambda rate: platform_cases.kill_worker(),
    "sigterm": lambda rate: replica_cases.sigterm(),
    "sigterm-pool": lambda rate: platform_cases.sigterm_worker(),
    "postgres": lambda rate: platform_cases.postgres_outage(),
    "redis": lambda rate: platform_cases.redis_outage(),
    "control-plane": lambda rate: platform_cases.control_plane_killed(),
    "overload": lambda rate: replica_cases.overload(),
    "bad-models": lambda rate: replica_cases.bad_models(),
}


def _placement() -> str:
    if (os.cpu_count() or 1) < 2:
        return "one core: everything shares it"
    return (
        f"replicas started directly run on core {SERVER_CPUS} (taskset); the load generator, "
        "the control plane and the local pool's workers are not pinned"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="cases to run")
    parser.add_argument(
        "--rate", type=float, default=500.0, help="requests/s of the routing-change case"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    placement = _placement()
    results = []
    for name in args.only or list(CASES):
        started = time.monotonic()
        print(f"== {name} ...", flush=True)
        try:
            result = CASES[name](args.rate)
        except Exception as e:  # one broken case must not hide the others' figures
            traceback.print_exc()
            result = CaseResult(name, 0, 0, {}, {f"ran ({type(e).__name__}: {e})"[:200]: False})
        print(f"   {'pass' if result.passed else 'FAIL'} in {time.monotonic() - started:.0f} s")
        results.append(result)
    notes = [
        placement + "; other work may share the machine: rates below what was asked mean the "
        "machine did not sustain them (the generator sends on schedule, never retries).",
        "failed counts every request that did not get the answer the case expects (200, or "
        "503/429 with Retry-After beyond capacity); transport errors included.",
    ]
    print()
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(document(results, notes))
    print(f"\nwritten to {args.out}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
