"""The fault suite's key cases (bench/faults, `make faults`), shortened to fit `make test`:
each runs real processes under steady load and must meet the suite's criteria. The figures
each case measured are printed (pytest -s, or -ra on failure).

PostgreSQL stopped and restarted is test_database_down.py here (every route, faster); the
whole case under load is in `make faults`. kill -9 of a worker (its restart) is in
tests/platform/test_local_platform.py; under load, on the pool's shared port, in
`make faults` and tests/scaling/test_shared_port.py."""

from __future__ import annotations

import pytest

from bench.faults import platform_cases, replica_cases
from bench.faults.report import CaseResult, table

pytestmark = pytest.mark.e2e


def check(result: CaseResult) -> None:
    print("\n" + table([result]))
    assert result.passed, f"{result.failures()}: {result.figures}"


def test_redis_stopped_and_restarted() -> None:
    check(platform_cases.redis_outage(rate=100, outage_s=3))


def test_control_plane_killed_during_a_canary() -> None:
    """Inference unaffected; restarted, the control plane finishes the canary."""
    check(platform_cases.control_plane_killed(rate=100, down_s=2))


def test_overload_is_refused_with_retry_after() -> None:
    """At twice the measured capacity: 200 or 503 with Retry-After, nothing else; the
    admitted requests' p99 and the replica's memory stay bounded."""
    check(replica_cases.overload(probe_s=2, seconds=4))


def test_a_model_that_raises_or_hangs_fails_only_its_requests() -> None:
    check(replica_cases.bad_models(seconds=6))


def test_sigterm_completes_every_request_in_flight() -> None:
    check(replica_cases.sigterm(rate=200, before_s=1.5))


def test_sigterm_of_a_pool_worker_refuses_nothing() -> None:
    check(platform_cases.sigterm_worker())
