"""Attack group 6, fuzzed: schemathesis against both services' OpenAPI schemas, every
phase (examples, coverage, fuzzing, stateful), negative data included, bounded in examples
and time. The check is `not_a_server_error`: a 5xx on any generated request fails the test.
Each run prints the number of cases it sent and the 5xx it found.

The control plane is fuzzed with an admin token, so every operation runs past its auth
check, except revoking tokens, which would revoke the fuzzer's own token and leave the rest
of the run answered 401 (test_route_auth covers that route).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.security.conftest import Plane

MAX_EXAMPLES = 12
# Seconds per service; raise PIER_FUZZ_SECONDS for a longer hunt than `make test` affords.
MAX_TIME_S = int(os.environ.get("PIER_FUZZ_SECONDS", "25"))


def fuzz(openapi_url: str, report_dir: Path, *extra: str) -> tuple[int, Counter[int], str]:
    """Run schemathesis; return (cases sent, answers by status, its output)."""
    st = Path(sys.executable).parent / "st"
    cmd = [
        str(st),
        "run",
        openapi_url,
        "--checks",
        "not_a_server_error",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_TIME_S),
        "--workers",
        "1",
        "--seed",
        "20261127",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "har",
        "--report-har-path",
        str(report_dir / "run.har"),
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_TIME_S * 4, check=False)
    har = json.loads((report_dir / "run.har").read_text())
    statuses = Counter(int(e["response"]["status"]) for e in har["log"]["entries"])
    return sum(statuses.values()), statuses, proc.stdout + proc.stderr


def _report(name: str, cases: int, statuses: Counter[int], output: str) -> None:
    errors = sum(n for s, n in statuses.items() if s >= 500)
    print(f"{name}: {cases} cases, {errors} 5xx; by status {dict(sorted(statuses.items()))}")
    assert cases > 50, output[-3000:]
    assert errors == 0, output[-6000:]


def test_fuzz_the_control_plane(plane: Plane, tmp_path: Path) -> None:
    cases, statuses, output = fuzz(
        f"{plane.url}/api/v1/openapi.json",
        tmp_path,
        "--header",
        f"Authorization: Bearer {plane.tokens['admin']}",
        "--exclude-method",
        "DELETE",
        "--output-sanitize",
        "true",
    )
    _report("control plane", cases, statuses, output)


def test_fuzz_the_inference_service(inference_url: str, tmp_path: Path) -> None:
    cases, statuses, output = fuzz(f"{inference_url}/openapi.json", tmp_path)
    _report("inference", cases, statuses, output)
