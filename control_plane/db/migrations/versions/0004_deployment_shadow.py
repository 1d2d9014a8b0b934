"""deployment shadow: versions that receive a mirrored share of a model's traffic

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: existing deployments and revisions had no shadow versions.
    for table in ("deployments", "deployment_revisions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("shadow", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("deployment_revisions", "deployments"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("shadow")
