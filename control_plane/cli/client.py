"""A typed client of the REST API, for the CLI and for CI/CD scripts."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from control_plane.pier_yaml import Manifest
from control_plane.schemas import (
    ArtifactPublic,
    AuditEventPublic,
    DeploymentPublic,
    ModelPublic,
    PushResult,
    ScalingPublic,
    StatusPublic,
    ThresholdsPublic,
    VersionPublic,
)

UPLOAD_CHUNK = 256 * 1024


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class Unreachable(Exception):
    pass


@dataclass(frozen=True)
class ClientConfig:
    url: str
    token: str


def resolve_config(
    url: str | None, token: str | None, home: Path, environ: dict[str, str]
) -> ClientConfig:
    """Flags first, then PIER_URL / PIER_TOKEN, then <home>/credentials."""
    creds: dict[str, Any] = {}
    path = home / "credentials"
    if path.is_file():
        try:
            creds = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            creds = {}
    return ClientConfig(
        url=(url or environ.get("PIER_URL") or creds.get("url") or "http://127.0.0.1:3000").rstrip(
            "/"
        ),
        token=token or environ.get("PIER_TOKEN") or creds.get("token") or "",
    )


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:500] or resp.reason_phrase
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])
        detail = body.get("detail")
        if isinstance(detail, list):
            return "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}" for d in detail
            )
        if detail:
            return str(detail)
    return str(body)[:500]


class PierClient:
    def __init__(self, config: ClientConfig, timeout: float = 180.0) -> None:
        self.config = config
        headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
        self._http = httpx.Client(base_url=config.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PierClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, "/api/v1" + path, **kwargs)
        except httpx.TransportError as e:
            raise Unreachable(
                f"cannot reach the control plane at {self.config.url} ({e.__class__.__name__}); "
                "is `make run` up?"
            ) from e
        if resp.status_code >= 400:
            raise ApiError(resp.status_code, _message(resp))
        return resp

    def models(self) -> list[ModelPublic]:
        return [ModelPublic.model_validate(m) for m in self._call("GET", "/models").json()]

    def versions(self, model: str, limit: int = 50) -> list[VersionPublic]:
        resp = self._call("GET", f"/models/{model}/versions", params={"limit": limit})
        return [VersionPublic.model_validate(v) for v in resp.json()]

    def upload(
        self, path: Path, on_progress: Callable[[int], None] | None = None
    ) -> ArtifactPublic:
        size = path.stat().st_size

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as f:
                while chunk := f.read(UPLOAD_CHUNK):
                    if on_progress:
                        on_progress(len(chunk))
                    yield chunk

        resp = self._call(
            "POST",
            "/artifacts",
            content=chunks(),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        return ArtifactPublic.model_validate(resp.json())

    def push(
        self, manifest: Manifest, on_progress: Callable[[int], None] | None = None
    ) -> PushResult:
        artifact = self.upload(manifest.artifact_path, on_progress)
        resp = self._call(
            "POST",
            f"/models/{manifest.model.name}/versions",
            json=manifest.version_create(artifact.sha256),
        )
        return PushResult.model_validate(resp.json())

    def deploy(self, model: str, version: str, reason: str = "") -> DeploymentPublic:
        resp = self._call(
            "POST", f"/models/{model}/deploy", json={"version": version, "reason": reason}
        )
        return DeploymentPublic.model_validate(resp.json())

    def split(self, model: str, weights: dict[str, int], reason: str = "") -> DeploymentPublic:
        resp = self._call(
            "PUT", f"/models/{model}/deployment", json={"weights": weights, "reason": reason}
        )
        return DeploymentPublic.model_validate(resp.json())

    def set_shadow(self, model: str, shadow: dict[str, int], reason: str = "") -> DeploymentPublic:
        resp = self._call(
            "PUT", f"/models/{model}/shadow", json={"shadow": shadow, "reason": reason}
        )
        return DeploymentPublic.model_validate(resp.json())

    def deployment(self, model: str) -> DeploymentPublic:
        return DeploymentPublic.model_validate(
            self._call("GET", f"/models/{model}/deployment").json()
        )

    def rollback(self, model: str, reason: str = "") -> DeploymentPublic:
        resp = self._call("POST", f"/models/{model}/rollback", json={"reason": reason})
        return DeploymentPublic.model_validate(resp.json())

    def start_canary(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self._call("POST", f"/models/{model}/canaries", json=body)
        return dict(resp.json())

    def canaries(self, model: str, limit: int = 1) -> list[dict[str, Any]]:
        resp = self._call("GET", f"/models/{model}/canaries", params={"limit": limit})
        return list(resp.json())

    def control_canary(self, model: str, action: str, reason: str = "") -> dict[str, Any]:
        resp = self._call(
            "POST", f"/models/{model}/canaries/current/{action}", json={"reason": reason}
        )
        return dict(resp.json())

    def scaling(self, model: str) -> ScalingPublic:
        return ScalingPublic.model_validate(self._call("GET", f"/models/{model}/scaling").json())

    def set_scaling(self, model: str, scaling: dict[str, Any], reason: str = "") -> ScalingPublic:
        body = {"scaling": scaling, "reason": reason}
        resp = self._call("PUT", f"/models/{model}/scaling", json=body)
        return ScalingPublic.model_validate(resp.json())

    def thresholds(self, model: str) -> ThresholdsPublic:
        resp = self._call("GET", f"/models/{model}/thresholds")
        return ThresholdsPublic.model_validate(resp.json())

    def set_thresholds(
        self, model: str, thresholds: dict[str, Any], reason: str = ""
    ) -> ThresholdsPublic:
        body = {"thresholds": thresholds, "reason": reason}
        resp = self._call("PUT", f"/models/{model}/thresholds", json=body)
        return ThresholdsPublic.model_validate(resp.json())

    def status(self) -> StatusPublic:
        return StatusPublic.model_validate(self._call("GET", "/status").json())

    def audit(self, model: str | None = None, limit: int = 50) -> list[AuditEventPublic]:
        params: dict[str, Any] = {"limit": limit}
        if model:
            params["model"] = model
        resp = self._call("GET", "/audit", params=params)
        return [AuditEventPublic.model_validate(e) for e in resp.json()]


def default_environ() -> dict[str, str]:
    return dict(os.environ)
