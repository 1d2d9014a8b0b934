"""The replica's local, content-addressed cache of artifacts and of the last routing table."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import anyio
import httpx
from pydantic import ValidationError

from inference.errors import ArtifactError, ControlPlaneError
from inference.schemas import RoutingTable, VersionSpec

_CHUNK = 1024 * 1024


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """``<cache_dir>/artifacts/<sha256>`` files plus ``<cache_dir>/routing.json``."""

    def __init__(self, cache_dir: Path) -> None:
        self.root = cache_dir
        self.artifacts = cache_dir / "artifacts"

    def ensure_dirs(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.artifacts / sha256

    def has(self, spec: VersionSpec) -> bool:
        path = self.path_for(spec.sha256)
        return path.is_file() and path.stat().st_size == spec.size

    def put_file(self, source: Path) -> str:
        """Copy a local file into the cache; returns its sha256 (used by standalone setups)."""
        self.ensure_dirs()
        sha = sha256_of(source)
        target = self.path_for(sha)
        if not target.exists():
            tmp = self.artifacts / f".tmp-{sha}-{uuid.uuid4().hex}"
            tmp.write_bytes(source.read_bytes())
            os.replace(tmp, target)
        return sha

    async def fetch(self, client: httpx.AsyncClient, spec: VersionSpec) -> Path:
        """Stream ``GET /api/v1/artifacts/{sha256}`` to a temp file, verify, then rename."""
        self.ensure_dirs()
        target = self.path_for(spec.sha256)
        tmp = self.artifacts / f".tmp-{spec.sha256}-{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        received = 0
        try:
            async with client.stream("GET", f"/api/v1/artifacts/{spec.sha256}") as response:
                if response.status_code != 200:
                    raise ArtifactError(
                        f"fetching artifact {spec.sha256[:12]}: the control plane answered "
                        f"{response.status_code}, expected 200"
                    )
                with tmp.open("wb") as handle:
                    async for chunk in response.aiter_bytes(_CHUNK):
                        received += len(chunk)
                        if received > spec.size:
                            raise ArtifactError(
                                f"artifact {spec.sha256[:12]}: expected {spec.size} bytes, got more"
                            )
                        digest.update(chunk)
                        await anyio.to_thread.run_sync(handle.write, chunk)
            if digest.hexdigest() != spec.sha256:
                raise ArtifactError(
                    f"artifact {spec.sha256[:12]}: sha256 mismatch, expected {spec.sha256}, "
                    f"got {digest.hexdigest()} ({received} bytes); refused"
                )
            os.replace(tmp, target)
        except httpx.HTTPError as e:
            raise ControlPlaneError(f"fetching artifact {spec.sha256[:12]}: {e}") from e
        finally:
            tmp.unlink(missing_ok=True)
        return target

    @property
    def routing_path(self) -> Path:
        return self.root / "routing.json"

    def save_routing(self, table: RoutingTable) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".routing-{uuid.uuid4().hex}.json"
        tmp.write_text(table.model_dump_json(indent=2))
        os.replace(tmp, self.routing_path)

    def load_routing(self) -> RoutingTable | None:
        """The last applied table, or None when there is none or it is unreadable."""
        if not self.routing_path.is_file():
            return None
        try:
            return RoutingTable.model_validate_json(self.routing_path.read_bytes())
        except ValidationError as e:
            raise ArtifactError(f"the cached {self.routing_path} is invalid: {e}") from e
