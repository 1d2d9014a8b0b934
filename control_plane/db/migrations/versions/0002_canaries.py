"""canaries: progressive rollouts kept in SQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "canaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("baseline", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("canary", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_reason", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("canaries", schema=None) as batch_op:
        batch_op.create_index("ix_canaries_model_id", ["model_id"], unique=False)
        batch_op.create_index("ix_canaries_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("canaries", schema=None) as batch_op:
        batch_op.drop_index("ix_canaries_status")
        batch_op.drop_index("ix_canaries_model_id")
    op.drop_table("canaries")
