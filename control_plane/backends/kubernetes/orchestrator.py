"""The `kubernetes` backend: the only module that imports the official client. Objects are
written by server-side apply (field manager `pier`); API errors become KubernetesError."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client, config

from control_plane.backends.kubernetes import objects as manifests
from control_plane.backends.kubernetes.desired import DesiredModel
from control_plane.backends.kubernetes.rollout_status import (
    Condition,
    DeploymentState,
    EventWarning,
    relevant_warnings,
    rollout_status,
)
from control_plane.backends.kubernetes.settings import KubernetesSettings
from control_plane.errors import KubernetesError, RolloutFailed
from control_plane.schemas import RolloutStatus

APPLY = "application/apply-patch+yaml"
USER_AGENT = "pier-control-plane"
_Verb = Callable[..., Any]

_HINTS = {
    401: "the credentials for the Kubernetes API were refused",
    403: "the ServiceAccount's Role does not allow this: see helm/pier/templates/rbac.yaml",
    409: "the object changed or exists already; the next reconcile retries",
    422: "Kubernetes found the object invalid",
}


def _status_of(e: client.ApiException) -> tuple[str, str]:
    """The Status object's reason and message, without its details (which may hold a
    server-side stack trace)."""
    reason, message = str(e.reason or ""), ""
    try:
        body = json.loads(e.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict):
        reason = str(body.get("reason") or reason)
        message = str(body.get("message") or "")
    return reason, " ".join(message.split())[:500]


def _error(what: str, e: Exception) -> KubernetesError:
    if isinstance(e, client.ApiException):
        status = int(e.status or 0)
        reason, message = _status_of(e)
        hint = _HINTS.get(status, "")
        text = f"Kubernetes refused to {what}: {status} {reason}"
        if message:
            text += f": {message}"
        if hint:
            text += f" ({hint})"
        return KubernetesError(text, k8s_status=status, reason=reason)
    return KubernetesError(
        f"the Kubernetes API did not answer when asked to {what}: {type(e).__name__}",
        k8s_status=0,
        reason="Unreachable",
    )


def _is_not_found(e: Exception) -> bool:
    return isinstance(e, client.ApiException) and e.status == 404


def _settings_client(settings: KubernetesSettings) -> client.ApiClient:
    """An API client from, in order: `api_url`, `kubeconfig`, in-cluster, ~/.kube/config."""
    cfg = client.Configuration()
    if settings.api_url:
        cfg.host = settings.api_url.rstrip("/")
    elif settings.kubeconfig:
        config.load_kube_config(
            config_file=settings.kubeconfig,
            context=settings.context or None,
            client_configuration=cfg,
            persist_config=False,
        )
    else:
        try:
            config.load_incluster_config(client_configuration=cfg)
        except config.ConfigException:
            config.load_kube_config(
                context=settings.context or None, client_configuration=cfg, persist_config=False
            )
    cfg.retries = 1
    api = client.ApiClient(cfg)
    # Shows in the API server's audit log who changed what.
    api.user_agent = USER_AGENT
    return api


class KubernetesOrchestrator:
    """Implements `Workloads` on a Kubernetes API (see base.py)."""

    def __init__(self, settings: KubernetesSettings, api: client.ApiClient) -> None:
        self._settings = settings
        self._ns = settings.namespace
        self._timeout = settings.request_timeout_s
        self._apps = client.AppsV1Api(api)
        self._core = client.CoreV1Api(api)
        self._autoscaling = client.AutoscalingV2Api(api)
        self._policy = client.PolicyV1Api(api)
        self._api = api

    @classmethod
    def connect(cls, settings: KubernetesSettings) -> KubernetesOrchestrator:
        try:
            api = _settings_client(settings)
        except config.ConfigException as e:
            raise KubernetesError(
                f"no Kubernetes configuration found ({e}): run in a cluster, or set "
                "PIER_K8S_KUBECONFIG",
                k8s_status=0,
                reason="NoConfig",
            ) from e
        return cls(settings, api)

    def close(self) -> None:
        self._api.close()

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, _request_timeout=self._timeout, **kwargs)
        except (client.ApiException, urllib3.exceptions.HTTPError, OSError) as e:
            raise _error(what, e) from e

    def _verbs(self, kind: str) -> tuple[_Verb, _Verb, _Verb]:
        """patch, create and delete for a kind this orchestrator writes."""
        verbs: dict[str, tuple[_Verb, _Verb, _Verb]] = {
            "Deployment": (
                self._apps.patch_namespaced_deployment,
                self._apps.create_namespaced_deployment,
                self._apps.delete_namespaced_deployment,
            ),
            "Service": (
                self._core.patch_namespaced_service,
                self._core.create_namespaced_service,
                self._core.delete_namespaced_service,
            ),
            "HorizontalPodAutoscaler": (
                self._autoscaling.patch_namespaced_horizontal_pod_autoscaler,
                self._autoscaling.create_namespaced_horizontal_pod_autoscaler,
                self._autoscaling.delete_namespaced_horizontal_pod_autoscaler,
            ),
            "PodDisruptionBudget": (
                self._policy.patch_namespaced_pod_disruption_budget,
                self._policy.create_namespaced_pod_disruption_budget,
                self._policy.delete_namespaced_pod_disruption_budget,
            ),
        }
        return verbs[kind]

    def _apply(self, obj: manifests.Manifest) -> Any:
        kind, name = obj["kind"], obj["metadata"]["name"]
        patch, create, _ = self._verbs(kind)
        what = f"apply {kind} {self._ns}/{name}"
        try:
            return patch(
                name,
                self._ns,
                obj,
                field_manager=manifests.FIELD_MANAGER,
                force=True,
                _content_type=APPLY,
                _request_timeout=self._timeout,
            )
        except client.ApiException as e:
            # A real API server creates the object on apply; some emulators answer 404.
            if e.status != 404:
                raise _error(what, e) from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise _error(what, e) from e
        return self._call(
            f"create {kind} {self._ns}/{name}",
            create,
            self._ns,
            obj,
            field_manager=manifests.FIELD_MANAGER,
        )

    def apply(self, model: DesiredModel) -> None:
        """The Deployment first; the Service, HPA and PDB then carry it as their owner."""
        dep, *others = manifests.model_objects(model, self._settings)
        applied = self._apply(dep)
        uid = applied.metadata.uid if applied.metadata is not None else None
        for obj in others:
            if uid:
                obj = manifests.owned_by(obj, dep["metadata"]["name"], uid)
            self._apply(obj)

    def delete(self, model: str) -> None:
        """Every object explicitly (the garbage collector would follow the owner
        references, but may lag): the model is gone when this returns."""
        name = manifests.object_name(model)
        for kind in ("Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"):
            _, _, delete = self._verbs(kind)
            try:
                delete(
                    name,
                    self._ns,
                    propagation_policy="Background",
                    _request_timeout=self._timeout,
                )
            except (client.ApiException, urllib3.exceptions.HTTPError, OSError) as e:
                if not _is_not_found(e):
                    raise _error(f"delete {kind} {self._ns}/{name}", e) from e

    def managed(self) -> list[str]:
        """Models with a Deployment carrying Pier's labels (checked here too, so a server
        that ignores the selector still never makes Pier touch someone else's workload)."""
        found = self._call(
            f"list Deployments in {self._ns}",
            self._apps.list_namespaced_deployment,
            self._ns,
            label_selector=manifests.managed_selector(),
        )
        names = []
        for item in found.items:
            labels = (item.metadata.labels if item.metadata else None) or {}
            model = labels.get(manifests.MODEL_LABEL)
            if (
                model
                and labels.get("app.kubernetes.io/managed-by") == manifests.MANAGED_BY
                and labels.get("app.kubernetes.io/name") == manifests.APP_NAME
            ):
                names.append(model)
        return sorted(set(names))

    def _state(self, name: str) -> DeploymentState | None:
        try:
            dep = self._apps.read_namespaced_deployment(
                name, self._ns, _request_timeout=self._timeout
            )
        except (client.ApiException, urllib3.exceptions.HTTPError, OSError) as e:
            if _is_not_found(e):
                return None
            raise _error(f"read Deployment {self._ns}/{name}", e) from e
        status = dep.status or client.V1DeploymentStatus()
        spec_replicas = dep.spec.replicas if dep.spec is not None else None
        return DeploymentState(
            generation=(dep.metadata.generation if dep.metadata else None) or 0,
            observed_generation=status.observed_generation or 0,
            desired=1 if spec_replicas is None else spec_replicas,
            replicas=status.replicas or 0,
            updated=status.updated_replicas or 0,
            ready=status.ready_replicas or 0,
            available=status.available_replicas or 0,
            conditions=[
                Condition(
                    type=c.type or "",
                    status=c.status or "",
                    reason=c.reason or "",
                    message=c.message or "",
                )
                for c in status.conditions or []
            ],
        )

    def _warnings(self, name: str) -> list[str]:
        events = self._call(
            f"list events in {self._ns}",
            self._core.list_namespaced_event,
            self._ns,
            field_selector="type=Warning",
        )
        found = [
            EventWarning(
                object_name=e.involved_object.name or "",
                reason=e.reason or "",
                message=e.message or "",
                at=e.last_timestamp
                or e.event_time
                or e.first_timestamp
                or (e.metadata.creation_timestamp if e.metadata else None),
            )
            for e in events.items
            if e.type == "Warning" and e.involved_object is not None
        ]
        return relevant_warnings(name, found)

    def rollout(self, model: str) -> RolloutStatus:
        name = manifests.object_name(model)
        state = self._state(name)
        status = rollout_status(model, name, state, [])
        if status.state in ("complete", "absent"):
            return status  # no need for events
        return rollout_status(model, name, state, self._warnings(name))

    def wait_for_rollout(
        self,
        model: str,
        timeout_s: float,
        *,
        poll_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RolloutStatus:
        """Until the rollout completes; RolloutFailed with Kubernetes' reason when it is
        stuck, or when `timeout_s` passes first."""
        deadline = clock() + timeout_s
        while True:
            status = self.rollout(model)
            if status.state == "complete":
                return status
            if status.state == "failed":
                raise RolloutFailed(status.message)
            if clock() >= deadline:
                raise RolloutFailed(
                    f"rollout of {model} not complete after {timeout_s:.0f} s: {status.message}"
                )
            sleep(poll_s)

    def endpoint(self, model: str) -> str:
        return f"http://{manifests.object_name(model)}.{self._ns}.svc:{manifests.SERVICE_PORT}"
