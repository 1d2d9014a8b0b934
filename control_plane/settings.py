"""PierSettings: every setting of the control plane, read once from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
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
