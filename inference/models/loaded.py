"""Loaded model versions (name@version -> model) and the routing snapshot being served."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from inference.errors import ArtifactError
from inference.metrics.collectors import Metrics
from inference.models.loader import Device, LoadedModel, load_model, warm
from inference.schemas import ModelRoute, RoutingTable, VersionSpec


@dataclass(frozen=True)
class LoadedVersion:
    model: str
    spec: VersionSpec
    runner: LoadedModel
    # Read on every request: whether an input takes images, an output answers labels.
    images: bool = field(init=False)
    labels: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", any(s.preprocess for s in self.spec.inputs))
        object.__setattr__(self, "labels", any(s.postprocess for s in self.spec.outputs))

    @property
    def version(self) -> str:
        return self.spec.version


@dataclass(frozen=True)
class ServingModel:
    route: ModelRoute
    versions: dict[str, LoadedVersion]
    # The route's slot table expanded, one version per slot (empty: rendezvous hashing).
    slots: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """One applied routing table whose every version is loaded and warm. Immutable:
    requests read it once, so a swap never shows them half a table."""

    table: RoutingTable
    models: dict[str, ServingModel]


class ModelRegistry:
    def __init__(self, metrics: Metrics, device: Device) -> None:
        self._metrics = metrics
        # Where every version of this replica is loaded and run (settings.device).
        self.device = device
        self._loaded: dict[tuple[str, str], LoadedVersion] = {}
        self.active: Snapshot | None = None
        self.last_error: str = ""

    @property
    def ready(self) -> bool:
        return self.active is not None

    def loaded_names(self) -> list[str]:
        return sorted(f"{name}@{version}" for name, version in self._loaded)

    def get_loaded(self, model: str, version: str) -> LoadedVersion | None:
        return self._loaded.get((model, version))

    async def load(self, model: str, spec: VersionSpec, path: Path) -> LoadedVersion:
        """Load and warm a version in a worker thread (no-op when already loaded)."""
        current = self._loaded.get((model, spec.version))
        if current is not None and current.spec.sha256 == spec.sha256:
            return current
        if current is not None:
            raise ArtifactError(
                f"{model}@{spec.version} is loaded with sha256 {current.spec.sha256[:12]}, "
                f"the table names {spec.sha256[:12]}; versions are immutable"
            )

        def load_and_warm() -> LoadedModel:
            runner = load_model(path, spec.format, spec.inputs, spec.outputs, self.device)
            warm(runner, rows=1)
            return runner

        try:
            runner = await anyio.to_thread.run_sync(load_and_warm)
        except ArtifactError:
            raise
        except Exception as e:
            raise ArtifactError(f"{model}@{spec.version}: {getattr(e, 'message', e)}") from e
        loaded = LoadedVersion(model=model, spec=spec, runner=runner)
        self._loaded[(model, spec.version)] = loaded
        self._metrics.set_loaded(model, spec.version, True)
        return loaded

    def activate(self, snapshot: Snapshot) -> None:
        """Swap the served table in one assignment."""
        self.active = snapshot

    def unload_except(self, keep: Iterable[tuple[str, str]]) -> list[str]:
        """Drop versions not in ``keep``; requests holding one finish with it."""
        kept = set(keep)
        dropped = [key for key in self._loaded if key not in kept]
        for key in dropped:
            del self._loaded[key]
            self._metrics.set_loaded(*key, False)
        return [f"{name}@{version}" for name, version in dropped]
