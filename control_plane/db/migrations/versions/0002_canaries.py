"""canaries: progressive rollouts kept in SQL, so one survives a restart."""

from __future__ import annotations

import sqlalchemy as sa

from control_plane.db.ddl import TIME, column, create_table, drop_table, text

revision = "0002"
down_revision = "0001"

INDEXES = {"model_id": False, "status": False}


def upgrade() -> None:
    create_table(
        "canaries",
        column("id", sa.Integer()),
        column("model_id", sa.Integer()),
        column("baseline", text(63)),
        column("canary", text(63)),
        column("steps", sa.JSON()),
        column("interval_s", sa.Float()),
        column("gates", sa.JSON()),
        column("status", text(16)),
        column("step", sa.Integer()),
        column("step_started_at", TIME),
        column("last_reason", text(4000)),
        column("created_at", TIME),
        column("created_by", text(128)),
        column("updated_at", TIME),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"]),
        sa.PrimaryKeyConstraint("id"),
        indexes=INDEXES,
    )


def downgrade() -> None:
    drop_table("canaries", INDEXES)
