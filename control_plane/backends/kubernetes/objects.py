"""The Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget of one deployed
model, as plain dicts built by pure functions (the tests validate them against the schemas)."""

from __future__ import annotations

import hashlib
from typing import Any

from control_plane.backends.kubernetes.desired import DesiredModel, PodResources
from control_plane.backends.kubernetes.quantities import format_cpu, format_memory
from control_plane.backends.kubernetes.settings import KubernetesSettings
from control_plane.schemas import ScalingRules, ScalingSettings

Manifest = dict[str, Any]

FIELD_MANAGER = "pier"
MANAGED_BY = "pier"
APP_NAME = "pier-inference"
MODEL_LABEL = "pier.dev/model"
HTTP_PORT = 8080
SERVICE_PORT = 80
CACHE_DIR = "/var/cache/pier"
# The non-root user of docker/inference.Dockerfile.
RUN_AS = 10001


def object_name(model: str) -> str:
    """`pier-<model>`: a DNS-1035 label (a Service name) of at most 63 characters.

    Long names keep a hash of the full name, so two long names never collide.
    """
    name = f"pier-{model}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(model.encode()).hexdigest()[:8]
    return f"pier-{model[:48].rstrip('-')}-{digest}"


def selector_labels(model: str) -> dict[str, str]:
    """Immutable once a Deployment exists: never add to them."""
    return {"app.kubernetes.io/name": APP_NAME, MODEL_LABEL: model}


def labels(model: str) -> dict[str, str]:
    return {
        **selector_labels(model),
        "app.kubernetes.io/instance": object_name(model),
        "app.kubernetes.io/component": "inference",
        "app.kubernetes.io/part-of": "pier",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def managed_selector() -> str:
    """Label selector of every object this orchestrator owns."""
    return f"app.kubernetes.io/managed-by={MANAGED_BY},app.kubernetes.io/name={APP_NAME}"


def _metadata(model: str, settings: KubernetesSettings) -> Manifest:
    return {"name": object_name(model), "namespace": settings.namespace, "labels": labels(model)}


def _resources(res: PodResources, settings: KubernetesSettings) -> Manifest:
    """Requests from the versions' pier.yaml. Memory is also the limit (a replica that
    grows past it is restarted, not the node); no CPU limit, which would only throttle."""
    requests = {"cpu": format_cpu(res.cpu_millis), "memory": format_memory(res.memory_bytes)}
    limits = {"memory": requests["memory"]}
    if res.gpu:
        requests[settings.gpu_resource] = str(res.gpu)
        limits[settings.gpu_resource] = str(res.gpu)
    return {"requests": requests, "limits": limits}


def _env(model: DesiredModel, settings: KubernetesSettings) -> list[Manifest]:
    threads = max(1, model.resources.cpu_millis // 1000)
    secret = settings.secret_name
    return [
        {"name": "PIER_INFERENCE_HOST", "value": "0.0.0.0"},
        {"name": "PIER_INFERENCE_PORT", "value": str(HTTP_PORT)},
        {"name": "PIER_INFERENCE_CONTROL_PLANE_URL", "value": settings.control_plane_url},
        {
            "name": "PIER_INFERENCE_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": secret, "key": settings.token_key}},
        },
        {
            "name": "PIER_INFERENCE_REDIS_URL",
            "valueFrom": {
                "secretKeyRef": {"name": secret, "key": settings.redis_url_key, "optional": True}
            },
        },
        # The replica URL is built from it, in brackets when the pod's address is IPv6.
        {"name": "PIER_INFERENCE_POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "PIER_INFERENCE_CACHE_DIR", "value": CACHE_DIR},
        {"name": "PIER_INFERENCE_TORCH_THREADS", "value": str(threads)},
        # One model call at a time, on the pod's CPUs (above); requests that arrive during
        # it are gathered into the next. Left to the replica, the count would be every core
        # of the node (a pod's CPU affinity is the node's unless the kubelet pins CPUs),
        # each call with `threads` threads of its own.
        {"name": "PIER_INFERENCE_MODEL_THREADS", "value": "1"},
        # Named, not left to auto: a pod given GPUs fails at boot, with the reason, when its
        # image cannot use them (the CPU image, no driver), instead of serving on the CPU;
        # and a pod given none stays off a GPU its node's runtime may still expose to it
        # (CUDA images set NVIDIA_VISIBLE_DEVICES=all).
        {"name": "PIER_INFERENCE_DEVICE", "value": "cuda" if model.resources.gpu else "cpu"},
        # Which model this Deployment serves (see docs/kubernetes.md, "one model per
        # Deployment").
        {"name": "PIER_INFERENCE_MODELS", "value": model.name},
    ]


def _probe(path: str, period_s: int, failures: int, timeout_s: int = 2) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period_s,
        "timeoutSeconds": timeout_s,
        "failureThreshold": failures,
    }


def _container(model: DesiredModel, settings: KubernetesSettings) -> Manifest:
    image = settings.inference_image
    if model.resources.gpu and settings.inference_gpu_image:
        image = settings.inference_gpu_image
    container: Manifest = {
        "name": "inference",
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": _env(model, settings),
        "resources": _resources(model.resources, settings),
        # Ready = a routing table is applied, which happens only once every version it
        # names is fetched, verified, loaded and warm (docs/contract.md).
        "readinessProbe": _probe("/v2/health/ready", period_s=2, failures=2),
        # Shallow on purpose: a replica busy loading a large version is alive.
        "livenessProbe": _probe("/v2/health/live", period_s=10, failures=3, timeout_s=5),
        # Covers a slow first start (imports, first artifact download) before liveness.
        "startupProbe": _probe("/v2/health/live", period_s=2, failures=90),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "cache", "mountPath": CACHE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    if settings.prestop_s:
        # Endpoints drop a terminating pod asynchronously: keep serving meanwhile, then
        # SIGTERM lets uvicorn finish the requests in flight.
        container["lifecycle"] = {
            "preStop": {"exec": {"command": ["sleep", str(settings.prestop_s)]}}
        }
    return container


def _pod_spec(model: DesiredModel, settings: KubernetesSettings) -> Manifest:
    spec: Manifest = {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": settings.termination_grace_s,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(model, settings)],
        "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector_labels(model.name)},
            }
        ],
    }
    if settings.service_account:
        spec["serviceAccountName"] = settings.service_account
    if settings.image_pull_secret:
        spec["imagePullSecrets"] = [{"name": settings.image_pull_secret}]
    if settings.priority_class:
        spec["priorityClassName"] = settings.priority_class
    if model.resources.gpu:
        spec["tolerations"] = [
            {"key": settings.gpu_resource, "operator": "Exists", "effect": "NoSchedule"}
        ]
    return spec


def deployment(model: DesiredModel, settings: KubernetesSettings) -> Manifest:
    """No `replicas`: the HorizontalPodAutoscaler owns that field (server-side apply would
    otherwise reset it on every apply)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(model.name, settings),
        "spec": {
            "selector": {"matchLabels": selector_labels(model.name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "progressDeadlineSeconds": settings.progress_deadline_s,
            "revisionHistoryLimit": 5,
            "template": {
                "metadata": {"labels": labels(model.name)},
                "spec": _pod_spec(model, settings),
            },
        },
    }


def service(model: DesiredModel, settings: KubernetesSettings) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(model.name, settings),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(model.name),
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


# Pods metrics served to the HPA by a custom-metrics adapter (prometheus-adapter): the
# replicas' own gauge, and a per-pod rate of `pier_requests_total` (docs/kubernetes.md).
INFLIGHT_METRIC = "pier_inflight_requests"
RPS_METRIC = "pier_requests_per_second"


def _average_quantity(value: float) -> str:
    """A per-pod average as a Kubernetes quantity: whole numbers plain, else milli-units."""
    if float(value).is_integer():
        return str(int(value))
    return f"{max(1, round(value * 1000))}m"


def _hpa_metric(scaling: ScalingSettings) -> Manifest:
    if scaling.target_metric == "cpu":
        return {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {
                    "type": "Utilization",
                    "averageUtilization": scaling.target_cpu_utilization,
                },
            },
        }
    name = INFLIGHT_METRIC if scaling.target_metric == "inflight" else RPS_METRIC
    return {
        "type": "Pods",
        "pods": {
            "metric": {"name": name},
            "target": {"type": "AverageValue", "averageValue": _average_quantity(scaling.target)},
        },
    }


def _hpa_rules(rules: ScalingRules) -> Manifest:
    return {
        "stabilizationWindowSeconds": rules.stabilization_window_s,
        "selectPolicy": rules.select,
        "policies": [
            {"type": p.type, "value": p.value, "periodSeconds": p.period_s} for p in rules.policies
        ],
    }


def autoscaler(model: DesiredModel, settings: KubernetesSettings) -> Manifest:
    """The HPA from the same ScalingSettings as the local policy (orchestrators/scaling.py):
    same target, same windows, same rate policies, same bounds."""
    scaling = model.scaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(model.name, settings),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": object_name(model.name),
            },
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [_hpa_metric(scaling)],
            "behavior": {
                "scaleUp": _hpa_rules(scaling.scale_up),
                "scaleDown": _hpa_rules(scaling.scale_down),
            },
        },
    }


def disruption_budget(model: DesiredModel, settings: KubernetesSettings) -> Manifest:
    """At most one replica evicted at a time. maxUnavailable (not minAvailable) so that a
    single-replica model never blocks a node drain; unready pods may always be evicted."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(model.name, settings),
        "spec": {
            "selector": {"matchLabels": selector_labels(model.name)},
            "maxUnavailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def owned_by(obj: Manifest, deployment_name: str, deployment_uid: str) -> Manifest:
    """A copy of `obj` owned by the Deployment: deleting the Deployment (by Pier or by
    hand) lets Kubernetes' garbage collector remove it too."""
    meta = {
        **obj["metadata"],
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": deployment_name,
                "uid": deployment_uid,
                "controller": True,
            }
        ],
    }
    return {**obj, "metadata": meta}


def model_objects(model: DesiredModel, settings: KubernetesSettings) -> list[Manifest]:
    """Everything one model needs, the Deployment first (the others are owned by it)."""
    return [
        deployment(model, settings),
        service(model, settings),
        autoscaler(model, settings),
        disruption_budget(model, settings),
    ]
