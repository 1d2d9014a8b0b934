"""One fault case's figures and verdict, and the table `make faults` prints and writes."""

from __future__ import annotations

import os
import platform
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.faults.load import LoadResult, Sample, percentile


@dataclass
class CaseResult:
    case: str
    requests: int
    failed: int
    # Other figures, in the order they are shown: name -> value as text.
    figures: dict[str, str] = field(default_factory=dict)
    # Each criterion the case is judged by, and whether it held.
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(self.checks.values())

    def failures(self) -> list[str]:
        return [name for name, ok in self.checks.items() if not ok]


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def codes(counts: Mapping[str, int]) -> str:
    """`{"200": 5, "503": 2}` as "5x200, 2x503"; "none" when empty."""
    return ", ".join(f"{n}x{c}" for c, n in sorted(counts.items())) or "none"


def outcomes(samples: Iterable[Sample]) -> Counter[str]:
    return Counter(str(s.status) if s.status else s.failure for s in samples)


def latency_figures(result: LoadResult) -> dict[str, str]:
    lat = result.latencies_ms()
    return {
        "rate asked": f"{result.rate:.0f}/s",
        "rate sent": f"{result.achieved_rps():.0f}/s",
        "p50": ms(percentile(lat, 0.5)),
        "p99": ms(percentile(lat, 0.99)),
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    fields = _read("/proc/meminfo").split()
    mem = f"{int(fields[1]) / 2**20:.0f} GiB RAM" if len(fields) > 1 else "? RAM"
    return f"{os.cpu_count()} cores ({cpu}), {mem}, {platform.system()} {platform.release()}"


def table(results: list[CaseResult]) -> str:
    rows = [
        "| case | requests | failed | verdict | figures |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for r in results:
        verdict = "pass" if r.passed else "FAIL: " + "; ".join(r.failures())
        figures = "; ".join(f"{k} {v}" for k, v in r.figures.items())
        rows.append(f"| {r.case} | {r.requests} | {r.failed} | {verdict} | {figures} |")
    return "\n".join(rows)


def document(results: list[CaseResult], notes: list[str]) -> str:
    """The table as the repository keeps it: the machine, not the run's date or commit."""
    lines = [
        "# Fault suite (`make faults`)",
        "",
        f"On {machine()}.",
        "",
        table(results),
        "",
        *[f"- {n}" for n in notes],
        "",
    ]
    return "\n".join(lines)
