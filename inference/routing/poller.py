"""Keeps the served routing table in step with the control plane (docs/contract.md): a new
table replaces the old in one assignment once every version it names is fetched, verified,
loaded and warm; on any failure the old one keeps serving and the error is reported."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
from pathlib import Path

import httpx
from pydantic import ValidationError

from inference.errors import ArtifactError, ControlPlaneError, InferenceError
from inference.models.cache import ArtifactStore
from inference.models.loaded import LoadedVersion, ModelRegistry, ServingModel, Snapshot
from inference.routing.table import expand
from inference.schemas import RoutingTable, VersionSpec
from inference.settings import InferenceSettings

log = logging.getLogger(__name__)

_ERROR_HEADER_LIMIT = 300


def _header_safe(text: str) -> str:
    """A single printable ASCII line short enough for an HTTP header."""
    flat = " ".join(text.split())
    return flat.encode("ascii", "replace").decode()[:_ERROR_HEADER_LIMIT]


def only_models(table: RoutingTable, names: frozenset[str]) -> RoutingTable:
    """The part of the table this replica serves (all of it when `names` is empty)."""
    if not names:
        return table
    return table.model_copy(update={"models": [m for m in table.models if m.name in names]})


def settle_heap() -> None:
    """Take what the loaded models hold out of the garbage collector's way, after versions
    are loaded or unloaded: collect once (unfrozen, so unloaded versions' objects can go),
    then freeze what remains, so later collections skip the models' many objects."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class RoutingPoller:
    def __init__(
        self,
        settings: InferenceSettings,
        store: ArtifactStore,
        registry: ModelRegistry,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._registry = registry
        self._client = client
        self._lock = asyncio.Lock()
        self._etag: str | None = None
        self.replica_id = f"{socket.gethostname()}:{os.getpid()}"
        self.polls = 0
        self.last_poll_error = ""
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Poll now rather than at the end of the interval (a routing change was announced)."""
        self._wake.set()

    def use_client(self, client: httpx.AsyncClient) -> None:
        """The client to the control plane (base_url set), opened by the app's lifespan."""
        self._client = client

    @property
    def revision(self) -> int:
        active = self._registry.active
        return 0 if active is None else active.table.revision

    async def apply(self, table: RoutingTable) -> None:
        """Fetch, load and warm every listed version, then swap; unload the rest.

        The same path serves HTTP polls, the cache at startup and tests.
        """
        async with self._lock:
            try:
                await self._apply_locked(table)
            except InferenceError as e:
                self._registry.last_error = e.message
                raise
            self._registry.last_error = ""

    async def _apply_locked(self, table: RoutingTable) -> None:
        models: dict[str, ServingModel] = {}
        changed = False  # a version loaded or unloaded
        for route in table.models:
            listed = {v.version for v in route.versions}
            unknown = sorted(set(route.weights) - listed)
            if unknown:
                raise ArtifactError(
                    f"model {route.name}: weights name versions not listed: {unknown}"
                )
            routed = {v for v, w in route.weights.items() if w > 0}
            slotted = {v for v, n in route.slots if n > 0}
            if route.slots and (slotted != routed or any(n < 0 for _, n in route.slots)):
                raise ArtifactError(
                    f"model {route.name}: the slot table names {sorted(slotted)}, "
                    f"the weights {sorted(routed)}"
                )
            unknown = sorted(set(route.shadow) - listed)
            if unknown:
                raise ArtifactError(
                    f"model {route.name}: shadow names versions not listed: {unknown}"
                )
            versions: dict[str, LoadedVersion] = {}
            for spec in route.versions:
                loaded = self._registry.get_loaded(route.name, spec.version)
                if loaded is None or loaded.spec.sha256 != spec.sha256:
                    path = await self._artifact(spec)
                    loaded = await self._registry.load(route.name, spec, path)
                    changed = True
                versions[spec.version] = loaded
            models[route.name] = ServingModel(
                route=route, versions=versions, slots=expand(route.slots)
            )
        self._registry.activate(Snapshot(table=table, models=models))
        self._store.save_routing(table)
        dropped = self._registry.unload_except(
            (name, version) for name, model in models.items() for version in model.versions
        )
        if dropped:
            log.info("unloaded %s", ", ".join(dropped))
        if changed or dropped:
            settle_heap()
        log.info("applied routing revision %d", table.revision)

    async def _artifact(self, spec: VersionSpec) -> Path:
        if self._store.has(spec):
            return self._store.path_for(spec.sha256)
        if self._client is None:
            raise ArtifactError(
                f"artifact {spec.sha256[:12]} is not in {self._store.artifacts} and there is "
                "no control plane to fetch it from"
            )
        return await self._store.fetch(self._client, spec)

    def _poll_headers(self) -> dict[str, str]:
        headers = {
            "X-Pier-Replica-Id": self.replica_id,
            "X-Pier-Replica-Url": self._settings.advertised_url,
            "X-Pier-Replica-Revision": str(self.revision),
            "X-Pier-Replica-Loaded": ",".join(self._registry.loaded_names()),
            "X-Pier-Replica-Device": str(self._registry.device),
        }
        if self._settings.token:
            headers["Authorization"] = f"Bearer {self._settings.token}"
        if self._etag:
            headers["If-None-Match"] = self._etag
        if self._registry.last_error:
            headers["X-Pier-Replica-Error"] = _header_safe(self._registry.last_error)
        return headers

    async def poll_once(self) -> bool:
        """One poll; True when a new table was applied."""
        if self._client is None:
            raise ControlPlaneError("no control plane configured (standalone mode)")
        self.polls += 1
        try:
            response = await self._client.get("/api/v1/routing", headers=self._poll_headers())
        except httpx.HTTPError as e:
            raise ControlPlaneError(f"polling the routing table: {e!r}") from e
        if response.status_code == 304:
            return False
        if response.status_code != 200:
            raise ControlPlaneError(
                f"polling the routing table: the control plane answered "
                f"{response.status_code}, expected 200 or 304"
            )
        try:
            table = RoutingTable.model_validate_json(response.content)
        except ValidationError as e:
            raise ControlPlaneError(f"the routing table does not follow the contract: {e}") from e
        await self.apply(only_models(table, self._settings.model_filter))
        self._etag = response.headers.get("ETag")
        return True

    async def restore_from_cache(self) -> bool:
        """Serve the last applied table and artifacts before the control plane answers."""
        try:
            table = self._store.load_routing()
            if table is None:
                return False
            await self.apply(table)
        except InferenceError as e:
            self._registry.last_error = e.message
            log.warning("could not serve the cached routing table: %s", e.message)
            return False
        return True

    async def run(self) -> None:
        """Restore from the cache, then poll until cancelled; errors never stop the loop."""
        await self.restore_from_cache()
        if self._client is None:
            return
        while True:
            try:
                await self.poll_once()
                self.last_poll_error = ""
            except InferenceError as e:
                self.last_poll_error = e.message
                log.warning("routing poll failed, keeping revision %d: %s", self.revision, e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_s)
            self._wake.clear()
