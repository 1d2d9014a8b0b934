"""The kubernetes orchestrator's life cycle, through the official client over HTTP, against
kmock's emulator. Where the code reads status, the test plays the Deployment controller.

What this cannot show (a real rollout converging, the HPA scaling, the Role being
enough) is what .github/workflows/e2e.yml shows on a kind cluster.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from control_plane.backends.kubernetes.orchestrator import KubernetesOrchestrator
from control_plane.backends.kubernetes.reconciler import Reconciler
from control_plane.backends.kubernetes.settings import KubernetesSettings
from control_plane.errors import KubernetesError, RolloutFailed, http_status
from control_plane.schemas import Resources, RolloutStatus, ScalingSettings
from tests.kubernetes.cluster import Cluster
from tests.kubernetes.conftest import NAMESPACE, Clock, DesiredState
from tests.support.servers import free_port, wait_until

NAME = "pier-iris"


def objects(cluster: Cluster, name: str = NAME) -> dict[str, Any]:
    """The four objects as the API server holds them (read back over HTTP)."""
    return {
        "deployment": cluster.apps.read_namespaced_deployment(name, NAMESPACE),
        "service": cluster.core.read_namespaced_service(name, NAMESPACE),
        "hpa": cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler(name, NAMESPACE),
        "pdb": cluster.policy.read_namespaced_pod_disruption_budget(name, NAMESPACE),
    }


def template(cluster: Cluster) -> dict[str, Any]:
    dep = cluster.apps.read_namespaced_deployment(NAME, NAMESPACE)
    return dict(dep.spec.template.to_dict())


def test_a_deploy_creates_deployment_service_autoscaler_and_budget(
    cluster: Cluster, reconciler: Reconciler, state: DesiredState
) -> None:
    state.resources["iris"] = {"v1": Resources(cpu="500m", memory="1Gi")}
    state.deploy("iris", {"v1": 100}, ["v1"])

    report = reconciler.reconcile_once()

    assert report.applied == ["iris"] and not report.errors
    got = objects(cluster)
    dep = got["deployment"]
    for obj in got.values():
        labels = obj.metadata.labels
        assert labels["app.kubernetes.io/managed-by"] == "pier"
        assert labels["app.kubernetes.io/name"] == "pier-inference"
        assert labels["pier.dev/model"] == "iris"
    # Deleting the Deployment (by Pier or by hand) takes the others with it.
    for key in ("service", "hpa", "pdb"):
        (owner,) = got[key].metadata.owner_references
        assert (owner.kind, owner.name, owner.uid) == ("Deployment", NAME, dep.metadata.uid)

    spec = dep.spec
    assert spec.replicas is None  # the HPA owns it
    assert spec.strategy.rolling_update.max_unavailable == 0
    pod = spec.template.spec
    (c,) = pod.containers
    assert c.image == "ghcr.io/pier-dev/pier-inference:test"
    assert c.resources.requests == {"cpu": "500m", "memory": "1Gi"}
    assert c.resources.limits == {"memory": "1Gi"}
    assert c.readiness_probe.http_get.path == "/v2/health/ready"
    assert c.liveness_probe.http_get.path == "/v2/health/live"
    assert c.lifecycle.pre_stop._exec.command == ["sleep", "10"]
    assert pod.termination_grace_period_seconds == 45
    env = {e.name: e for e in c.env}
    assert env["PIER_INFERENCE_CONTROL_PLANE_URL"].value == "http://pier.pier.svc:3000"
    assert env["PIER_INFERENCE_HOST"].value == "0.0.0.0"
    assert env["PIER_INFERENCE_TOKEN"].value is None  # from the Secret, never inline
    assert env["PIER_INFERENCE_TOKEN"].value_from.secret_key_ref.name == "pier"
    assert c.security_context.read_only_root_filesystem is True
    assert pod.security_context.run_as_non_root is True
    # Nothing about versions or weights in the pod template.
    assert "v1" not in str(spec.template.to_dict())

    hpa = got["hpa"].spec
    assert (hpa.min_replicas, hpa.max_replicas) == (1, 3)
    assert hpa.metrics[0].resource.target.average_utilization == 70
    assert hpa.scale_target_ref.name == NAME
    assert got["service"].spec.ports[0].target_port == "http"
    assert got["pdb"].spec.max_unavailable == 1

    # Server-side apply with field manager pier (the emulator answers 404 to an apply on a
    # missing object, where a real server creates it: the orchestrator then creates).
    applies = cluster.sent("PATCH", "deployments", NAME)
    assert applies and applies[0].params == {"fieldManager": "pier", "force": "true"}
    assert applies[0].headers["Content-Type"] == "application/apply-patch+yaml"


def test_weight_changes_and_rollbacks_do_not_touch_the_pods(
    cluster: Cluster, reconciler: Reconciler, state: DesiredState, clock: Clock
) -> None:
    state.resources["iris"] = {"v1": Resources(), "v2": Resources()}
    state.deploy("iris", {"v1": 100}, ["v1"])
    reconciler.reconcile_once()
    state.deploy("iris", {"v2": 100}, ["v2", "v1"])
    reconciler.reconcile_once()  # one version more loaded: memory for both
    before = template(cluster)
    writes = len(cluster.sent("PATCH", "deployments", NAME))

    state.deploy("iris", {"v2": 90, "v1": 10}, ["v2", "v1"])  # a canary split
    assert reconciler.reconcile_once().unchanged == ["iris"]
    state.deploy("iris", {"v1": 100}, ["v1", "v2"])  # rollback to a loaded version
    assert reconciler.reconcile_once().unchanged == ["iris"]
    assert len(cluster.sent("PATCH", "deployments", NAME)) == writes

    # The periodic resync re-applies, and still changes nothing in the pod template.
    clock.now += 301
    assert reconciler.reconcile_once().applied == ["iris"]
    assert template(cluster) == before
    assert cluster.apps.read_namespaced_deployment(NAME, NAMESPACE).metadata.generation == 2


def test_changing_resources_rolls_the_pods(
    cluster: Cluster, reconciler: Reconciler, state: DesiredState
) -> None:
    state.resources["iris"] = {"v1": Resources(cpu="1", memory="1Gi")}
    state.deploy("iris", {"v1": 100}, ["v1"])
    reconciler.reconcile_once()
    generation = cluster.apps.read_namespaced_deployment(NAME, NAMESPACE).metadata.generation

    # v2 needs more: its pods hold v1 (kept warm for rollback) and v2.
    state.resources["iris"]["v2"] = Resources(cpu="2500m", memory="3Gi", gpu=0)
    state.deploy("iris", {"v2": 100}, ["v2", "v1"])
    assert reconciler.reconcile_once().applied == ["iris"]

    dep = cluster.apps.read_namespaced_deployment(NAME, NAMESPACE)
    (c,) = dep.spec.template.spec.containers
    assert c.resources.requests == {"cpu": "2500m", "memory": "4Gi"}
    assert c.resources.limits == {"memory": "4Gi"}
    env = {e.name: e.value for e in c.env}
    assert env["PIER_INFERENCE_TORCH_THREADS"] == "2"
    # One call at a time on the pod's CPUs, whatever the node's core count.
    assert env["PIER_INFERENCE_MODEL_THREADS"] == "1"
    assert dep.metadata.generation == generation + 1


def test_scale_settings_change_only_the_autoscaler(
    cluster: Cluster, reconciler: Reconciler, state: DesiredState
) -> None:
    state.deploy("iris", {"v1": 100}, ["v1"])
    reconciler.reconcile_once()
    before = template(cluster)

    state.scaling["iris"] = ScalingSettings(
        min_replicas=2, max_replicas=10, target_cpu_utilization=50
    )
    assert reconciler.reconcile_once().applied == ["iris"]

    hpa = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler(NAME, NAMESPACE).spec
    assert (hpa.min_replicas, hpa.max_replicas) == (2, 10)
    assert hpa.metrics[0].resource.target.average_utilization == 50
    assert template(cluster) == before


def test_undeploying_removes_every_object_and_nothing_else(
    cluster: Cluster, reconciler: Reconciler, state: DesiredState
) -> None:
    state.deploy("iris", {"v1": 100}, ["v1"])
    state.deploy("digits", {"v3": 100}, ["v3"])
    reconciler.reconcile_once()
    # Someone else's Deployment in the same namespace: Pier must never touch it.
    cluster.apps.create_namespaced_deployment(
        NAMESPACE,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "pier-web", "labels": {"app": "web"}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        },
    )

    state.undeploy("iris")
    report = reconciler.reconcile_once()

    assert report.deleted == ["iris"]
    remaining = {d.metadata.name for d in cluster.apps.list_namespaced_deployment(NAMESPACE).items}
    assert remaining == {"pier-digits", "pier-web"}
    assert [s.metadata.name for s in cluster.core.list_namespaced_service(NAMESPACE).items] == [
        "pier-digits"
    ]
    hpas = cluster.autoscaling.list_namespaced_horizontal_pod_autoscaler(NAMESPACE).items
    assert [h.metadata.name for h in hpas] == ["pier-digits"]
    pdbs = cluster.policy.list_namespaced_pod_disruption_budget(NAMESPACE).items
    assert [p.metadata.name for p in pdbs] == ["pier-digits"]


def test_when_the_desired_state_cannot_be_read_nothing_is_deleted(
    cluster: Cluster, reconciler: Reconciler, state: DesiredState
) -> None:
    state.deploy("iris", {"v1": 100}, ["v1"])
    reconciler.reconcile_once()
    state.unavailable = True

    report = reconciler.reconcile_once()

    assert "database is down" in report.errors["*"]
    assert report.deleted == []
    assert cluster.apps.read_namespaced_deployment(NAME, NAMESPACE).metadata.name == NAME


def _rolling(cluster: Cluster, **status: Any) -> None:
    cluster.write_deployment_status(NAMESPACE, NAME, status)


def test_rollout_progress_is_read_from_the_deployment_status(
    cluster: Cluster,
    orchestrator: KubernetesOrchestrator,
    reconciler: Reconciler,
    state: DesiredState,
) -> None:
    state.scaling["iris"] = ScalingSettings(min_replicas=2, max_replicas=4)
    state.deploy("iris", {"v1": 100}, ["v1"])
    reconciler.reconcile_once()
    # The HPA sets spec.replicas; the controller then reports, step by step.
    cluster.apps.patch_namespaced_deployment(NAME, NAMESPACE, {"spec": {"replicas": 2}})
    assert orchestrator.rollout("iris").message.startswith("waiting for the Deployment")

    done: list[RolloutStatus] = []
    waiter = threading.Thread(
        target=lambda: done.append(orchestrator.wait_for_rollout("iris", 60, poll_s=0.02))
    )
    waiter.start()
    _rolling(cluster, observedGeneration=2, replicas=2, updatedReplicas=1, readyReplicas=1)
    status = wait_until(lambda: (s := orchestrator.rollout("iris")).updated == 1 and s)
    assert (status.state, status.message) == ("progressing", "1 of 2 replicas updated")
    _rolling(cluster, observedGeneration=2, replicas=3, updatedReplicas=2, readyReplicas=2)
    assert "old replica" in orchestrator.rollout("iris").message
    _rolling(
        cluster,
        observedGeneration=2,
        replicas=2,
        updatedReplicas=2,
        readyReplicas=2,
        availableReplicas=2,
        conditions=[{"type": "Available", "status": "True"}],
    )
    waiter.join(timeout=30)
    assert done and done[0].state == "complete"
    assert done[0].message == "2 of 2 replicas available"
    assert reconciler.reconcile_once().rollouts[0].state == "complete"
    (replica,) = reconciler.replicas()
    assert (replica.state, replica.url) == ("running", f"http://{NAME}.{NAMESPACE}.svc:80")


def test_a_stuck_rollout_fails_with_the_reason_from_kubernetes_events(
    cluster: Cluster,
    orchestrator: KubernetesOrchestrator,
    reconciler: Reconciler,
    state: DesiredState,
) -> None:
    state.resources["iris"] = {"v1": Resources(cpu="64", memory="1Gi")}
    state.deploy("iris", {"v1": 100}, ["v1"])
    reconciler.reconcile_once()
    pod = f"{NAME}-7d9f8b6c4d-x2z5q"
    cluster.warn(
        NAMESPACE, pod, "Pod", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu."
    )
    # The same reason for a model whose name starts alike is not ours.
    cluster.warn(NAMESPACE, "pier-iris-canary-5b6c7d8f9g-q2w4r", "Pod", "BackOff", "not ours")
    _rolling(
        cluster,
        observedGeneration=1,
        replicas=1,
        updatedReplicas=1,
        unavailableReplicas=1,
        conditions=[
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": f'ReplicaSet "{NAME}-7d9f8b6c4d" has timed out progressing.',
            }
        ],
    )

    status = orchestrator.rollout("iris")

    assert status.state == "failed"
    assert status.reasons == ["FailedScheduling: 0/3 nodes are available: 3 Insufficient cpu."]
    assert "timed out progressing" in status.message and "Insufficient cpu" in status.message
    with pytest.raises(RolloutFailed, match="Insufficient cpu") as failed:
        orchestrator.wait_for_rollout("iris", 5)
    assert http_status(failed.value) == 502
    reconciler.reconcile_once()
    (replica,) = reconciler.replicas()
    assert replica.state == "restarting"


@pytest.mark.parametrize(
    ("method", "plural", "status", "reason", "message"),
    [
        (
            "PATCH",
            "deployments",
            403,
            "Forbidden",
            'deployments.apps "pier-iris" is forbidden: User '
            '"system:serviceaccount:pier:pier" cannot patch resource "deployments"',
        ),
        (
            "PATCH",
            "horizontalpodautoscalers",
            422,
            "Invalid",
            'HorizontalPodAutoscaler "pier-iris" is invalid: spec.maxReplicas: Invalid value',
        ),
        (
            "PATCH",
            "services",
            409,
            "Conflict",
            'Operation cannot be fulfilled on services "pier-iris"',
        ),
    ],
)
def test_api_errors_become_pier_errors_with_status_and_reason(
    cluster: Cluster,
    orchestrator: KubernetesOrchestrator,
    reconciler: Reconciler,
    state: DesiredState,
    method: str,
    plural: str,
    status: int,
    reason: str,
    message: str,
) -> None:
    cluster.emulator.refusals[(method, plural)] = (status, reason, message)
    state.deploy("iris", {"v1": 100}, ["v1"])

    report = reconciler.reconcile_once()

    assert report.applied == []
    text = report.errors["iris"]
    assert f"{status} {reason}: {message}" in text
    assert "Traceback" not in text and "traceback" not in text
    with pytest.raises(KubernetesError) as caught:
        orchestrator.apply(state()[0])
    assert (caught.value.k8s_status, caught.value.reason) == (status, reason)
    assert http_status(caught.value) == 502
    # Once Kubernetes accepts again, the next pass catches up.
    cluster.emulator.refusals.clear()
    assert reconciler.reconcile_once().applied == ["iris"]


def test_an_unreachable_api_is_a_clear_error(settings: KubernetesSettings) -> None:
    down = KubernetesSettings(
        **{**settings.model_dump(), "api_url": f"http://127.0.0.1:{free_port()}"}
    )
    orch = KubernetesOrchestrator.connect(down)
    try:
        with pytest.raises(KubernetesError, match="did not answer") as caught:
            orch.managed()
        assert caught.value.k8s_status == 0
    finally:
        orch.close()


def test_the_reconciler_thread_applies_on_wake(
    cluster: Cluster, orchestrator: KubernetesOrchestrator, state: DesiredState
) -> None:
    runner = Reconciler(orchestrator, state, interval_s=3600)
    runner.start()
    try:
        state.deploy("iris", {"v1": 100}, ["v1"])
        runner.wake()
        wait_until(lambda: cluster.apps.list_namespaced_deployment(NAMESPACE).items, timeout=10)
        state.undeploy("iris")
        runner.wake()
        wait_until(lambda: not cluster.apps.list_namespaced_deployment(NAMESPACE).items, timeout=10)
    finally:
        runner.stop()
