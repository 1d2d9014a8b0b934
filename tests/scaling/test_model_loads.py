"""Each model's own load on shared local workers, and no worker beyond the cores: the
pure rules behind the local autoscaler."""

from __future__ import annotations

from datetime import UTC, datetime

from control_plane.backends.local.autoscaler import combine, replica_loads
from control_plane.backends.local.load import ModelLoad, loads_between, read_totals
from control_plane.backends.local.pool import WorkerSample
from control_plane.domain.scaling import ScalingDecision, decide
from control_plane.schemas import ScalingSettings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def exposition(iris: tuple[float, float, float], fraud: tuple[float, float, float]) -> str:
    """A worker's /metrics text: (requests, request seconds, model seconds) per model."""
    lines = []
    for model, (requests, busy, in_model) in (("iris", iris), ("fraud", fraud)):
        half = requests / 2
        lines += [
            f'pier_requests_total{{model="{model}",version="v1",code="200"}} {half}',
            f'pier_requests_total{{model="{model}",version="v2",code="422"}} {half}',
            f'pier_request_duration_seconds_sum{{model="{model}",version="v1"}} {busy}',
            f'pier_model_inference_seconds_sum{{model="{model}",version="v1"}} {in_model}',
        ]
    return "\n".join(lines) + "\n"


def test_each_model_gets_its_own_inflight_rps_and_share_of_the_cpu() -> None:
    before = read_totals(exposition(iris=(100, 1.0, 0.5), fraud=(10, 0.1, 0.1)))
    after = read_totals(exposition(iris=(600, 11.0, 8.5), fraud=(20, 0.2, 0.6)))
    assert before["iris"].requests == 100  # summed over versions and codes
    loads = loads_between(before, after, span_s=5.0)
    assert loads["iris"].rps == 100 and loads["fraud"].rps == 2
    assert loads["iris"].inflight == 2.0  # 10 request-seconds in 5 s: 2 in flight on average
    assert abs(loads["iris"].cpu_share - 8 / 8.5) < 1e-9
    assert abs(loads["fraud"].cpu_share - 0.5 / 8.5) < 1e-9
    # A restarted worker's counters start again from zero: never a negative load.
    restarted = loads_between(after, read_totals(exposition((5, 0.1, 0.1), (0, 0, 0))), 5.0)
    assert restarted["iris"].rps == 1.0 and restarted["fraud"].rps == 0


def test_an_idle_models_policy_does_not_read_the_busy_ones_cpu() -> None:
    busy = {"fraud": ModelLoad(inflight=6.0, rps=300.0, cpu_share=1.0)}
    samples = [WorkerSample(f"w{i}", True, busy, cpu_percent=95.0) for i in range(3)]
    settings = ScalingSettings()  # CPU target, the defaults an idle model keeps
    iris = replica_loads(samples, "iris")
    assert all(r.cpu == 0 and r.inflight == 0 and r.rps == 0 for r in iris)
    fraud = replica_loads(samples, "fraud")
    assert all(r.cpu == 95.0 and r.inflight == 6.0 for r in fraud)
    # The idle model asks for its minimum; the busy one for more.
    assert decide(now=NOW, current=3, loads=iris, settings=settings).desired == 1
    assert decide(now=NOW, current=3, loads=fraud, settings=settings).desired == 3
    # A worker not sampled yet is "no sample", not zero load.
    (unsampled,) = replica_loads([WorkerSample("w9", True, None, cpu_percent=None)], "iris")
    assert unsampled.cpu is None and unsampled.inflight is None


def test_no_worker_beyond_the_cores_and_the_reason_says_so() -> None:
    asked = {"iris": ScalingDecision(3, "scale up 1 -> 3: inflight 7 per replica vs target 2")}
    desired, changes = combine(asked, current=1, now=NOW, cores=2)
    assert desired == 2
    (change,) = changes
    assert (change.before, change.after) == (1, 2)
    assert change.reason.startswith("scale up 1 -> 2, not 3: the workers would use more than")
    assert "2 cores this machine gives them" in change.reason
    assert "inflight 7 per replica" in change.reason
    # At the cores already: the count holds, and the reason is recorded.
    again = {"iris": ScalingDecision(3, "scale up 2 -> 3: inflight 5 per replica vs target 2")}
    desired, changes = combine(again, current=2, now=NOW, cores=2)
    assert desired == 2
    assert [(c.before, c.after) for c in changes] == [(2, 2)]
    assert changes[0].reason.startswith("hold at 2, not 3:")
    # Within the cores nothing changes; scaling down is never held.
    assert combine(asked, current=1, now=NOW, cores=4)[0] == 3
    down = {"iris": ScalingDecision(1, "scale down 3 -> 1")}
    assert combine(down, current=3, now=NOW, cores=2)[0] == 1
