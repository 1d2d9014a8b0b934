"""SQLModel tables. They never leave the service layer: the API speaks `schemas`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def _ts(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kwargs)


class Model(SQLModel, table=True):
    __tablename__ = "models"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=63)
    description: str = Field(default="", max_length=2000)
    created_at: datetime = _ts()
    created_by: str = Field(max_length=128)
    thresholds: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ModelVersion(SQLModel, table=True):
    """One immutable, content-addressed version of a model."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "label", name="uq_version_label"),
        UniqueConstraint("model_id", "seq", name="uq_version_seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="models.id", index=True)
    label: str = Field(max_length=63)
    seq: int
    sha256: str = Field(index=True, min_length=64, max_length=64)
    size: int
    format: str = Field(max_length=32)
    framework: str = Field(default="pytorch", max_length=32)
    inputs: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    outputs: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    resources: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # How replicas batch it (control_plane.schemas.Batching); None: the replicas' settings.
    batching: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    description: str = Field(default="", max_length=2000)
    created_at: datetime = _ts()
    created_by: str = Field(max_length=128)


class Deployment(SQLModel, table=True):
    """The desired deployment of one model: which versions get which share of traffic."""

    __tablename__ = "deployments"

    model_id: int = Field(foreign_key="models.id", primary_key=True)
    weights: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))
    revision: int = Field(index=True)
    updated_at: datetime = _ts()
    updated_by: str = Field(max_length=128)
    # schemas.ScalingSettings as JSON; None: the platform's defaults.
    scaling: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Shadow versions: label -> percent of requests mirrored to it; None: none.
    shadow: dict[str, int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Sticky routing's slot table, run-length encoded (experiments/slots.py); None: not yet
    # built (the fresh table of `weights` stands in).
    slots: list[list[Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class DeploymentRevision(SQLModel, table=True):
    """Every desired state a model's deployment has had; its id is the routing revision."""

    __tablename__ = "deployment_revisions"

    id: int | None = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="models.id", index=True)
    weights: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))
    shadow: dict[str, int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    created_by: str = Field(max_length=128)
    reason: str = Field(default="", max_length=2000)
    action: str | None = Field(default=None, max_length=64)  # as audited; NULL: older rows


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    password_hash: str = Field(max_length=256)
    role: str = Field(max_length=16)
    disabled: bool = False
    created_at: datetime = _ts()


class ApiToken(SQLModel, table=True):
    """An API token. Only the sha256 of its secret is stored; the secret is shown once."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    role: str = Field(max_length=16)
    created_at: datetime = _ts()
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Who changed what, when, from what to what, and why."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor: str = Field(max_length=128, index=True)
    action: str = Field(max_length=64, index=True)
    model: str | None = Field(default=None, max_length=63, index=True)
    target: str = Field(default="", max_length=256)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reason: str = Field(default="", max_length=2000)


class Canary(SQLModel, table=True):
    """A progressive canary: its plan and where it stands, so it survives a restart."""

    __tablename__ = "canaries"

    id: int | None = Field(default=None, primary_key=True)
    model_id: int = Field(foreign_key="models.id", index=True)
    baseline: str = Field(max_length=63)
    canary: str = Field(max_length=63)
    steps: list[int] = Field(sa_column=Column(JSON, nullable=False))
    interval_s: float
    gates: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=16, index=True)
    step: int = 0
    step_started_at: datetime = _ts()
    last_reason: str = Field(default="", max_length=4000)
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    created_by: str = Field(max_length=128)
    updated_at: datetime = _ts()
