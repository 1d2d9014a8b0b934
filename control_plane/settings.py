"""PierSettings: every setting of the control plane, read once from the environment."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class PierSettings(BaseSettings):
    """Settings of the control plane. Every field is `PIER_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="PIER_", extra="ignore")

    home: Path = Field(
        default=Path(".pier"),
        description="State directory: SQLite file, artifacts, credentials.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at <home>/pier.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    artifacts_dir: Path | None = Field(
        default=None, description="Artifact store; default <home>/artifacts."
    )
    host: str = Field(default="127.0.0.1", description="Control plane bind address.")
    port: int = Field(default=3000, description="Control plane port (dashboard and /api/v1).")
    public_url: str = Field(
        default="", description="URL others use to reach the control plane; default from host/port."
    )
    inference_host: str = Field(default="127.0.0.1", description="Local inference bind address.")
    inference_port: int = Field(default=8080, description="Local inference port.")
    redis_url: str = Field(default="", description="Redis URL; empty runs without Redis.")
    trusted_proxies: str = Field(
        default="",
        description="Reverse proxies (an ingress) whose X-Forwarded-For names the client: "
        "addresses or networks, comma-separated, e.g. 10.0.0.0/8. Empty: the peer is the client.",
    )
    orchestrator: Literal["local", "kubernetes"] = Field(
        default="local", description="Who runs the inference replicas."
    )
    max_artifact_bytes: int = Field(
        default=2 * 1024**3, description="Largest artifact accepted at upload, in bytes."
    )
    check_timeout_s: float = Field(
        default=120.0, description="Time allowed to load and run an artifact once at push."
    )
    check_python: str = Field(
        default="",
        description="Python interpreter that runs `inference.models.check`; default: this one.",
    )
    replica_stale_s: float = Field(
        default=10.0, description="A replica not heard from for this long is shown as lost."
    )
    prometheus_url: str = Field(
        default="",
        description="Prometheus that scrapes the replicas, e.g. http://prometheus:9090; the "
        "charts then come from PromQL. Empty: the control plane scrapes the replicas itself.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        proxy_networks(value)
        return value

    @property
    def trusted_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return proxy_networks(self.trusted_proxies)

    @model_validator(mode="after")
    def _derive(self) -> PierSettings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'pier.db'}"
        if self.artifacts_dir is None:
            self.artifacts_dir = self.home / "artifacts"
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        return self

    @property
    def artifact_root(self) -> Path:
        assert self.artifacts_dir is not None
        return self.artifacts_dir

    @property
    def credentials_path(self) -> Path:
        return self.home / "credentials"

    @property
    def inference_url(self) -> str:
        return f"http://{self.inference_host}:{self.inference_port}"


def proxy_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """`10.0.0.0/8, 192.168.1.7` as networks; a bad entry is named with what was expected."""
    networks = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"expected IP addresses or networks separated by commas (e.g. 10.0.0.0/8), "
                f"got {entry!r}"
            ) from None
    return networks
