"""The pure parts: quantities, per-pod resources, names, manifests and rollout decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from control_plane.api.guards import replica_url_problem
from control_plane.backends.kubernetes import objects as manifests
from control_plane.backends.kubernetes.desired import DesiredModel, PodResources, pod_resources
from control_plane.backends.kubernetes.quantities import (
    cpu_millis,
    format_cpu,
    format_memory,
    memory_bytes,
)
from control_plane.backends.kubernetes.rollout_status import (
    Condition,
    DeploymentState,
    EventWarning,
    relevant_warnings,
    rollout_status,
)
from control_plane.backends.kubernetes.settings import KubernetesSettings
from control_plane.schemas import NAME_RE, Resources, ScalingSettings
from inference.settings import InferenceSettings
from tests.kubernetes.cluster import assert_valid


@pytest.mark.parametrize(
    ("text", "millis"), [("500m", 500), ("1", 1000), ("0.25", 250), ("2.5", 2500), ("64", 64000)]
)
def test_cpu_quantities(text: str, millis: int) -> None:
    assert cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("text", "n"),
    [("2Gi", 2 * 1024**3), ("512Mi", 512 * 1024**2), ("1G", 10**9), ("1.5Gi", 3 * 512 * 1024**2)],
)
def test_memory_quantities(text: str, n: int) -> None:
    assert memory_bytes(text) == n


@pytest.mark.parametrize("bad", ["", "two", "-1", "0", "1.5m", "1e3", "0.0001"])
def test_bad_cpu_says_what_is_expected(bad: str) -> None:
    with pytest.raises(ValueError, match="cpu"):
        cpu_millis(bad)


@pytest.mark.parametrize("bad", ["", "2GB", "lots", "0", "0.5"])
def test_bad_memory_says_what_is_expected(bad: str) -> None:
    with pytest.raises(ValueError, match="memory"):
        memory_bytes(bad)


def test_quantities_print_exactly() -> None:
    assert [format_cpu(m) for m in (1000, 1500, 250)] == ["1", "1500m", "250m"]
    assert format_memory(3 * 1024**3) == "3Gi"
    assert format_memory(1536 * 1024**2) == "1536Mi"
    assert format_memory(10**9) == "1000000000"


def test_a_pod_holds_every_loaded_version() -> None:
    got = pod_resources(
        [Resources(cpu="500m", memory="1Gi"), Resources(cpu="2", memory="512Mi", gpu=1)]
    )
    assert got == PodResources(cpu_millis=2000, memory_bytes=1536 * 1024**2, gpu=1)
    # A rollback swaps the order, not the set: the same pod.
    assert (
        pod_resources(
            [Resources(cpu="2", memory="512Mi", gpu=1), Resources(memory="1Gi", cpu="500m")]
        )
        == got
    )


def test_scaling_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="at least min_replicas"):
        ScalingSettings(min_replicas=4, max_replicas=2)
    with pytest.raises(ValidationError):
        ScalingSettings(target_cpu_utilization=0)


def test_settings_refuse_an_invalid_namespace() -> None:
    with pytest.raises(ValidationError, match="namespace 'Models_1'"):
        KubernetesSettings(namespace="Models_1")


@pytest.mark.parametrize("model", ["iris", "9lives", "a" * 63, "a" * 58 + "-" + "b" * 4])
def test_object_names_are_valid_service_names(model: str) -> None:
    name = manifests.object_name(model)
    assert len(name) <= 63 and NAME_RE.match(name) and name[0].isalpha()
    assert manifests.object_name(model) == name


def test_long_names_do_not_collide() -> None:
    assert manifests.object_name("a" * 62 + "b") != manifests.object_name("a" * 62 + "c")


def _model(gpu: int = 0, name: str = "iris") -> DesiredModel:
    return DesiredModel(
        name=name,
        resources=PodResources(cpu_millis=1500, memory_bytes=2 * 1024**3, gpu=gpu),
        scaling=ScalingSettings(min_replicas=2, max_replicas=5, target_cpu_utilization=60),
    )


SETTINGS = [
    KubernetesSettings(),
    KubernetesSettings(
        namespace="ml",
        image_pull_secret="ghcr",
        service_account="inference",
        priority_class="high",
        prestop_s=0,
        inference_gpu_image="ghcr.io/pier-dev/pier-inference:0.1.0-cuda",
    ),
]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("gpu", [0, 2])
def test_every_object_is_valid_for_kubernetes_1_29_to_1_33(
    settings: KubernetesSettings, gpu: int
) -> None:
    for obj in manifests.model_objects(_model(gpu, name="a" * 63), settings):
        assert_valid(obj)
        assert_valid(manifests.owned_by(obj, "pier-x", "0b7a1e9c-0000-4000-8000-000000000000"))


def test_gpu_models_get_gpus_the_gpu_image_and_a_toleration() -> None:
    dep = manifests.deployment(_model(gpu=2), SETTINGS[1])
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"].endswith("-cuda")
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert c["resources"]["requests"]["nvidia.com/gpu"] == "2"
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "lifecycle" not in c  # prestop_s=0
    # The replica runs its models on the GPU it was given, and stops if it cannot.
    assert {"name": "PIER_INFERENCE_DEVICE", "value": "cuda"} in c["env"]
    cpu_only = manifests.deployment(_model(gpu=0), SETTINGS[1])["spec"]["template"]["spec"]
    assert "tolerations" not in cpu_only
    assert not cpu_only["containers"][0]["image"].endswith("-cuda")
    assert {"name": "PIER_INFERENCE_DEVICE", "value": "cpu"} in cpu_only["containers"][0]["env"]


def _state(**kw: object) -> DeploymentState:
    base: dict[str, object] = {
        "generation": 2,
        "observed_generation": 2,
        "desired": 2,
        "replicas": 2,
        "updated": 2,
        "ready": 2,
        "available": 2,
    }
    base.update(kw)
    return DeploymentState(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "kind", "message"),
    [
        (None, "absent", "no Deployment pier-iris on the cluster (yet)"),
        (_state(observed_generation=1), "progressing", "waiting for the Deployment controller"),
        (_state(updated=1), "progressing", "1 of 2 replicas updated"),
        (_state(replicas=3), "progressing", "1 old replica(s) finishing their requests"),
        (_state(available=1), "progressing", "1 of 2 updated replicas available"),
        (_state(), "complete", "2 of 2 replicas available"),
        (
            _state(
                conditions=[
                    Condition("Progressing", "False", "ProgressDeadlineExceeded", "timed out")
                ]
            ),
            "failed",
            "rollout of pier-iris is stuck: timed out",
        ),
        (
            _state(
                updated=0,
                conditions=[Condition("ReplicaFailure", "True", "FailedCreate", "quota")],
            ),
            "failed",
            "pier-iris cannot create pods: quota",
        ),
    ],
)
def test_rollout_decisions(state: DeploymentState | None, kind: str, message: str) -> None:
    got = rollout_status("iris", "pier-iris", state, [])
    assert got.state == kind
    assert got.message.startswith(message)


def test_warnings_are_the_deployments_own_newest_first_once_per_reason() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        EventWarning("pier-iris-7d9f8b6c4d-x2z5q", "FailedScheduling", "old", t),
        EventWarning("pier-iris-7d9f8b6c4d-x2z5q", "FailedScheduling", "new", t + timedelta(1)),
        EventWarning("pier-iris-7d9f8b6c4d", "FailedCreate", "quota  exceeded", t),
        EventWarning("pier-iris-canary-7d9f8b6c4d-x2z5q", "BackOff", "not ours", t),
        EventWarning("pier-irisx", "BackOff", "not ours", t),
    ]
    assert relevant_warnings("pier-iris", events) == [
        "FailedScheduling: new",
        "FailedCreate: quota exceeded",
    ]


def _replica_settings(pod_ip: str, monkeypatch: pytest.MonkeyPatch) -> InferenceSettings:
    """What a replica reads from the environment the pod's container gets, the pod's
    address filled in as the kubelet would (the Secret's values left out)."""
    dep = manifests.deployment(_model(), SETTINGS[0])
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        elif var["valueFrom"].get("fieldRef", {}).get("fieldPath") == "status.podIP":
            env[var["name"]] = pod_ip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return InferenceSettings()


@pytest.mark.parametrize(
    ("pod_ip", "bind", "url"),
    [
        ("10.244.1.7", "0.0.0.0", "http://10.244.1.7:8080"),
        ("240.0.12.7", "0.0.0.0", "http://240.0.12.7:8080"),  # class E, on some managed clusters
        ("fd00:10:244::7", "::", "http://[fd00:10:244::7]:8080"),
    ],
)
def test_a_replica_binds_and_reports_its_pods_address_in_either_family(
    pod_ip: str, bind: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _replica_settings(pod_ip, monkeypatch)
    assert settings.host == bind
    assert settings.advertised_url == url
    assert replica_url_problem(url) is None  # and the control plane takes that URL
