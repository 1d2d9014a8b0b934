"""initial schema: models, versions, deployments and their revisions, users, tokens, audit."""

from __future__ import annotations

import sqlalchemy as sa

from control_plane.db.ddl import TIME, column, create_table, drop_table, text

revision = "0001"
down_revision = None

INDEXES = {
    "audit_events": {"action": False, "actor": False, "at": False, "model": False},
    "models": {"name": True},
    "users": {"username": True},
    "api_tokens": {"token_hash": True, "user_id": False},
    "deployment_revisions": {"model_id": False},
    "deployments": {"revision": False},
    "model_versions": {"model_id": False, "sha256": False},
}


def _owned_by(parent: str) -> tuple[sa.Column[int], sa.ForeignKeyConstraint]:
    key = f"{parent[:-1]}_id"
    return column(key, sa.Integer()), sa.ForeignKeyConstraint([key], [f"{parent}.id"])


def _identity() -> tuple[sa.Column[int], sa.PrimaryKeyConstraint]:
    return column("id", sa.Integer()), sa.PrimaryKeyConstraint("id")


def upgrade() -> None:
    create_table(
        "audit_events",
        *_identity(),
        column("at", TIME),
        column("actor", text(128)),
        column("action", text(64)),
        column("model", text(63), nullable=True),
        column("target", text(256)),
        column("before", sa.JSON(), nullable=True),
        column("after", sa.JSON(), nullable=True),
        column("reason", text(2000)),
        indexes=INDEXES["audit_events"],
    )
    create_table(
        "models",
        *_identity(),
        column("name", text(63)),
        column("description", text(2000)),
        column("created_at", TIME),
        column("created_by", text(128)),
        indexes=INDEXES["models"],
    )
    create_table(
        "users",
        *_identity(),
        column("username", text(64)),
        column("password_hash", text(256)),
        column("role", text(16)),
        column("disabled", sa.Boolean()),
        column("created_at", TIME),
        indexes=INDEXES["users"],
    )
    create_table(
        "api_tokens",
        *_identity(),
        *_owned_by("users"),
        column("name", text(64)),
        column("prefix", text(16)),
        column("token_hash", text(64)),
        column("role", text(16)),
        column("created_at", TIME),
        column("expires_at", TIME, nullable=True),
        column("revoked_at", TIME, nullable=True),
        indexes=INDEXES["api_tokens"],
    )
    create_table(
        "deployment_revisions",
        *_identity(),
        *_owned_by("models"),
        column("weights", sa.JSON()),
        column("created_at", TIME),
        column("created_by", text(128)),
        column("reason", text(2000)),
        indexes=INDEXES["deployment_revisions"],
    )
    create_table(
        "deployments",
        *_owned_by("models"),
        sa.PrimaryKeyConstraint("model_id"),
        column("weights", sa.JSON()),
        column("revision", sa.Integer()),
        column("updated_at", TIME),
        column("updated_by", text(128)),
        indexes=INDEXES["deployments"],
    )
    create_table(
        "model_versions",
        *_identity(),
        *_owned_by("models"),
        column("label", text(63)),
        column("seq", sa.Integer()),
        column("sha256", text(64)),
        column("size", sa.Integer()),
        column("format", text(32)),
        column("framework", text(32)),
        column("inputs", sa.JSON()),
        column("outputs", sa.JSON()),
        column("resources", sa.JSON()),
        column("metrics", sa.JSON()),
        column("description", text(2000)),
        column("created_at", TIME),
        column("created_by", text(128)),
        sa.UniqueConstraint("model_id", "label", name="uq_version_label"),
        sa.UniqueConstraint("model_id", "seq", name="uq_version_seq"),
        indexes=INDEXES["model_versions"],
    )


def downgrade() -> None:
    for table, indexed in reversed(INDEXES.items()):
        drop_table(table, indexed)
