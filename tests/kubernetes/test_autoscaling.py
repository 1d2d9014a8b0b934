"""The HorizontalPodAutoscaler says what the local scaling policy does: same target, same
windows, same rate policies, same bounds. Schema-valid for 1.29-1.33, and applied over HTTP
to the emulator. (The HPA actually scaling is what the kind e2e job can show, not this.)"""

from __future__ import annotations

import pytest

from control_plane.backends.kubernetes import objects as manifests
from control_plane.backends.kubernetes.desired import DesiredModel, PodResources
from control_plane.backends.kubernetes.reconciler import Reconciler
from control_plane.backends.kubernetes.settings import KubernetesSettings
from control_plane.schemas import ScalingRate, ScalingRules, ScalingSettings
from tests.kubernetes.cluster import Cluster, assert_valid
from tests.kubernetes.conftest import NAMESPACE, DesiredState

SLOW_DOWN = ScalingRules(
    stabilization_window_s=600,
    policies=(
        ScalingRate(type="Pods", value=1, period_s=60),
        ScalingRate(type="Percent", value=10, period_s=120),
    ),
    select="Min",
)
NO_UP = ScalingRules(
    stabilization_window_s=30,
    policies=(ScalingRate(type="Pods", value=2, period_s=15),),
    select="Disabled",
)

CASES = {
    "cpu, defaults": ScalingSettings(),
    "inflight 8": ScalingSettings(target_metric="inflight", target_value=8, max_replicas=4),
    "inflight 0.5, slow down": ScalingSettings(
        target_metric="inflight", target_value=0.5, scale_down=SLOW_DOWN
    ),
    "rps 120.25, up disabled": ScalingSettings(
        target_metric="rps", target_value=120.25, scale_up=NO_UP
    ),
}


def _hpa(scaling: ScalingSettings) -> manifests.Manifest:
    model = DesiredModel("iris", PodResources(1000, 1024**3), scaling)
    return manifests.autoscaler(model, KubernetesSettings())


@pytest.mark.parametrize("scaling", CASES.values(), ids=CASES.keys())
def test_every_autoscaler_is_valid_for_kubernetes_1_29_to_1_33(scaling: ScalingSettings) -> None:
    assert_valid(_hpa(scaling))


@pytest.mark.parametrize("scaling", CASES.values(), ids=CASES.keys())
def test_the_behaviour_is_the_settings_own(scaling: ScalingSettings) -> None:
    spec = _hpa(scaling)["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (
        scaling.min_replicas,
        scaling.max_replicas,
    )
    for key, rules in (("scaleUp", scaling.scale_up), ("scaleDown", scaling.scale_down)):
        got = spec["behavior"][key]
        assert got["stabilizationWindowSeconds"] == rules.stabilization_window_s
        assert got["selectPolicy"] == rules.select
        assert [(p["type"], p["value"], p["periodSeconds"]) for p in got["policies"]] == [
            (p.type, p.value, p.period_s) for p in rules.policies
        ]


@pytest.mark.parametrize(
    ("scaling", "metric"),
    [
        (CASES["cpu, defaults"], {"type": "Resource", "name": "cpu", "target": "70"}),
        (
            CASES["inflight 8"],
            {"type": "Pods", "name": "pier_inflight_requests", "target": "8"},
        ),
        (
            CASES["inflight 0.5, slow down"],
            {"type": "Pods", "name": "pier_inflight_requests", "target": "500m"},
        ),
        (
            CASES["rps 120.25, up disabled"],
            {"type": "Pods", "name": "pier_requests_per_second", "target": "120250m"},
        ),
    ],
)
def test_the_target_is_the_settings_own(scaling: ScalingSettings, metric: dict[str, str]) -> None:
    (m,) = _hpa(scaling)["spec"]["metrics"]
    if m["type"] == "Resource":
        got = {
            "type": "Resource",
            "name": m["resource"]["name"],
            "target": str(m["resource"]["target"]["averageUtilization"]),
        }
    else:
        got = {
            "type": "Pods",
            "name": m["pods"]["metric"]["name"],
            "target": m["pods"]["target"]["averageValue"],
        }
    assert got == metric


def test_a_change_of_target_or_window_reaches_the_cluster_and_leaves_pods_alone(
    cluster: Cluster, reconciler: Reconciler, state: DesiredState
) -> None:
    state.deploy("iris", {"v1": 100}, ["v1"])
    reconciler.reconcile_once()
    template = cluster.apps.read_namespaced_deployment("pier-iris", NAMESPACE).spec.template

    state.scaling["iris"] = CASES["inflight 0.5, slow down"]
    assert reconciler.reconcile_once().applied == ["iris"]

    hpa = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler("pier-iris", NAMESPACE)
    (metric,) = hpa.spec.metrics
    assert metric.type == "Pods" and metric.pods.metric.name == "pier_inflight_requests"
    assert metric.pods.target.average_value == "500m"
    down = hpa.spec.behavior.scale_down
    assert (down.stabilization_window_seconds, down.select_policy) == (600, "Min")
    assert [(p.type, p.value, p.period_seconds) for p in down.policies] == [
        ("Pods", 1, 60),
        ("Percent", 10, 120),
    ]
    after = cluster.apps.read_namespaced_deployment("pier-iris", NAMESPACE).spec.template
    assert after == template
