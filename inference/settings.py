"""Settings of an inference replica: read once at boot, then passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class InferenceSettings(BaseSettings):
    """Every field is an environment variable prefixed with ``PIER_INFERENCE_``."""

    model_config = SettingsConfigDict(env_prefix="PIER_INFERENCE_", extra="ignore")

    host: str = Field(
        default="127.0.0.1",
        description="Interface to bind. Loopback by default: expose it deliberately.",
    )
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port to serve on.")
    control_plane_url: str = Field(
        default="",
        description=(
            "Base URL of the control plane, e.g. http://127.0.0.1:3000. Empty means "
            "standalone: serve the routing table and artifacts the cache dir holds."
        ),
    )
    token: str = Field(
        default="",
        description="Bearer token (role viewer or higher) sent on every call to the control plane.",
    )
    cache_dir: Path = Field(
        default=Path(".pier/inference-cache"),
        description=(
            "Where artifacts (artifacts/<sha256>) and the last applied routing.json are "
            "kept, so a restarted replica serves before the control plane is back."
        ),
    )
    poll_interval_s: float = Field(
        default=0.5, gt=0, description="Seconds between two polls of the routing table."
    )
    redis_url: str = Field(
        default="",
        description=(
            "Redis to subscribe to for routing changes, so they land at once instead of at "
            "the next poll. Empty: polling alone. Redis being down only slows changes down."
        ),
    )
    routing_channel: str = Field(
        default="pier:routing", description="Redis pub/sub channel announcing routing changes."
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description="Largest request body accepted; larger ones get 413 before being read.",
    )
    max_rows_per_request: int = Field(
        default=4096, gt=0, description="Largest batch (first dimension) one request may send."
    )
    replica_url: str = Field(
        default="",
        description="URL reported to the control plane; empty means http://<host>:<port>.",
    )
    torch_threads: int = Field(
        default=1, ge=1, description="torch intra-op threads (torch.set_num_threads)."
    )

    @field_validator("control_plane_url", "replica_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def advertised_url(self) -> str:
        """The URL the control plane should use to reach this replica."""
        return self.replica_url or f"http://{self.host}:{self.port}"

    @property
    def standalone(self) -> bool:
        return not self.control_plane_url
