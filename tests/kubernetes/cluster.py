"""kmock's Kubernetes emulator, served over real HTTP from a thread, for the official client.

kmock keeps objects and answers like an API server, but it runs no controllers and sets
no server fields. This subclass sets the few that Pier reads (uid, generation,
creationTimestamp), and can refuse a verb the way RBAC or validation would. Everything
else the tests need from a controller (Deployment status, events) they write themselves,
through the official client, as a controller would.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp.web
import attrs
import kmock
import kubernetes_validate
from kubernetes import client

from control_plane.backends.kubernetes.orchestrator import USER_AGENT

KINDS = {
    "deployments": (client.V1Deployment, "Deployment"),
    "services": (client.V1Service, "Service"),
    "horizontalpodautoscalers": (client.V2HorizontalPodAutoscaler, "HorizontalPodAutoscaler"),
    "poddisruptionbudgets": (client.V1PodDisruptionBudget, "PodDisruptionBudget"),
}
RESOURCES = (
    "apps/v1/deployments",
    "v1/services",
    "autoscaling/v2/horizontalpodautoscalers",
    "policy/v1/poddisruptionbudgets",
    "v1/events",
)
# The schema versions every object is checked against.
K8S_VERSIONS = ("1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0")


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    # (HTTP method, plural) -> (status, reason, message): answered instead of serving.
    refusals: dict[tuple[str, str], tuple[int, str, str]] = attrs.field(factory=dict)

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        res = request.resource
        if res is not None and res.plural is not None:
            refusal = self.refusals.get((str(request.method.value), str(res.plural)))
            if refusal is not None:
                status, reason, message = refusal
                raise kmock.KubernetesError(status=status, reason=reason, message=message)
            data = request.data if isinstance(request.data, dict) else None
            if data is not None and request.subresource is None:
                meta = data.setdefault("metadata", {})
                if request.method == kmock.method.POST:
                    meta.setdefault("uid", str(uuid.uuid4()))
                    meta.setdefault("generation", 1)
                    meta.setdefault("creationTimestamp", datetime.now(UTC).isoformat())
                elif request.method == kmock.method.PATCH and "spec" in data:
                    key = (res, request.namespace, request.name)
                    if key in self.objects and not self.objects[key].deleted:
                        current = self.objects[key].raw
                        gen = current.get("metadata", {}).get("generation", 1)
                        changed = current.get("spec") != data["spec"]
                        meta["generation"] = gen + 1 if changed else gen
                        meta["uid"] = current.get("metadata", {}).get("uid")
        return await super()._handle(request)


def _data_name(request: Any) -> str | None:
    data = request.data if isinstance(request.data, dict) else {}
    name = data.get("metadata", {}).get("name")
    return str(name) if name else None


class Cluster:
    """The emulator on 127.0.0.1:<random port>; `api` is an official client for the
    test's own reads and its controller writes."""

    def __init__(self, emulator: Emulator, url: str) -> None:
        self.emulator = emulator
        self.url = url
        cfg = client.Configuration()
        cfg.host = url
        self.api = client.ApiClient(cfg)
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.autoscaling = client.AutoscalingV2Api(self.api)
        self.policy = client.PolicyV1Api(self.api)

    def sent_requests(self) -> list[Any]:
        """Every Kubernetes API request Pier made (the test's own are left out)."""
        return [
            r
            for r in list(self.emulator)
            if r.headers.get("User-Agent") == USER_AGENT and r.resource is not None
        ]

    def sent(self, method: str, plural: str, name: str | None = None) -> list[Any]:
        """Requests Pier sent that create or change objects (not the test's own)."""
        return [
            r
            for r in list(self.emulator)
            if r.headers.get("User-Agent") == USER_AGENT
            and r.method.value == method
            and r.resource is not None
            and r.resource.plural == plural
            and r.subresource is None
            and (name is None or name in (r.name, _data_name(r)))
        ]

    def sent_objects(self) -> list[dict[str, Any]]:
        return [
            r.data
            for plural in KINDS
            for method in ("POST", "PATCH")
            for r in self.sent(method, plural)
        ]

    # The controller's part.
    def write_deployment_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.apps.patch_namespaced_deployment_status(name, namespace, {"status": status})

    def warn(self, namespace: str, about: str, kind: str, reason: str, message: str) -> None:
        now = datetime.now(UTC)
        self.core.create_namespaced_event(
            namespace,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{about}.{uuid.uuid4().hex[:10]}", "namespace": namespace},
                "involvedObject": {"kind": kind, "name": about, "namespace": namespace},
                "reason": reason,
                "message": message,
                "type": "Warning",
                "lastTimestamp": now.isoformat(),
            },
        )


def assert_valid(obj: dict[str, Any]) -> None:
    """Valid for every Kubernetes version we support, strictly (no unknown field), and for
    the client's own models (which reject unknown fields too)."""
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)
    model = client_model(obj)
    assert model is not None, f"no client model for {obj['apiVersion']} {obj['kind']}"
    model.model_validate(obj)


def client_model(obj: dict[str, Any]) -> Any:
    """The official client's model of an object, e.g. apps/v1 Deployment -> V1Deployment."""
    version = str(obj["apiVersion"]).rsplit("/", 1)[-1]
    return getattr(client, f"{version.capitalize()}{obj['kind']}", None)


@contextmanager
def emulated_cluster() -> Iterator[Cluster]:
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            async with Emulator() as emulator, kmock.Server(emulator) as server:
                for resource in RESOURCES:
                    emulator.resources[resource] = {}
                stop = asyncio.Event()
                box.update(
                    emulator=emulator,
                    url=str(server.url).rstrip("/"),
                    loop=asyncio.get_running_loop(),
                    stop=stop,
                )
                ready.set()
                await stop.wait()

        try:
            asyncio.run(main())
        except BaseException as e:
            box["error"] = e
            ready.set()

    thread = threading.Thread(target=run, name="kmock", daemon=True)
    thread.start()
    if not ready.wait(30) or "error" in box:
        raise RuntimeError(f"the Kubernetes emulator did not start: {box.get('error')!r}")
    cluster = Cluster(box["emulator"], box["url"])
    try:
        yield cluster
    finally:
        cluster.api.close()
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(timeout=15)
